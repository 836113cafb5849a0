import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { interactionsOf } from '../../lambdas/shared/domain/interactions';
import { Interaction } from '../../lambdas/shared/domain/model';
import { trainModel } from '../../lambdas/shared/domain/training';
import { interactionOfRow, interactionsOfRows, interactionsQuery } from '../../lambdas/train/interactions-query';
import { trainFromLake } from '../../lambdas/train/train-from-lake';
import { openLake } from '../../local/lake-query';
import { readLakeEvents, writeLakeBatch } from '../../local/lake-writer';
import { mulberry32 } from '../../local/random';
import { DAY, HOUR, MINUTE, streamEvent } from '../support/events';
import { InMemoryCatalogStore } from '../support/in-memory-catalog-store';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';

const NOW = Date.UTC(2026, 10, 20, 12);
const WINDOW_DAYS = 30;

/**
 * A lake with what the aggregate query must get right: duplicates across objects, anonymous and known people,
 * orders with several products (and malformed ones), numeric and alternative id keys, categories written
 * differently, events outside the window, events that are not item interactions, and interactions on both sides
 * of the trending boundary.
 */
function generateEvents(seed: number): StreamEvent[] {
  const random = mulberry32(seed);
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)];
  const categories = ['Shoes', 'shoes ', 'Books', 'garden', undefined];
  const itemOf = (k: number): Record<string, unknown> => {
    const category = categories[k % categories.length];
    const idKey = k % 7 === 0 ? 'sku' : k % 11 === 0 ? 'productId' : 'product_id';
    const id = k % 13 === 0 ? 1000 + k : `item-${k}`;
    return { [idKey]: id, ...(category !== undefined ? { category } : {}), price: 10 + k };
  };
  const events: StreamEvent[] = [];
  for (let n = 0; n < 1500; n++) {
    const person = Math.floor(random() ** 2 * 120);
    const identity = person % 3 === 0 ? { anonymousId: `anon-${person}` } : { userId: `user-${person}`, anonymousId: `anon-${person}` };
    // Mostly inside the window, some before it (received 31-40 days ago).
    const at = random() < 0.9 ? NOW - random() * 25 * DAY : NOW - (31 + random() * 9) * DAY;
    const receivedAt = at + (random() < 0.05 ? 3 * HOUR : random() * MINUTE);
    const opts = { ...identity, at: Math.round(at), receivedAt: Math.round(receivedAt) };
    const k = Math.floor(random() ** 1.5 * 40);
    const roll = random();
    if (roll < 0.5) events.push(streamEvent('track', { event: 'Product Viewed', properties: itemOf(k) }, opts));
    else if (roll < 0.65) events.push(streamEvent('track', { event: 'Product Added', properties: { ...itemOf(k), quantity: 1 } }, opts));
    else if (roll < 0.7) events.push(streamEvent('track', { event: 'Product Removed', properties: itemOf(k) }, opts));
    else if (roll < 0.8) {
      const products = [itemOf(k), itemOf((k + 1 + Math.floor(random() * 5)) % 40), itemOf(k)];
      if (random() < 0.2) products.push({ name: 'no id' } as never, 7 as never);
      events.push(streamEvent('track', { event: 'Order Completed', properties: { order_id: `o-${n}`, products } }, opts));
    } else if (roll < 0.82) events.push(streamEvent('track', { event: 'Order Completed', properties: { order_id: `o-${n}`, products: 'none' } }, opts));
    else if (roll < 0.9) events.push(streamEvent('page', { name: 'Home', properties: itemOf(k) }, opts));
    else if (roll < 0.95) events.push(streamEvent('track', { event: pick(['Product Shared', 'Product Reviewed', 'Signed Up']), properties: itemOf(k) }, opts));
    else events.push(streamEvent('identify', { traits: { plan: 'pro' } }, opts));
  }
  return events;
}

/** Writes the events as the lake writer does, in batches, and writes some batches twice (at-least-once delivery). */
async function writeLake(lakeDir: string, events: StreamEvent[]): Promise<void> {
  for (let start = 0; start < events.length; start += 100) {
    const batch = events.slice(start, start + 100);
    await writeLakeBatch(lakeDir, kinesisEvent(batch.map((e) => kinesisRecord(e))));
    // A second delivery of part of the batch, as another object.
    if (start % 300 === 0) await writeLakeBatch(lakeDir, kinesisEvent(batch.slice(10, 30).map((e) => kinesisRecord(e))));
  }
}

/** The model minus its training time, for comparison. */
const comparable = (model: ReturnType<typeof trainModel>) => ({ ...model, trainedAt: 0 });

