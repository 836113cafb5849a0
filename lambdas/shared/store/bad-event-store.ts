import { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BAD_EVENTS_KEY, TTL_ATTRIBUTE } from '../env';
import { batchWriteAll } from './batch';

/** A stream record the processor could not use, kept with the reason instead of being dropped. */
export interface BadEvent {
  /** Unique and stable per record (`shardId/sequenceNumber`), so a replay overwrites rather than duplicates. */
  id: string;
  reason: string;
  /** The record's data as text (truncated to `MAX_PAYLOAD_CHARS`). */
  payload: string;
  partitionKey?: string;
  /** When the record reached the stream (epoch ms). */
  arrivedAt?: number;
}

export interface BadEventStore {
  putAll(events: readonly BadEvent[]): Promise<void>;
}

/** Bad events are kept this long for inspection. */
export const BAD_EVENT_RETENTION_DAYS = 30;
const MAX_PAYLOAD_CHARS = 64 * 1024;

export class DynamoDbBadEventStore implements BadEventStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly now: () => number = Date.now,
  ) {}

  async putAll(events: readonly BadEvent[]): Promise<void> {
    const detectedAt = this.now();
    const expiresAt = Math.floor(detectedAt / 1000) + BAD_EVENT_RETENTION_DAYS * 86_400;
    await batchWriteAll(
      this.client,
      this.tableName,
      events.map((e) => ({ PutRequest: { Item: toItem(e, detectedAt, expiresAt) } })),
    );
  }
}

function toItem(e: BadEvent, detectedAt: number, expiresAt: number): Record<string, AttributeValue> {
  const truncated = e.payload.length > MAX_PAYLOAD_CHARS;
  return {
    [BAD_EVENTS_KEY.partitionKey]: { S: e.id },
    reason: { S: e.reason },
    payload: { S: truncated ? e.payload.slice(0, MAX_PAYLOAD_CHARS) : e.payload || '(empty)' },
    truncated: { BOOL: truncated },
    ...(e.partitionKey ? { partitionKey: { S: e.partitionKey } } : {}),
    ...(e.arrivedAt !== undefined ? { arrivedAt: { N: String(e.arrivedAt) } } : {}),
    detectedAt: { N: String(detectedAt) },
    [TTL_ATTRIBUTE]: { N: String(expiresAt) },
  };
}
