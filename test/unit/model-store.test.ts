import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { RankedItem, TrainedModel } from '../../lambdas/shared/domain/model';
import { DynamoDbCatalogStore } from '../../lambdas/shared/store/catalog-store';
import { CachedModelStore, DynamoDbModelStore, ModelManifest, ModelStore, ServingState } from '../../lambdas/shared/store/model-store';
import { startDynalite } from '../support/dynalite';

const ranked = (itemId: string, score: number, categories: string[] = []): RankedItem => ({ itemId, score, categories });

function model(neighbours: Record<string, RankedItem[]>, byCategory: Record<string, RankedItem[]> = {}): TrainedModel {
  return {
    algorithm: 'test',
    trainedAt: 1_000,
    stats: { interactions: 10, subjects: 2, items: 3, modelItems: Object.keys(neighbours).length },
    neighbours: new Map(Object.entries(neighbours)),
    popularity: { global: [ranked('a', 3)], trending: [ranked('b', 2)], byCategory: new Map(Object.entries(byCategory)) },
  };
}

const manifestOf = (version: string, m: TrainedModel): ModelManifest => ({
  version,
  algorithm: m.algorithm,
  trainedAt: m.trainedAt,
  stats: m.stats,
  global: m.popularity.global,
  trending: m.popularity.trending,
});

describe('DynamoDbModelStore (on dynalite)', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let requests = 0;
  let store: DynamoDbModelStore;
  beforeEach(async () => {
    db = await startDynalite('items-test');
    requests = 0;
    store = new DynamoDbModelStore(db.client, db.tableName, () => requests++);
  });
  afterEach(() => db.close());

  it('serves nothing before a switch, then the switched version in one read each for state and lists', async () => {
    const m = model({ a: [ranked('b', 0.5, ['shoes']), ranked('c', 0.25), ranked('d', -0.125, ['books'])] }, { shoes: [ranked('b', 4, ['shoes'])] });
    await store.writeVersion('v1', m, 86_400, Date.now());
    expect((await store.servingState()).manifest).toBeUndefined();

    expect(await store.switchTo(manifestOf('v1', m), undefined)).toBe(true);
    requests = 0;
    const state = await store.servingState();
    expect(state.manifest).toMatchObject({ version: 'v1', algorithm: 'test', global: [ranked('a', 3)] });
    const lists = await store.lists('v1', ['a', 'a', 'unknown'], ['shoes', 'books']);
    expect(requests).toBe(2);
    // A negative weight is stored without its categories (only positive entries make candidates).
    expect(lists.neighbours.get('a')).toEqual([ranked('b', 0.5, ['shoes']), ranked('c', 0.25), ranked('d', -0.125)]);
    expect(lists.neighbours.has('unknown')).toBe(false);
    expect(lists.byCategory.get('shoes')).toEqual([ranked('b', 4, ['shoes'])]);
    expect(lists.byCategory.has('books')).toBe(false);
  });

  it('switches only from the expected version, so a slower concurrent run cannot overwrite a newer one', async () => {
    const m = model({});
    expect(await store.switchTo(manifestOf('v1', m), undefined)).toBe(true);
    expect(await store.switchTo(manifestOf('v2', m), undefined)).toBe(false);
    expect(await store.switchTo(manifestOf('v2', m), 'v1')).toBe(true);
    expect(await store.switchTo(manifestOf('v3', m), 'v1')).toBe(false);
    expect((await store.servingState()).manifest?.version).toBe('v2');
  });

  it('keeps versions apart: the lists of one version are not read under another', async () => {
    await store.writeVersion('v1', model({ a: [ranked('old', 1)] }), 86_400, Date.now());
    await store.writeVersion('v2', model({ a: [ranked('new', 1)] }), 86_400, Date.now());
    expect((await store.lists('v1', ['a'], [])).neighbours.get('a')).toEqual([ranked('old', 1)]);
    expect((await store.lists('v2', ['a'], [])).neighbours.get('a')).toEqual([ranked('new', 1)]);
  });

  it('writes many rows (batches of 25) and reads more than 100 keys in batches of 100 sent in parallel (one round trip)', async () => {
    const neighbours = Object.fromEntries(Array.from({ length: 230 }, (_, i) => [`i${i}`, [ranked(`i${(i + 1) % 230}`, 1)]]));
    expect(await store.writeVersion('v1', model(neighbours), 86_400, Date.now())).toBe(230);
    const send = db.client.send.bind(db.client);
    const calls: Array<{ start: number; end: number }> = [];
    jest.spyOn(db.client, 'send').mockImplementation((async (command: Parameters<typeof send>[0]) => {
      const call = { start: performance.now(), end: Infinity };
      calls.push(call);
      try {
        return await send(command);
      } finally {
        call.end = performance.now();
      }
    }) as typeof db.client.send);
    const lists = await store.lists('v1', Object.keys(neighbours), []);
    expect(lists.neighbours.size).toBe(230);
    expect(calls).toHaveLength(3);
    // Every chunk started before any finished.
    expect(Math.max(...calls.map((c) => c.start))).toBeLessThan(Math.min(...calls.map((c) => c.end)));
  });

  it('reads the unavailable set and, while there is no model, the newest available catalog items', async () => {
    const catalog = new DynamoDbCatalogStore(db.client, db.tableName);
    const item = (itemId: string, createdAt: number, available = true) => ({ itemId, categories: ['c'], available, tags: [], attributes: {}, createdAt, updatedAt: 0 });
    await catalog.upsert([item('old', 1), item('new', 3), item('gone', 2, false)]);
    const state = await store.servingState();
    expect([...state.unavailable]).toEqual(['gone']);
    expect(state.catalogFallback.map((i) => i.itemId)).toEqual(['new', 'old']);

    await store.switchTo(manifestOf('v1', model({})), undefined);
    expect((await store.servingState()).catalogFallback).toEqual([]);
  });

  it('sets the TTL of model rows from the retention', async () => {
    const now = Date.UTC(2026, 0, 1);
    await store.writeVersion('v1', model({ a: [ranked('b', 1)] }), 3600, now);
    const row = await db.client.send(new GetItemCommand({ TableName: db.tableName, Key: { pk: { S: 'nbr#v1#a' } } }));
    expect(Number(row.Item?.expiresAt.N)).toBe(now / 1000 + 3600);
  });
});

