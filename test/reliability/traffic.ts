import type { EventType } from '../../lambdas/shared/domain/event-schema';
import { forEachLimited } from '../../lambdas/shared/concurrency';
import { mulberry32 } from '../../local/random';
import { basic } from '../support/local-runtime';

/**
 * The valid side of the reliability suite: generated Segment traffic, a client that sends it as a careful
 * Segment library does (the same request again after a 5xx or a lost connection, never after a 200 or a 4xx), and
 * the ledger of what the platform accepted, which `audit.ts` checks against the profiles and the lake.
 */

/** An event the suite sends: what it must add to its person's profile. */
export interface SentEvent {
  messageId: string;
  userId: string;
  /** A Segment call type: counted in the profile's `counts`. */
  type: EventType;
  /** Track events: the name (counted in the profile's `events`). */
  event?: string;
  /** `Order Completed`: revenue in cents (summed exactly in the profile's RFM monetary value). */
  revenueCents?: number;
  /** ISO time the event says it happened. */
  timestamp: string;
}

const EVENT_NAMES = ['Product Viewed', 'Product Added', 'Order Completed', 'Signed Up', 'Article Read'] as const;

export interface TrafficSpec {
  /** Prefix of every user id and message id, so each case's people are its own. */
  prefix: string;
  users: number;
  events: number;
  seed: number;
  /** Time of the first event, epoch ms; events are a second apart. @default so that the last is a minute ago */
  startMs?: number;
  /** Number of the first message id (`<prefix>-m<offset>`), to generate more events for the same case. @default 0 */
  offset?: number;
}

/** `spec.events` events over `spec.users` people (drawn with a skew: a few people are busy), mostly track, some identify. */
export function generateEvents(spec: TrafficSpec): SentEvent[] {
  const random = mulberry32(spec.seed);
  const start = spec.startMs ?? Date.now() - (spec.events + 60) * 1000;
  return Array.from({ length: spec.events }, (_, i): SentEvent => {
    const userId = `${spec.prefix}-u${Math.floor(spec.users * random() ** 2)}`;
    const base = { messageId: `${spec.prefix}-m${i + (spec.offset ?? 0)}`, userId, timestamp: new Date(start + i * 1000).toISOString() };
    if (random() < 0.1) return { ...base, type: 'identify' };
    const event = EVENT_NAMES[Math.floor(random() * EVENT_NAMES.length)];
    return { ...base, type: 'track', event, ...(event === 'Order Completed' ? { revenueCents: 100 + Math.floor(random() * 100_000) } : {}) };
  });
}

/** The Segment message of an event. */
export function messageOf(e: SentEvent): Record<string, unknown> {
  const common = { type: e.type, userId: e.userId, messageId: e.messageId, timestamp: e.timestamp };
  // Nothing but the ids depends on the prefix: two cases sending the same events must build the same profiles.
  if (e.type === 'identify') return { ...common, traits: { plan: 'pro', identifiedAt: e.timestamp } };
  const n = Number(e.messageId.slice(e.messageId.lastIndexOf('-m') + 2));
  return {
    ...common,
    event: e.event,
    properties: e.revenueCents !== undefined ? { revenue: e.revenueCents / 100, currency: 'USD' } : { product_id: `sku-${n % 50}`, category: `category-${n % 5}` },
  };
}

/** Splits events into `/v1/batch` request bodies of `size` events. */
export function batchesOf(events: readonly SentEvent[], size: number): SentEvent[][] {
  return Array.from({ length: Math.ceil(events.length / size) }, (_, i) => events.slice(i * size, (i + 1) * size));
}

/** What the platform accepted (a 200, or the `accepted` part of a 400), and when: the suite's ground truth. */
export class Ledger {
  /** By message id. */
  readonly accepted = new Map<string, SentEvent>();
  /** When each event was first acknowledged (epoch ms). */
  readonly acceptedAt = new Map<string, number>();
  /** Request latencies of every attempt (ms), and how many attempts were resends. */
  readonly latenciesMs: number[] = [];
  resends = 0;
  /** Resends of a request some of whose events may already have reached the stream (a 503 or a lost answer). */
  resentEvents = 0;

  accept(events: readonly SentEvent[], at: number): void {
    for (const e of events) {
      this.accepted.set(e.messageId, e);
      if (!this.acceptedAt.has(e.messageId)) this.acceptedAt.set(e.messageId, at);
    }
  }
}

export interface SendOptions {
  writeKey: string;
  /** Attempts per request before giving up (which fails the case). @default 30 */
  attempts?: number;
  /** Per-attempt timeout. @default 15000 */
  timeoutMs?: number;
}

/**
 * Sends one batch until the platform answers it: a 200 accepts every event, a 4xx is a bug here (the suite's
 * traffic is valid) and throws, a 5xx or a lost connection sends the same body again after a short backoff, as
 * Segment's libraries do. Every attempt's latency goes to the ledger.
 */
export async function sendBatch(baseUrl: string, events: readonly SentEvent[], ledger: Ledger, options: SendOptions): Promise<void> {
  // No `sentAt`: with it, the platform corrects each timestamp by the request's clock skew, which differs between
  // two sends of the same events, and the replay case compares profiles built from different sends.
  const body = JSON.stringify({ batch: events.map(messageOf) });
  const attempts = options.attempts ?? 30;
  let last = '';
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) {
      ledger.resends += 1;
      ledger.resentEvents += events.length;
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 50 * 2 ** attempt)));
    }
    const started = performance.now();
    const outcome = await postBatch(baseUrl, body, options);
    ledger.latenciesMs.push(performance.now() - started);
    if (outcome.status === 200) return ledger.accept(events, Date.now());
    if (outcome.status >= 400 && outcome.status < 500) throw new Error(`Valid traffic refused: ${outcome.status} ${outcome.text}`);
    last = `${outcome.status} ${outcome.text}`;
  }
  throw new Error(`A batch was not accepted after ${attempts} attempts; last answer: ${last}`);
}

/** One POST /v1/batch; a network failure or timeout is status 0. */
async function postBatch(baseUrl: string, body: string, options: SendOptions): Promise<{ status: number; text: string }> {
  try {
    const response = await fetch(`${baseUrl}/v1/batch`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: basic(options.writeKey) },
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    return { status: 0, text: (error as Error).message };
  }
}

/** Sends batches with at most `concurrency` requests in flight. */
export function sendAll(baseUrl: string, batches: readonly SentEvent[][], ledger: Ledger, options: SendOptions & { concurrency: number }): Promise<void> {
  return forEachLimited(batches, options.concurrency, (batch) => sendBatch(baseUrl, batch, ledger, options));
}
