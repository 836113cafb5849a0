import { gunzipSync, inflateSync } from 'node:zlib';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { RequestError } from './domain/errors';
import { jsonSyntaxError } from './domain/json';

/** HTTP plumbing shared by the API functions (API Gateway REST proxy integration). */

export function header(event: { headers?: Record<string, string | undefined> | null }, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) if (key.toLowerCase() === wanted) return value ?? undefined;
  return undefined;
}

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** A refused request: `{ success: false, message }`, with a Basic challenge on 401. */
export function errorResponse(error: RequestError, realm: string, headers: Record<string, string> = {}): APIGatewayProxyResult {
  const challenge: Record<string, string> = error.status === 401 ? { 'WWW-Authenticate': `Basic realm="${realm}"` } : {};
  return jsonResponse(error.status, { success: false, message: error.message }, { ...headers, ...challenge });
}

/**
 * The user name of an `Authorization: Basic` header (Segment sends the write key as the user name with an
 * empty password), undefined when there is no header. A header that is present but not Basic is an error.
 */
export function basicAuthUser(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization.trim() === '') return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(authorization);
  if (!match) throw new RequestError(401, 'Authorization must be HTTP Basic with the key as the user name and an empty password');
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? decoded : decoded.slice(0, colon);
}

/**
 * Refuses the request (415) unless its Content-Type's media type is one of `accepted`; a request without a
 * Content-Type is read as JSON. `hint` says what to send instead: `Unsupported Content-Type "…": send <hint>`.
 */
export function checkContentType(event: Pick<APIGatewayProxyEvent, 'headers'>, accepted: ReadonlySet<string>, hint: string): void {
  const contentType = header(event, 'content-type');
  if (contentType === undefined) return;
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  if (!accepted.has(mediaType)) throw new RequestError(415, `Unsupported Content-Type "${mediaType}": send ${hint}`);
}

/** A path parameter, percent-decoded (API Gateway REST APIs pass them still encoded); used as it is when not valid encoding. */
export function pathParameter(event: Pick<APIGatewayProxyEvent, 'pathParameters'>, name: string): string {
  const raw = event.pathParameters?.[name];
  if (!raw) throw new RequestError(400, `Missing path parameter ${name}`);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The request body as text. API Gateway hands bodies over base64-encoded (the API declares every media type
 * binary, so nothing is mangled on the way); gzip and deflate bodies are decompressed with the output bounded,
 * so a small compressed body cannot expand without limit.
 */
export function readBody(event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded' | 'headers'>, maxBytes: number): string {
  if (event.body === null || event.body === undefined || event.body === '') throw new RequestError(400, 'Request body is empty');
  let bytes: Buffer = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  const encoding = (header(event, 'content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding === 'gzip' || encoding === 'deflate') {
    try {
      bytes = (encoding === 'gzip' ? gunzipSync : inflateSync)(bytes, { maxOutputLength: maxBytes + 1 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes);
      throw new RequestError(400, `Request body is not valid ${encoding} data`);
    }
  } else if (encoding !== 'identity') {
    throw new RequestError(415, `Unsupported Content-Encoding "${encoding}": send identity, gzip or deflate`);
  }
  if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new RequestError(400, 'Request body is not valid UTF-8');
  }
}

const tooLarge = (maxBytes: number) => new RequestError(413, `Request body is larger than ${maxBytes} bytes (${Math.round(maxBytes / 1024)} KB)`);

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RequestError(400, `Malformed JSON: ${jsonSyntaxError(error)}`);
  }
}

/** A handler of one method on one resource. */
export type Route<D> = (event: APIGatewayProxyEvent, deps: D) => Promise<APIGatewayProxyResult>;

/**
 * Calls the route of the request's resource and method (API Gateway resource paths): 404 for a resource the
 * function does not serve, 405 with `Allow` for a method the resource does not have.
 */
export function dispatch<D>(event: APIGatewayProxyEvent, routes: Record<string, Record<string, Route<D>>>, deps: D, realm: string): Promise<APIGatewayProxyResult> {
  const methods = routes[event.resource];
  if (!methods) throw new RequestError(404, `No route ${event.resource}`);
  const route = methods[event.httpMethod];
  if (route) return route(event, deps);
  const allowed = Object.keys(methods).join(', ');
  return Promise.resolve(errorResponse(new RequestError(405, `${event.httpMethod} is not allowed on ${event.resource}; use ${allowed}`), realm, { Allow: allowed }));
}
