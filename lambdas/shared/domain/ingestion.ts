import { createHash } from 'node:crypto';
import {
  describeIssues,
  EVENT_TYPES,
  EventType,
  IncomingMessageSchema,
  LIMITS,
  parseIsoTimestamp,
  StreamEvent,
} from './event-schema';
import { RequestError } from './errors';
import { exceedsDepth, isPlainObject } from './json';

/** The route a request came in on: one call type, or a batch. */
export type IngestRoute = EventType | 'batch';

/** Routes as Segment's libraries call them: `/v1/track` (analytics-node and the HTTP API) and `/v1/t` (analytics.js). */
export const ROUTES: Record<string, IngestRoute> = Object.fromEntries([
  ...[...EVENT_TYPES, 'batch' as const].map((type) => [type, type]),
  ...[...EVENT_TYPES, 'batch' as const].map((type) => [type.charAt(0), type]),
]);

export interface Rejection {
  /** Position in the batch (0 for a single-call route). */
  index: number;
  messageId?: string;
  reason: string;
  /** The kind of problem, for metrics (`EventsRejected` by `reason`). */
  kind: RejectionKind;
}

/** What was wrong with a rejected event: the `reason` dimension of the `EventsRejected` metric. */
export type RejectionKind = 'not-an-object' | 'too-deep' | 'too-large' | 'invalid-field' | 'bad-timestamp';

export interface IngestOutcome {
  accepted: StreamEvent[];
  /** What the client is told about each rejected message. */
  rejected: Rejection[];
  /**
   * The rejected messages themselves, in the order of `rejected` (write keys removed, batch-level fields applied),
   * for the bad-events store; never sent back to the client.
   */
  rejectedMessages: unknown[];
}

export interface IngestContext {
  /** When the API received the request (epoch ms). */
  receivedAt: number;
  /** Stable, non-secret id of the write key that sent the request. */
  sourceId: string;
}

/** A source id derived from a write key: stable across deployments, and the key cannot be recovered from it. */
export function sourceIdOf(writeKey: string): string {
  return `src_${createHash('sha256').update(writeKey).digest('hex').slice(0, 16)}`;
}

/**
 * Validates and enriches the messages of one request.
 *
 * Request-level problems (a body that is not an object, a batch that is not a non-empty array) throw a
 * `RequestError`; problems with one message reject that message only, so valid messages next to it are kept.
 */
export function ingestMessages(route: IngestRoute, body: unknown, ctx: IngestContext): IngestOutcome {
  if (!isPlainObject(body)) throw new RequestError(400, 'Request body must be a JSON object');
  const { writeKey: _writeKey, ...rest } = body; // never store the write key that browsers send in the body
  const messages = route === 'batch' ? batchMessages(rest) : [{ ...rest, type: route }];

  const outcome: IngestOutcome = { accepted: [], rejected: [], rejectedMessages: [] };
  messages.forEach((message, index) => {
    const result = checkMessage(message, ctx);
    if (!result.ok) {
      const messageId = isPlainObject(message) && typeof message.messageId === 'string' ? message.messageId : undefined;
      outcome.rejected.push({ index, ...(messageId ? { messageId } : {}), reason: result.reason, kind: result.kind });
      outcome.rejectedMessages.push(message);
    } else {
      outcome.accepted.push(result.event);
    }
  });
  return outcome;
}

/** The messages of a `/v1/batch` body, with the batch-level `context`, `integrations` and `sentAt` applied to each. */
function batchMessages(body: Record<string, unknown>): unknown[] {
  const { batch, context, integrations, sentAt } = body;
  if (!Array.isArray(batch)) throw new RequestError(400, 'Batch requests need a "batch" array of events');
  if (batch.length === 0) throw new RequestError(400, 'The "batch" array is empty');
  if (batch.length > LIMITS.maxBatchEvents) throw new RequestError(400, `The "batch" array has ${batch.length} events; send at most ${LIMITS.maxBatchEvents} per request`);
  return batch.map((message) => {
    if (!isPlainObject(message)) return message;
    const { writeKey: _writeKey, ...fields } = message; // a key sent inside an event is not stored either
    const merged: Record<string, unknown> = fields;
    if (isPlainObject(context)) merged.context = { ...context, ...(isPlainObject(message.context) ? message.context : {}) };
    if (isPlainObject(integrations)) merged.integrations = { ...integrations, ...(isPlainObject(message.integrations) ? message.integrations : {}) };
    if (merged.sentAt === undefined && sentAt !== undefined) merged.sentAt = sentAt;
    return merged;
  });
}