describe('training from the lake through the aggregate query', () => {
  let lakeDir: string;
  let events: StreamEvent[];
  beforeAll(async () => {
    lakeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-lake-'));
    events = generateEvents(7);
    await writeLake(lakeDir, events);
  });
  afterAll(() => fs.rmSync(lakeDir, { recursive: true, force: true }));

  /** The interactions of the window, event by event, as `interactionsOf` reads them (duplicates read once). */
  async function expectedInteractions(): Promise<Interaction[]> {
    const interactions: Interaction[] = [];
    for await (const event of readLakeEvents(lakeDir, { since: NOW - WINDOW_DAYS * DAY })) interactions.push(...interactionsOf(event));
    return interactions;
  }

  async function aggregateRows() {
    const lake = await openLake(lakeDir);
    try {
      return await lake.run(interactionsQuery({ windowDays: WINDOW_DAYS, now: NOW }));
    } finally {
      lake.close();
    }
  }

  it('gives exactly the model that training on the events one by one gives', async () => {
    const expected = await expectedInteractions();
    const rows = await aggregateRows();
    const aggregated: Interaction[] = [];
    for await (const interaction of interactionsOfRows(rows)) aggregated.push(interaction);

    // The aggregates are fewer rows standing for the same interactions.
    expect(rows.length).toBeLessThan(expected.length);
    expect(aggregated.reduce((sum, x) => sum + (x.count ?? 1), 0)).toBe(expected.length);

    const clock = () => 0;
    for (const algorithm of ['ease', 'cooccurrence'] as const) {
      const byEvent = trainModel(expected, { algorithm, clock });
      const byAggregate = trainModel(aggregated, { algorithm, clock });
      expect(byEvent.stats.modelItems).toBeGreaterThan(20);
      expect(byEvent.popularity.trending.length).toBeLessThan(byEvent.popularity.global.length + 1);
      expect(comparable(byAggregate)).toEqual(comparable(byEvent));
    }
  });

  it('reads no event received before the window', async () => {
    const rows = await aggregateRows();
    const earliest = Math.min(...rows.map((r) => Date.parse(String(r.last_at))));
    const firstInWindow = Math.min(...(await expectedInteractions()).map((x) => x.at));
    expect(earliest).toBe(firstInWindow);
  });

  it('splits each group at the trending boundary, so trending counts only the last days', async () => {
    const rows = await aggregateRows();
    const newest = Math.max(...rows.map((r) => Date.parse(String(r.last_at))));
    const boundary = newest - 7 * DAY;
    for (const row of rows) expect(row.recent === true).toBe(Date.parse(String(row.last_at)) >= boundary);
    expect(rows.some((r) => r.recent === true)).toBe(true);
    expect(rows.some((r) => r.recent === false)).toBe(true);
  });
});

describe('interactionOfRow', () => {
  it('reads the text rows of an Athena CSV result', () => {
    expect(interactionOfRow({ subject: 'user#u1', item_id: 'a', event: 'Order Completed', category: 'Shoes', recent: 'true', n: '3', last_at: '2026-11-20T10:00:00.000Z' })).toEqual({
      subject: 'user#u1',
      itemId: 'a',
      event: 'Order Completed',
      at: Date.UTC(2026, 10, 20, 10),
      count: 3,
      categories: ['Shoes'],
    });
  });

  it('treats an empty category (NULL in CSV) as none and skips rows it cannot read', () => {
    expect(interactionOfRow({ subject: 's', item_id: 'a', event: 'Product Viewed', category: '', n: '1', last_at: '2026-11-20T10:00:00Z' })?.categories).toBeUndefined();
    expect(interactionOfRow({ subject: 's', item_id: 'a', event: 'Product Viewed', n: '0', last_at: '2026-11-20T10:00:00Z' })).toBeUndefined();
    expect(interactionOfRow({ subject: 's', item_id: 'a', event: 'Product Viewed', n: '1', last_at: 'yesterday' })).toBeUndefined();
  });
});

describe('interactionsQuery', () => {
  it('prunes partitions before the window and refuses nonsense windows', () => {
    const sql = interactionsQuery({ windowDays: 30, now: NOW });
    expect(sql).toContain(`dt >= '2026-10-21'`);
    expect(() => interactionsQuery({ windowDays: 0, now: NOW })).toThrow(/windowDays/);
    expect(() => interactionsQuery({ windowDays: 30, now: NOW, trendingWindowDays: 1.5 })).toThrow(/trendingWindowDays/);
  });
});

describe('trainFromLake', () => {
  const models = () => ({ currentVersion: jest.fn(async () => 'v-serving'), writeVersion: jest.fn(async () => 1), switchTo: jest.fn(async () => true) });
  const catalog = new InMemoryCatalogStore();
  const deps = (m: ReturnType<typeof models>) => ({ catalog, models: m, now: () => NOW, log: () => {} });
  const row = { subject: 'user#u', item_id: 'a', event: 'Order Completed', category: '', recent: 'true', n: '2', last_at: '2026-11-20T10:00:00Z' };

  it('trains on the rows the engine returns and switches serving to the new version', async () => {
    const m = models();
    const seen: string[] = [];
    const result = await trainFromLake(async (sql) => (seen.push(sql), [row, { ...row, item_id: 'b' }, { ...row, n: 'x' }]), deps(m), { windowDays: 30, retentionDays: 1 });
    expect(seen[0]).toBe(interactionsQuery({ windowDays: 30, now: NOW }));
    expect(result).toMatchObject({ aggregateRows: 3, skippedRows: 1, previousVersion: 'v-serving', stats: { interactions: 4, items: 2 } });
    expect(m.switchTo).toHaveBeenCalledTimes(1);
  });

  it('leaves the serving model untouched when the query fails', async () => {
    const m = models();
    await expect(trainFromLake(async () => Promise.reject(new Error('Athena query q-1 failed: boom')), deps(m), { windowDays: 30, retentionDays: 1 })).rejects.toThrow(/boom/);
    expect(m.writeVersion).not.toHaveBeenCalled();
    expect(m.switchTo).not.toHaveBeenCalled();
  });
});
