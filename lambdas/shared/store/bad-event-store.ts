import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { BatchLimits, DEFAULT_RETRY, putAllWithRetry, RetryPolicy } from './retry';

/**
 * An event that was rejected, kept with the reason instead of being dropped: a stream record the profile
 * processor could not use, or an event the ingest API refused inside an authenticated request.
 */
export interface BadEvent {
  /**
   * Unique and stable per rejected event: `shardId/sequenceNumber` for a stream record (a redelivered batch
   * repeats it, so readers can de-duplicate), `ingest/<requestId>/<index>` for an event refused by ingest.
   */
  id: string;
  /** Who rejected it. */
  source: 'processor' | 'ingest';
  reason: string;
  /** The record's data or the event's JSON, as text (truncated to `MAX_PAYLOAD_CHARS`). */
  payload: string;
  /** The stream record's partition key. */
  partitionKey?: string;
  /** The source (write key id) that sent the event, when known. */
  sourceId?: string;
  /** When the record reached the stream, or the request reached the API (epoch ms). */
  arrivedAt?: number;
}

export interface BadEventStore {
  /** Stores every event, or throws. */
  putAll(events: readonly BadEvent[]): Promise<void>;
}

/**
 * One line of the lake's `bad-events/` table, exactly these keys (the Glue table `bad_events` has the columns
 * id, source, reason, payload, truncated, partitionkey, sourceid, arrivedat, detectedat).
 */
export interface BadEventLine {
  id: string;
  source: BadEvent['source'];
  reason: string;
  payload: string;
  truncated: boolean;
  partitionKey?: string;
  sourceId?: string;
  /** ISO-8601. */
  arrivedAt?: string;
  /** ISO-8601: when the event was found bad. */
  detectedAt: string;
}

/**
 * Payloads are cut at 64 Ki characters and reasons at 4 Ki: even if every character needed a 6-byte JSON escape,
 * a line stays under 64 Ki × 6 + 4 Ki × 6 + the short fields ≈ 410 KiB, well within Firehose's 1,000 KiB record.
 */
export const MAX_PAYLOAD_CHARS = 64 * 1024;
const MAX_REASON_CHARS = 4 * 1024;

/** Firehose PutRecordBatch: 500 records and 4 MiB per call, 1,000 KiB per record (before base64). */
export const PUT_RECORD_BATCH_LIMITS: BatchLimits = { maxEntries: 500, maxBytes: 4 * 1024 * 1024, maxEntryBytes: 1000 * 1024 };

/**
 * Bad events into the lake through a Firehose delivery stream (Direct PUT), one JSON line per event; Firehose
 * concatenates record data as it is, so each record ends with a newline. PutRecordBatch can fail for some
 * records only (FailedPutCount, a per-record ErrorCode): those are sent again with backoff, and if some still
 * fail `putAll` throws, so the caller keeps them (the processor reports its batch failed and Lambda retries it).
 */
export class FirehoseBadEventStore implements BadEventStore {
  constructor(
    private readonly client: FirehoseClient,
    private readonly deliveryStreamName: string,
    private readonly now: () => number = Date.now,
    private readonly policy: RetryPolicy = { ...DEFAULT_RETRY, attempts: 4 },
  ) {}

  async putAll(events: readonly BadEvent[]): Promise<void> {
    if (events.length === 0) return;
    const detectedAt = new Date(this.now()).toISOString();
    const records = events.map((event) => Buffer.from(`${JSON.stringify(badEventLine(event, detectedAt))}\n`));
    const { failed, lastError } = await putAllWithRetry(records, {
      limits: PUT_RECORD_BATCH_LIMITS,
      sizeOf: (record) => record.byteLength,
      send: async (chunk) => {
        const out = await this.client.send(new PutRecordBatchCommand({ DeliveryStreamName: this.deliveryStreamName, Records: chunk.map((Data) => ({ Data })) }));
        if (!out.FailedPutCount) return [];
        return chunk.map((_, i) => {
          const response = out.RequestResponses?.[i];
          // A response that does not say which record failed fails them all: sending one twice is harmless.
          return response?.ErrorCode || !response ? `${response?.ErrorCode ?? 'Unknown'}: ${response?.ErrorMessage ?? ''}` : undefined;
        });
      },
      policy: this.policy,
    });
    if (failed.length > 0) {
      throw new Error(`${failed.length} of ${events.length} bad events could not be written to the delivery stream ${this.deliveryStreamName}: ${lastError}`);
    }
  }
}

/** A bad event as its lake line: payload and reason bounded, times as ISO-8601. */
export function badEventLine(event: BadEvent, detectedAt: string): BadEventLine {
  const truncated = event.payload.length > MAX_PAYLOAD_CHARS;
  return {
    id: event.id,
    source: event.source,
    reason: cut(event.reason, MAX_REASON_CHARS),
    payload: truncated ? cut(event.payload, MAX_PAYLOAD_CHARS) : event.payload || '(empty)',
    truncated,
    ...(event.partitionKey !== undefined ? { partitionKey: event.partitionKey } : {}),
    ...(event.sourceId !== undefined ? { sourceId: event.sourceId } : {}),
    ...(event.arrivedAt !== undefined ? { arrivedAt: new Date(event.arrivedAt).toISOString() } : {}),
    detectedAt,
  };
}

/** The first `max` characters, without leaving half a surrogate pair at the end. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return text.slice(0, end);
}
