import { z } from 'zod';
import { exceedsDepth, jsonSyntaxError } from './json';

/**
 * The Segment Spec as this platform accepts it (https://segment.com/docs/connections/spec/common/).
 *
 * Two schemas, shared by every function:
 * - `IncomingMessageSchema`: what a client may send on `/v1/{type}` or inside `/v1/batch`.
 * - `StreamEventSchema`: what the ingest function writes to the stream after enrichment; the processor
 *   re-validates every record with it, so a record that did not come through ingest cannot corrupt a profile.
 */

export const EVENT_TYPES = ['track', 'page', 'screen', 'identify', 'alias', 'group'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const LIMITS = {
  /** Segment: 32 KB per event. */
  maxEventBytes: 32 * 1024,
  /** Segment: 500 KB per batch request. */
  maxBatchBytes: 500 * 1024,
  /**
   * Events per batch request. 500 KB holds tens of thousands of empty entries; each rejected one is listed in the
   * response and recorded, which could take longer than the function's timeout and exceed Lambda's 6 MB response.
   */
  maxBatchEvents: 2500,
  /** Nesting depth of one event (DynamoDB documents allow 32; deeper JSON is almost always hostile). */
  maxEventDepth: 32,
  /** Ids become partition keys (Kinesis allows 256 characters). Item ids (events, catalog, rules) share the limit. */
  maxIdLength: 256,
  maxEventNameLength: 200,
  /** Events timestamped (after clock-skew correction) further ahead of `receivedAt` than this are rejected. */
  maxFutureSkewMs: 24 * 60 * 60 * 1000,
  /** Events timestamped before this are rejected as broken clocks. */
  minTimestampMs: Date.UTC(2000, 0, 1),
} as const;

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Parses an ISO-8601 date-time to epoch milliseconds, or undefined when it is not one.
 * A date-time without an offset is read as UTC (as Segment does), never as the server's local time.
 */
export function parseIsoTimestamp(value: string): number | undefined {
  const m = ISO_DATE_TIME.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s = '0', frac = '0', offset] = m;
  const year = Number(y), month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi), second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  const shift = offsetMinutes(offset);
  if (shift === undefined) return undefined;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Math.floor(Number(`0.${frac}`) * 1000));
  // 31 February rolls into March: reject dates that do not exist.
  if (date.getUTCDate() !== day) return undefined;
  return date.getTime() - shift * 60_000;
}

/** Minutes east of UTC, or undefined for an offset no clock uses (beyond ±14:00, or 60 minutes or more). */
function offsetMinutes(offset: string | undefined): number | undefined {
  if (!offset || offset === 'Z' || offset === 'z') return 0;
  const sign = offset.startsWith('-') ? -1 : 1;
  const digits = offset.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2) || '0');
  if (minutes > 59 || hours * 60 + minutes > 14 * 60) return undefined;
  return sign * (hours * 60 + minutes);
}

/** Empty strings and nulls count as absent, as in Segment's libraries. */
const absentToUndefined = (v: unknown) => (v === '' || v === null ? undefined : v);

const normalizeId = (v: unknown) =>
  typeof v === 'number' && Number.isFinite(v) ? String(v) : absentToUndefined(typeof v === 'string' ? v.trim() : v);
const idString = (missing: string) =>
  z
    .string({ error: (issue) => (issue.input === undefined ? missing : 'must be a string') })
    .max(LIMITS.maxIdLength, `must be at most ${LIMITS.maxIdLength} characters`);

/** A user or group id: a non-empty string (numbers are accepted and turned into strings, as Segment does). Optional. */
const Id = z.preprocess(normalizeId, idString('must be a string').optional());
/** An id the call cannot do without (zod skips refinements of absent optional keys, so this is its own schema). */
const requiredId = (call: string) => z.preprocess(normalizeId, idString(`is required for ${call} calls`));

/** An ISO-8601 date-time string. Optional. */
const Timestamp = z.preprocess(
  absentToUndefined,
  z
    .string({ error: 'must be an ISO-8601 date-time string' })
    .refine((v) => parseIsoTimestamp(v) !== undefined, { message: 'must be an ISO-8601 date-time such as 2024-05-01T12:00:00.000Z' })
    .optional(),
);
/**
 * An ISO-8601 date-time string the message must have. Its own schema: zod skips refinements of absent optional
 * keys, so `Timestamp.refine((v) => v !== undefined)` would let a message without the field through.
 */
const RequiredTimestamp = z.preprocess(
  absentToUndefined,
  z
    .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be an ISO-8601 date-time string') })
    .refine((v) => parseIsoTimestamp(v) !== undefined, { message: 'must be an ISO-8601 date-time such as 2024-05-01T12:00:00.000Z' }),
);
const Text = z.string({ error: 'must be a string' }).max(LIMITS.maxEventNameLength, `must be at most ${LIMITS.maxEventNameLength} characters`);

