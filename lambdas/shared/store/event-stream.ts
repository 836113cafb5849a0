import { KinesisClient, PutRecordsCommand, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { partitionKeyOf, StreamEvent } from '../domain/event-schema';
import { backoffMs, DEFAULT_RETRY, RetryPolicy, sleep } from './retry';

/** Where accepted events go. */
export interface EventStream {
  /** Writes every event durably, or reports the ones it could not write. */
  put(events: readonly StreamEvent[]): Promise<{ failed: StreamEvent[]; lastError?: string }>;
}

/** Kinesis PutRecords limits: 500 records and 5 MiB (data plus partition keys) per call. */
const MAX_RECORDS = 500;
const MAX_BYTES = 5 * 1024 * 1024;

/**
 * Kinesis, partitioned by person (`userId ?? anonymousId`) so one person's events stay in order on one shard.
 * PutRecords can succeed for some entries and fail for others (throttling, internal errors): only the failed
 * entries are retried, with backoff.
 */
export class KinesisEventStream implements EventStream {
  constructor(
    private readonly client: KinesisClient,
    private readonly streamName: string,
    private readonly policy: RetryPolicy = { ...DEFAULT_RETRY, attempts: 4 },
  ) {}

  async put(events: readonly StreamEvent[]): Promise<{ failed: StreamEvent[]; lastError?: string }> {
    let pending = events.map((event) => ({ event, entry: toEntry(event) }));
    let lastError: string | undefined;
    for (let attempt = 0; attempt < this.policy.attempts && pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt, this.policy));
      const stillFailing: typeof pending = [];
      for (const chunk of chunks(pending)) {
        try {
          const out = await this.client.send(new PutRecordsCommand({ StreamName: this.streamName, Records: chunk.map((c) => c.entry) }));
          out.Records?.forEach((result, i) => {
            if (result.ErrorCode) {
              lastError = `${result.ErrorCode}: ${result.ErrorMessage ?? ''}`;
              stillFailing.push(chunk[i]);
            }
          });
        } catch (error) {
          lastError = `${(error as Error).name}: ${(error as Error).message}`;
          stillFailing.push(...chunk);
        }
      }
      pending = stillFailing;
    }
    return { failed: pending.map((p) => p.event), ...(lastError && pending.length > 0 ? { lastError } : {}) };
  }
}

function toEntry(event: StreamEvent): PutRecordsRequestEntry {
  return { PartitionKey: partitionKeyOf(event), Data: Buffer.from(JSON.stringify(event)) };
}

function* chunks<T extends { entry: PutRecordsRequestEntry }>(items: T[]): Generator<T[]> {
  let chunk: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = (item.entry.Data?.byteLength ?? 0) + Buffer.byteLength(item.entry.PartitionKey ?? '');
    if (chunk.length > 0 && (chunk.length === MAX_RECORDS || bytes + size > MAX_BYTES)) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}
