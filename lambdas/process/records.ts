import type { KinesisStreamRecord } from 'aws-lambda';
import { describeIssues, LIMITS, StreamEvent, StreamEventSchema } from '../shared/domain/event-schema';
import { exceedsDepth } from '../shared/domain/json';
import { BadEvent } from '../shared/store/bad-event-store';

const utf8 = new TextDecoder('utf-8', { fatal: true });

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

  const bytes = Buffer.from(kinesis.data, 'base64');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return bad('Record data is not valid UTF-8', `base64:${kinesis.data}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return bad(`Record data is not JSON: ${(error as Error).message}`, text);
  }
  // Two levels more than an event may have, for the envelope fields enrichment adds.
  if (exceedsDepth(value, LIMITS.maxEventDepth + 2)) return bad('Record is nested too deeply', text);
  const parsed = StreamEventSchema.safeParse(value);
  if (!parsed.success) return bad(describeIssues(parsed.error), text);
  return { event: parsed.data as StreamEvent };
}