describe('CachedModelStore', () => {
  const state = (version: string): ServingState => ({ manifest: manifestOf(version, model({})), unavailable: new Set(), catalogFallback: [] });

  it('reuses the serving state for its TTL and shares one read between concurrent misses', async () => {
    let now = 0;
    let reads = 0;
    let version = 'v1';
    const inner: ModelStore = { servingState: async () => (reads++, state(version)), lists: async () => ({ neighbours: new Map(), byCategory: new Map() }) };
    const cached = new CachedModelStore(inner, 10_000, () => now);
    await Promise.all([cached.servingState(), cached.servingState()]);
    expect(reads).toBe(1);
    version = 'v2';
    now = 9_999;
    expect((await cached.servingState()).manifest?.version).toBe('v1');
    now = 10_000;
    expect((await cached.servingState()).manifest?.version).toBe('v2');
    expect(reads).toBe(2);
  });

  it('does not cache a failed read', async () => {
    let fail = true;
    const inner: ModelStore = {
      servingState: async () => {
        if (fail) throw new Error('throttled');
        return state('v1');
      },
      lists: async () => ({ neighbours: new Map(), byCategory: new Map() }),
    };
    const cached = new CachedModelStore(inner, 10_000, () => 0);
    await expect(cached.servingState()).rejects.toThrow('throttled');
    fail = false;
    expect((await cached.servingState()).manifest?.version).toBe('v1');
  });
});
