/** A problem with a request as a whole: it is refused with `status` and `message` (never a 5xx). */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