const JsonObject = z.record(z.string(), z.unknown(), { error: 'must be a JSON object' });

const common = {
  type: z.enum(EVENT_TYPES, { error: `must be one of ${EVENT_TYPES.join(', ')}` }),
  userId: Id,
  anonymousId: Id,
  messageId: z.preprocess(absentToUndefined, z.string({ error: 'must be a string' }).max(LIMITS.maxIdLength).optional()),
  timestamp: Timestamp,
  sentAt: Timestamp,
  originalTimestamp: Timestamp,
  context: JsonObject.optional(),
  integrations: JsonObject.optional(),
  properties: JsonObject.optional(),
  traits: JsonObject.optional(),
  // Required for track calls (see `byType`); validated on every type so that ingest accepts nothing that
  // `StreamEventSchema` would then refuse in the processor.
  event: Text.optional(),
};

const byType = {
  track: { event: z.string({ error: (issue) => (issue.input === undefined ? 'is required for track calls' : 'must be a string') }).trim().min(1, 'must not be empty').max(LIMITS.maxEventNameLength) },
  page: { name: Text.optional(), category: Text.optional() },
  screen: { name: Text.optional(), category: Text.optional() },
  identify: {},
  group: { groupId: requiredId('group') },
  alias: { previousId: requiredId('alias'), userId: requiredId('alias') },
} satisfies Record<EventType, z.ZodRawShape>;

function messageSchema<T extends EventType>(type: T) {
  return z
    .looseObject({ ...common, type: z.literal(type), ...byType[type] })
    .refine((m) => m.userId !== undefined || m.anonymousId !== undefined, {
      message: 'userId or anonymousId is required',
      path: ['userId'],
    });
}

/** A message as a client sends it, discriminated by `type`. Unknown fields are kept (Segment passes them through). */
export const IncomingMessageSchema = z.discriminatedUnion(
  'type',
  [messageSchema('track'), messageSchema('page'), messageSchema('screen'), messageSchema('identify'), messageSchema('group'), messageSchema('alias')],
  {
    error: (issue) => {
      const input = issue.input as { type?: unknown } | undefined;
      return input?.type === undefined ? 'type is required' : `type must be one of ${EVENT_TYPES.join(', ')}`;
    },
  },
);
export type IncomingMessage = z.infer<typeof IncomingMessageSchema>;

/** What the ingest function puts on the stream: an incoming message plus the fields enrichment guarantees. */
export const StreamEventSchema = z
  .looseObject({
    ...common,
    event: Text.optional(),
    messageId: z.string().min(1).max(LIMITS.maxIdLength),
    timestamp: RequiredTimestamp,
    receivedAt: RequiredTimestamp,
    sourceId: z.string().min(1),
  })
  .refine((m) => m.userId !== undefined || m.anonymousId !== undefined, { message: 'userId or anonymousId is required', path: ['userId'] })
  .refine((m) => m.type !== 'track' || (m.event !== undefined && m.event.length > 0), { message: 'event is required for track calls', path: ['event'] });
/** A validated stream event; the refinements above guarantee the fields made required here. */
export type StreamEvent = z.infer<typeof StreamEventSchema> & { timestamp: string; receivedAt: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The data of a stream record decoded: the event, or why it is not one (with the data as text once it is UTF-8). */
export type DecodedStreamEvent = { event: StreamEvent } | { reason: string; text?: string };

/**
 * Decodes and validates the data of one stream record (the event's JSON and a newline, which `JSON.parse`
 * ignores) with the schema the ingest function wrote it with. Every function that reads the stream decides
 * "is this a stream event" here, with the same reasons.
 */
export function decodeStreamEvent(data: Uint8Array): DecodedStreamEvent {
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return { reason: 'Record data is not valid UTF-8' };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { reason: `Record data is not JSON: ${jsonSyntaxError(error)}`, text };
  }
  // Two levels more than an event may have, for the envelope fields enrichment adds.
  if (exceedsDepth(value, LIMITS.maxEventDepth + 2)) return { reason: 'Record is nested too deeply', text };
  const parsed = StreamEventSchema.safeParse(value);
  if (!parsed.success) return { reason: describeIssues(parsed.error), text };
  return { event: parsed.data as StreamEvent };
}

/** One line per problem, `path: message`, for error responses and the bad-events store. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.join('.');
      return path && !issue.message.startsWith(path) ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Partition key of an event: all of one person's events land on one shard, in order. */
export function partitionKeyOf(event: { userId?: string; anonymousId?: string }): string {
  return (event.userId ?? event.anonymousId) as string;
}
