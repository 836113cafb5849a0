import type { EventType, StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { StreamEventSchema } from '../../lambdas/shared/domain/event-schema';

/** A fixed "now" for tests: 2024-05-01T12:00:00.000Z. */
export const T0 = Date.UTC(2024, 4, 1, 12);
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export const iso = (ms: number) => new Date(ms).toISOString();

export interface EventOptions {
  /** Event time (epoch ms); default `T0`. */
  at?: number;
  /** Default: `user-1` when neither id is given. */
  userId?: string;
  anonymousId?: string;
  messageId?: string;
  /** Default: `at`. */
  receivedAt?: number;
  sourceId?: string;
  context?: Record<string, unknown>;
}

let sequence = 0;
/** A fresh, unique message id. */
export const nextMessageId = (prefix = 'msg') => `${prefix}-${++sequence}`;

/**
 * A valid stream event (as the ingest function writes it), validated with `StreamEventSchema` so a builder
 * mistake, or a schema change, shows up here rather than as a confusing reducer result.
 */
export function streamEvent(type: EventType, fields: Record<string, unknown> = {}, opts: EventOptions = {}): StreamEvent {
  const at = opts.at ?? T0;
  const identity =
    opts.userId === undefined && opts.anonymousId === undefined
      ? { userId: 'user-1' }
      : { ...(opts.userId !== undefined ? { userId: opts.userId } : {}), ...(opts.anonymousId !== undefined ? { anonymousId: opts.anonymousId } : {}) };
  const raw = {
    type,
    ...identity,
    messageId: opts.messageId ?? nextMessageId(),
    timestamp: iso(at),
    receivedAt: iso(opts.receivedAt ?? at),
    sourceId: opts.sourceId ?? 'src_test',
    ...(opts.context !== undefined ? { context: opts.context } : {}),
    ...fields,
  };
  return StreamEventSchema.parse(raw) as StreamEvent;
}

export const track = (event: string, properties?: Record<string, unknown>, opts?: EventOptions) =>
  streamEvent('track', { event, ...(properties !== undefined ? { properties } : {}) }, opts);
export const identify = (traits: Record<string, unknown>, opts?: EventOptions) => streamEvent('identify', { traits }, opts);
export const page = (name?: string, properties?: Record<string, unknown>, opts?: EventOptions) =>
  streamEvent('page', { ...(name !== undefined ? { name } : {}), ...(properties !== undefined ? { properties } : {}) }, opts);
export const screen = (name?: string, opts?: EventOptions) => streamEvent('screen', name !== undefined ? { name } : {}, opts);
export const group = (groupId: string, traits?: Record<string, unknown>, opts?: EventOptions) =>
  streamEvent('group', { groupId, ...(traits !== undefined ? { traits } : {}) }, opts);
export const alias = (previousId: string, opts?: EventOptions) => streamEvent('alias', { previousId }, opts);

/** Segment e-commerce shorthands. */
export const product = (productId: string, extra: Record<string, unknown> = {}) => ({ product_id: productId, ...extra });
export const productAdded = (productId: string, extra: Record<string, unknown> = {}, opts?: EventOptions) =>
  track('Product Added', product(productId, extra), opts);
export const productRemoved = (productId: string, opts?: EventOptions) => track('Product Removed', product(productId), opts);
export const productViewed = (productId: string, category?: string, opts?: EventOptions) =>
  track('Product Viewed', product(productId, category !== undefined ? { category } : {}), opts);
export const orderCompleted = (properties: Record<string, unknown>, opts?: EventOptions) => track('Order Completed', properties, opts);
