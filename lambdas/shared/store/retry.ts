/**
 * Retries for the partial successes AWS batch APIs return (UnprocessedKeys, UnprocessedItems, failed
 * PutRecords entries). Whole-call errors are retried by the SDK itself; these loops cover what the SDK
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
