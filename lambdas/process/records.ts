import type { KinesisStreamRecord } from 'aws-lambda';
import { decodeStreamEvent, StreamEvent } from '../shared/domain/event-schema';
import { BadEvent } from '../shared/store/bad-event-store';

/**
 * Decodes and validates one stream record with the same schema the ingest function wrote it with (the data is
 * the event's JSON and a newline, which `JSON.parse` ignores).
 * A record that fails (written by something other than the ingest function, or by an older version of it)
 * becomes a bad event with its reason; it is never silently dropped.
 */
export function decodeRecord(record: KinesisStreamRecord): { event: StreamEvent } | { bad: BadEvent } {
  const { kinesis } = record;
  const bad = (reason: string, payload: string): { bad: BadEvent } => ({
    bad: {
      id: `${record.eventID.split(':')[0]}/${kinesis.sequenceNumber}`,
      source: 'processor',
      reason,
      payload,
      partitionKey: kinesis.partitionKey,
      arrivedAt: Math.round(kinesis.approximateArrivalTimestamp * 1000),
    },
  });

  const decoded = decodeStreamEvent(Buffer.from(kinesis.data, 'base64'));
  if ('event' in decoded) return decoded;
  return bad(decoded.reason, decoded.text ?? `base64:${kinesis.data}`);
}
