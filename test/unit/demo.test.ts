import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateCatalogUpsert } from '../../lambdas/shared/domain/catalog';
import { itemsOf, normalizeCategory } from '../../lambdas/shared/domain/commerce';
import { validateMessage } from '../../lambdas/shared/domain/ingestion';
import { DemoEvent, generateDemo, writeJsonLines } from '../../local/demo';
import { DAY, T0 } from '../support/events';

const demo = generateDemo({ seed: 7, now: T0 });
const subjectOf = (e: DemoEvent) => e.userId ?? e.anonymousId;
const productsOf = (e: DemoEvent) => itemsOf(e.event, e.properties);

it('is deterministic for a seed and differs between seeds', () => {
  expect(generateDemo({ seed: 7, now: T0 })).toEqual(demo);
  expect(generateDemo({ seed: 8, now: T0 }).events).not.toEqual(demo.events);
});

it('makes a believable shop: about 300 items in 8 to 10 categories, and a few thousand events', () => {
  expect(demo.items).toHaveLength(300);
  const categories = new Set(demo.items.flatMap((item) => item.categories));
  expect(categories.size).toBeGreaterThanOrEqual(8);
  expect(categories.size).toBeLessThanOrEqual(10);
  expect(new Set(demo.items.map((item) => item.itemId)).size).toBe(300);
  for (const item of demo.items) expect(item.itemId).toMatch(new RegExp(`^sku-${item.categories[0]}-\\d{3}$`));
  expect(demo.events.length).toBeGreaterThan(1000);
  expect(new Set(demo.events.map((e) => e.event))).toEqual(new Set(['Product Viewed', 'Product Added', 'Order Completed']));
});

it('produces items the catalog API accepts', () => {
  const { items, errors } = validateCatalogUpsert({ items: demo.items }, T0);
  expect(errors).toEqual([]);
  expect(items).toHaveLength(demo.items.length);
});

it('produces events the ingest API accepts, with normalized categories, catalog items and unique message ids', () => {
  const itemIds = new Set(demo.items.map((item) => item.itemId));
  const rejected = demo.events
    .map((event) => ({ messageId: event.messageId, result: validateMessage(event, { receivedAt: T0, sourceId: 'src_test' }) }))
    .filter(({ result }) => typeof result === 'string');
  expect(rejected).toEqual([]);
  const products = demo.events.map(productsOf);
  expect(products.filter((p) => p.length === 0)).toEqual([]);
  const badProducts = products.flat().filter((p) => !itemIds.has(p.itemId) || p.category === undefined || normalizeCategory(p.category) !== p.category);
  expect(badProducts).toEqual([]);
  for (const item of demo.items) expect(item.categories.map(normalizeCategory)).toEqual(item.categories);
  expect(new Set(demo.events.map((e) => e.messageId)).size).toBe(demo.events.length);
});

it('spreads events over the last days, in time order', () => {
  const times = demo.events.map((e) => Date.parse(e.timestamp));
  expect(times).toEqual([...times].sort((a, b) => a - b));
  expect(times[0]).toBeGreaterThanOrEqual(T0 - 7 * DAY);
  expect(times[times.length - 1]).toBeLessThanOrEqual(T0);
  expect(times[times.length - 1] - times[0]).toBeGreaterThan(5 * DAY);
});

it('has known users and anonymous visitors', () => {
  const users = new Set(demo.events.filter((e) => e.userId !== undefined).map((e) => e.userId));
  const anonymous = new Set(demo.events.filter((e) => e.userId === undefined).map((e) => e.anonymousId));
  expect(users.size).toBeGreaterThan(50);
  expect(anonymous.size).toBeGreaterThan(20);
});

it('has users who interact mostly within one or two categories', () => {
  const bySubject = new Map<string, Map<string, number>>();
  for (const event of demo.events.filter((e) => e.userId !== undefined)) {
    const counts = bySubject.get(subjectOf(event)) ?? new Map<string, number>();
    for (const product of productsOf(event)) counts.set(product.category as string, (counts.get(product.category as string) ?? 0) + 1);
    bySubject.set(subjectOf(event), counts);
  }
  // The two largest categories (plus their complements, bought alongside) hold most of a user's interactions.
  const shares = [...bySubject.values()].map((counts) => {
    const sorted = [...counts.values()].sort((a, b) => b - a);
    const total = sorted.reduce((sum, n) => sum + n, 0);
    return (sorted[0] + (sorted[1] ?? 0)) / total;
  });
  const median = shares.sort((a, b) => a - b)[Math.floor(shares.length / 2)];
  expect(median).toBeGreaterThan(0.6);
});

it('has items that are bought together far more often than chance would have it', () => {
  const orders = demo.events.filter((e) => e.event === 'Order Completed').map((order) => [...new Set(productsOf(order).map((p) => p.itemId))]);
  // Chance: the same items in orders of the same sizes, dealt at random (a fixed shuffle, so the test is stable).
  const dealt = seededShuffle(orders.flat());
  let next = 0;
  const chance = orders.map((order) => order.map(() => dealt[next++]));
  expect(orders.filter((order) => order.length > 1).length).toBeGreaterThan(50);
  expect(repeatedPairOccurrences(orders)).toBeGreaterThan(2 * repeatedPairOccurrences(chance));
});

it('writes events as JSON lines', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'demo-')), 'nested', 'events.jsonl');
  await writeJsonLines(file, demo.events.slice(0, 50));
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  expect(lines.pop()).toBe('');
  expect(lines.map((line) => JSON.parse(line))).toEqual(demo.events.slice(0, 50));
});

/** How many times pairs bought together in more than one order were bought together. */
function repeatedPairOccurrences(orders: string[][]): number {
  const counts = new Map<string, number>();
  for (const order of orders) {
    const ids = [...new Set(order)].sort();
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) counts.set(`${ids[i]} ${ids[j]}`, (counts.get(`${ids[i]} ${ids[j]}`) ?? 0) + 1);
    }
  }
  return [...counts.values()].filter((n) => n > 1).reduce((sum, n) => sum + n, 0);
}

/** Fisher-Yates driven by a fixed xorshift32 sequence. */
function seededShuffle<T>(values: T[]): T[] {
  let state = 2463534242;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const copy = [...values];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}
