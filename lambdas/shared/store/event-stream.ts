import { KinesisClient, PutRecordsCommand, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { partitionKeyOf, StreamEvent } from '../domain/event-schema';
import { BatchLimits, DEFAULT_RETRY, putAllWithRetry, RetryPolicy } from './retry';

/** Where accepted events go. */
export interface EventStream {
  /** Writes every event durably, or reports the ones it could not write. */
  put(events: readonly StreamEvent[]): Promise<{ failed: StreamEvent[]; lastError?: string }>;
}

/**
 * Kinesis limits: PutRecords takes 500 records and 5 MiB (data plus partition keys) per call, and a record's
 * data plus partition key is at most 1 MiB. Ingest bounds events to 32 KB, so a record is far below that; the
 * per-record check only keeps one impossible record from failing a whole call.
 */
export const PUT_RECORDS_LIMITS: BatchLimits = { maxEntries: 500, maxBytes: 5 * 1024 * 1024, maxEntryBytes: 1024 * 1024 };

/**
 * Kinesis, partitioned by person (`userId ?? anonymousId`) so one person's events stay in order on one shard.
 * PutRecords can succeed for some entries and fail for others (throttling, internal errors): only the failed
 * entries are retried, with backoff.
 *
 * Each record's data is the event's JSON followed by a newline. Firehose delivers the stream to the lake with no
 * processor, concatenating record data as it is, so the newline is what makes the lake's objects JSON lines;
 * consumers parse the data with `JSON.parse`, which ignores the trailing whitespace.
 */
export class KinesisEventStream implements EventStream {
  constructor(
    private readonly client: KinesisClient,
    private readonly streamName: string,
    private readonly policy: RetryPolicy = { ...DEFAULT_RETRY, attempts: 4 },
  ) {}

  async put(events: readonly StreamEvent[]): Promise<{ failed: StreamEvent[]; lastError?: string }> {
    const { failed, lastError } = await putAllWithRetry(
      events.map((event) => ({ event, entry: toEntry(event) })),
      {
        limits: PUT_RECORDS_LIMITS,
        sizeOf: ({ entry }) => (entry.Data?.byteLength ?? 0) + Buffer.byteLength(entry.PartitionKey ?? ''),
        send: async (chunk) => {
          const out = await this.client.send(new PutRecordsCommand({ StreamName: this.streamName, Records: chunk.map((c) => c.entry) }));
          return chunk.map((_, i) => {
            const result = out.Records?.[i];
            return result?.ErrorCode ? `${result.ErrorCode}: ${result.ErrorMessage ?? ''}` : undefined;
          });
        },
        policy: this.policy,
      },
    );
    return { failed: failed.map((f) => f.event), ...(lastError !== undefined ? { lastError } : {}) };
  }
}

/** The stream record of an event: its JSON and a newline (see `KinesisEventStream`). */
export function toEntry(event: StreamEvent): PutRecordsRequestEntry {
  return { PartitionKey: partitionKeyOf(event), Data: Buffer.from(`${JSON.stringify(event)}\n`) };
}
