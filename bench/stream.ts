import type { KinesisStreamRecord } from 'aws-lambda';
import { partitionKeyOf, StreamEvent } from '../lambdas/shared/domain/event-schema';
import { validateMessage } from '../lambdas/shared/domain/ingestion';
import { mulberry32 } from '../local/random';
import { kinesisRecord } from '../test/support/kinesis';

/**
 * A synthetic but realistic e-commerce event stream, deterministic for a seed.
 *
 * - Users are Zipf-distributed: user k is active with weight 1/k^s (a few heavy users, a long tail).
 * - Each user's events arrive in client flushes, as Segment SDKs send them (analytics-node flushes 15
 *   events, mobile SDKs 20): a flush is a short browsing session (page, product views, sometimes an add to
 *   cart, sometimes an order), and Kinesis keeps a flush's records together on the user's shard.
 *   `meanFlushSize: 1` turns this off: every event then comes from an independently drawn user, the worst
 *   case for coalescing.
 * - Items come from a catalog with Zipf popularity, in categories.
 * Events go through the real ingestion validation/enrichment, so they are exactly what the stream holds.
 */
export interface StreamSpec {
  events: number;
  users: number;
  zipfExponent: number;
  meanFlushSize: number;
  items: number;
  categories: number;
  seed: number;
}

export function generateStream(spec: StreamSpec): StreamEvent[] {
  return Array.from(streamEvents(spec));
}

/** The events of `generateStream`, one at a time (for streams too large to hold in memory). */
export function* streamEvents(spec: StreamSpec): Generator<StreamEvent> {
  const random = mulberry32(spec.seed);
  const pickUser = zipfSampler(spec.users, spec.zipfExponent, random);
  const pickItem = zipfSampler(spec.items, 1.0, random);
  const start = Date.UTC(2026, 0, 1);
  let clock = start;
  let n = 0;

  while (n < spec.events) {
    const user = pickUser();
    const userId = user % 3 === 0 ? undefined : `user-${user}`; // a third of visitors are anonymous
    const anonymousId = `anon-${user}`;
    const size = spec.meanFlushSize <= 1 ? 1 : 1 + Math.floor(-Math.log(1 - random()) * (spec.meanFlushSize - 1)); // geometric-ish
    for (let i = 0; i < size && n < spec.events; i++) {
      clock += Math.floor(random() * 50);
      const item = pickItem();
      const product = { product_id: `item-${item}`, category: `category-${item % spec.categories}`, price: 5 + (item % 50) * 3 };
      const roll = random();
      const message =
        i === 0 && roll < 0.3
          ? { type: 'page', name: 'Home' }
          : roll < 0.03 && userId
            ? { type: 'identify', traits: { email: `${userId}@example.com`, plan: roll < 0.01 ? 'pro' : 'free' } }
            : roll < 0.75
              ? { type: 'track', event: 'Product Viewed', properties: product }
              : roll < 0.9
                ? { type: 'track', event: 'Product Added', properties: { ...product, quantity: 1 } }
                : roll < 0.95
                  ? { type: 'track', event: 'Product Removed', properties: product }
                  : { type: 'track', event: 'Order Completed', properties: { order_id: `o-${n}`, revenue: product.price, products: [product] } };
      const enriched = validateMessage(
        { ...message, userId, anonymousId, messageId: `m-${spec.seed}-${n++}`, timestamp: new Date(clock).toISOString(), context: { locale: 'en-US' } },
        { receivedAt: clock + 20, sourceId: 'src_bench' },
      );
      if (typeof enriched === 'string') throw new Error(`Generated an invalid event: ${enriched}`);
      yield enriched;
    }
  }
}

/** Kinesis records as the event source mapping hands them to the processor. */
export function toKinesisRecords(events: StreamEvent[]): KinesisStreamRecord[] {
  return events.map((event, i) =>
    kinesisRecord(event, { partitionKey: partitionKeyOf(event), sequenceNumber: String(49_000_000_000_000 + i), arrivedAtMs: Date.parse(event.receivedAt) }),
  );
}

function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) cumulative[i] = total += 1 / (i + 1) ** s;
  return () => {
    const u = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

