/**
 * Retries for the partial successes AWS batch APIs return (UnprocessedKeys, UnprocessedItems, failed
 * PutRecords and PutRecordBatch entries). Whole-call errors are retried by the SDK itself; these loops cover what the SDK
 * reports as success but did not do.
 */

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 50, maxDelayMs: 1000 };

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with full jitter (the AWS Architecture Blog's recommendation). */
export function backoffMs(attempt: number, policy: RetryPolicy): number {
  return Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
}

/** Calls `step` until it reports it is done, backing off between calls; throws once the attempts run out. */
export async function retryUntilDone(what: string, step: () => Promise<boolean>, policy: RetryPolicy = DEFAULT_RETRY): Promise<void> {
  for (let attempt = 0; attempt < policy.attempts; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt, policy));
    if (await step()) return;
  }
  throw new Error(`${what} still had unprocessed work after ${policy.attempts} attempts`);
}

/** What one call of a batch put API may carry. */
export interface BatchLimits {
  /** Entries per call. */
  maxEntries: number;
  /** Bytes per call (as `sizeOf` counts them). */
  maxBytes: number;
  /** Bytes per entry: a larger entry is never sent (it would fail the whole call) and is reported failed. */
  maxEntryBytes: number;
}

export interface PutAllOptions<T> {
  limits: BatchLimits;
  /** An entry's size, as the API counts it against `limits`. */
  sizeOf: (entry: T) => number;
  /** One call; returns each entry's error (`"<code>: <message>"`), or undefined for the entries written, in order. */
  send: (chunk: T[]) => Promise<ReadonlyArray<string | undefined>>;
  policy: RetryPolicy;
}

/**
 * Writes entries through a batch API that can succeed for some entries and fail for others (Kinesis PutRecords,
 * Firehose PutRecordBatch): in calls within `limits`, then again, with backoff, for only the entries that failed,
 * `policy.attempts` rounds in all. A call that throws fails all its entries. Returns the entries that still
 * failed, with the last error seen; never throws.
 */
export async function putAllWithRetry<T>(entries: readonly T[], options: PutAllOptions<T>): Promise<{ failed: T[]; lastError?: string }> {
  const { limits, sizeOf, send, policy } = options;
  const oversized = entries.filter((entry) => sizeOf(entry) > limits.maxEntryBytes);
  let pending = oversized.length > 0 ? entries.filter((entry) => sizeOf(entry) <= limits.maxEntryBytes) : [...entries];
  let lastError = oversized.length > 0 ? `EntryTooLarge: ${oversized.length} entries are over ${limits.maxEntryBytes} bytes` : undefined;
  for (let attempt = 0; attempt < policy.attempts && pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt, policy));
    const stillFailing: T[] = [];
    for (const chunk of chunksWithin(pending, limits, sizeOf)) {
      try {
        const errors = await send(chunk);
        chunk.forEach((entry, i) => {
          if (errors[i] === undefined) return;
          lastError = errors[i];
          stillFailing.push(entry);
        });
      } catch (error) {
        lastError = `${(error as Error).name}: ${(error as Error).message}`;
        stillFailing.push(...chunk);
      }
    }
    pending = stillFailing;
  }
  const failed = [...oversized, ...pending];
  return { failed, ...(lastError !== undefined && failed.length > 0 ? { lastError } : {}) };
}

/** Consecutive chunks of `entries`, each within the entry and byte limits of one call. */
export function* chunksWithin<T>(entries: readonly T[], limits: Pick<BatchLimits, 'maxEntries' | 'maxBytes'>, sizeOf: (entry: T) => number): Generator<T[]> {
  let chunk: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = sizeOf(entry);
    if (chunk.length > 0 && (chunk.length === limits.maxEntries || bytes + size > limits.maxBytes)) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(entry);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}