/** One message: the enriched stream event, or the reason it is rejected. */
export function validateMessage(message: unknown, ctx: IngestContext): StreamEvent | string {
  const result = checkMessage(message, ctx);
  return result.ok ? result.event : result.reason;
}

/** One message: the enriched stream event, or the reason it is rejected and its kind. */
function checkMessage(message: unknown, ctx: IngestContext): { ok: true; event: StreamEvent } | { ok: false; kind: RejectionKind; reason: string } {
  const reject = (kind: RejectionKind, reason: string) => ({ ok: false as const, kind, reason });
  if (!isPlainObject(message)) return reject('not-an-object', 'Event must be a JSON object');
  // Depth first: measuring the size serializes the event, which recursion-limits on hostile nesting.
  if (exceedsDepth(message, LIMITS.maxEventDepth)) return reject('too-deep', `Event is nested deeper than ${LIMITS.maxEventDepth} levels`);
  const serialized = JSON.stringify(message);
  const bytes = Buffer.byteLength(serialized);
  if (bytes > LIMITS.maxEventBytes) return reject('too-large', `Event is ${bytes} bytes; the limit is ${LIMITS.maxEventBytes} bytes (32 KB)`);

  const parsed = IncomingMessageSchema.safeParse(message);
  if (!parsed.success) return reject('invalid-field', describeIssues(parsed.error));
  const msg = parsed.data;

  const timestamp = correctedTimestamp(msg.timestamp, msg.sentAt, ctx.receivedAt);
  if (timestamp < LIMITS.minTimestampMs) return reject('bad-timestamp', `timestamp ${new Date(timestamp).toISOString()} is before 2000-01-01 (after clock-skew correction)`);
  if (timestamp > ctx.receivedAt + LIMITS.maxFutureSkewMs) return reject('bad-timestamp', 'timestamp is more than 24 hours in the future (after clock-skew correction)');

  const event: StreamEvent = {
    ...msg,
    messageId: msg.messageId ?? derivedMessageId(ctx.sourceId, serialized),
    timestamp: new Date(timestamp).toISOString(),
    ...(msg.timestamp !== undefined ? { originalTimestamp: msg.timestamp } : {}),
    receivedAt: new Date(ctx.receivedAt).toISOString(),
    sourceId: ctx.sourceId,
  };
  return { ok: true, event };
}

/**
 * Segment's clock-skew correction: a device clock that is off shifts both `timestamp` and `sentAt`, so the
 * true event time is `receivedAt - (sentAt - timestamp)`. Without `sentAt` the client's timestamp is trusted;
 * without a timestamp the event happened when it was received.
 */
export function correctedTimestamp(timestamp: string | undefined, sentAt: string | undefined, receivedAt: number): number {
  if (timestamp === undefined) return receivedAt;
  const ts = parseIsoTimestamp(timestamp) as number;
  if (sentAt === undefined) return ts;
  return receivedAt - ((parseIsoTimestamp(sentAt) as number) - ts);
}

/**
 * A `messageId` for a client that sent none. Derived from the message itself rather than random, so a client
 * retrying the same request produces the same id and the processor's de-duplication absorbs the retry.
 */
function derivedMessageId(sourceId: string, serializedMessage: string): string {
  return `gen-${createHash('sha256').update(sourceId).update('\n').update(serializedMessage).digest('hex').slice(0, 32)}`;
}
