import { BatchWriteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { CatalogItem } from '../../lambdas/shared/domain/catalog';
import { DynamoDbCatalogStore, MAX_UNAVAILABLE_IDS } from '../../lambdas/shared/store/catalog-store';
import { ITEM_KEYS } from '../../lambdas/shared/store/items-table';
import { startDynalite } from '../support/dynalite';

const NOW = Date.UTC(2024, 4, 1, 12);
const item = (itemId: string, fields: Partial<CatalogItem> = {}): CatalogItem => ({
  itemId,
  categories: ['shoes'],
  available: true,
  tags: [],
  attributes: {},
  updatedAt: NOW,
  ...fields,
});
const ids = (n: number, prefix = 'p') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

let db: Awaited<ReturnType<typeof startDynalite>>;

beforeEach(async () => {
  db = await startDynalite('items');
});
afterEach(() => db.close());

/** A store on an empty table, and the commands it sends (by name). */
function setup() {
  const { tableName } = db;
  const sent: Array<{ name: string; input: any }> = [];
  const spy = {
    send: (command: { constructor: { name: string }; input: unknown }) => {
      sent.push({ name: command.constructor.name, input: command.input });
      return db.client.send(command as never);
    },
  } as unknown as DynamoDBClient;
  const store = new DynamoDbCatalogStore(spy, tableName);
  const scanAll = async () => {
    const all: CatalogItem[] = [];
    for await (const found of store.scan()) all.push(found);
    return all;
  };
  const named = (name: string) => sent.filter((c) => c.name === name);
  return { tableName, store, sent, named, scanAll };
}

describe('DynamoDbCatalogStore', () => {
  it('round-trips an item through its row', async () => {
    const { store, tableName } = setup();
    const full = item('p1', { price: 9.5, tags: ['sale'], attributes: { brand: 'Acme', sizes: [40] }, createdAt: NOW - 1000 });
    await store.upsert([full]);
    expect(await store.get('p1')).toEqual(full);
    expect(await store.get('p2')).toBeUndefined();
    const row = await db.client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: 'item#p1' } } }));
    expect(row.Item).toEqual({ pk: { S: 'item#p1' }, item: { S: JSON.stringify(full) }, updatedAt: { N: String(NOW) } });
  });

  it('writes more than 25 items in BatchWriteItem chunks of at most 25', async () => {
    const { store, tableName, named, scanAll } = setup();
    await store.upsert(ids(60).map((id) => item(id)));
    expect(named('BatchWriteItemCommand').map((c) => c.input.RequestItems[tableName].length)).toEqual([25, 25, 10]);
    expect((await scanAll()).map((i) => i.itemId).sort()).toEqual(ids(60));
  });

  it('retries the items a BatchWriteItem leaves unprocessed', async () => {
    const { tableName } = setup();
    let throttled = false;
    const flaky = {
      send: async (command: { input: any }) => {
        if (command instanceof BatchWriteItemCommand && !throttled) {
          throttled = true;
          const [first, ...rest] = command.input.RequestItems?.[tableName] ?? [];
          await db.client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: [first] } }));
          return { UnprocessedItems: { [tableName]: rest } };
        }
        return db.client.send(command as never);
      },
    } as unknown as DynamoDBClient;
    const store = new DynamoDbCatalogStore(flaky, tableName);
    await store.upsert(ids(3).map((id) => item(id)));
    expect(throttled).toBe(true);
    for (const id of ids(3)) expect(await store.get(id)).toBeDefined();
  });

  it('scans every catalog item across pages, and nothing else in the table', async () => {
    const { store, tableName, named, scanAll } = setup();
    // ~1.2 MB of items: more than one 1 MB Scan page.
    const big = { blob: 'x'.repeat(15_000) };
    await store.upsert(ids(80).map((id) => item(id, { attributes: big })));
    await store.upsert([item('gone', { available: false })]);
    await store.delete('gone');
    await db.client.send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: ITEM_KEYS.modelPointer }, version: { S: 'v1' } } }));

    const all = await scanAll();
    expect(all.map((i) => i.itemId).sort()).toEqual(ids(80));
    expect(all[0].attributes).toEqual(big);
    expect(named('ScanCommand').length).toBeGreaterThan(1);
  });

  it('scans an empty catalog', async () => {
    const { scanAll } = setup();
    expect(await scanAll()).toEqual([]);
  });

  it('keeps the unavailable set through unavailable → available → deleted', async () => {
    const { store, named } = setup();
    expect(await store.unavailable()).toEqual(new Set());

    await store.upsert([item('p1', { available: false }), item('p2', { available: false }), item('p3')]);
    expect(await store.unavailable()).toEqual(new Set(['p1', 'p2']));

    await store.upsert([item('p1', { available: true })]);
    expect(await store.unavailable()).toEqual(new Set(['p2']));
    expect((await store.get('p1'))?.available).toBe(true);

    expect(await store.delete('p1')).toBe(true);
    expect(await store.get('p1')).toBeUndefined();
    expect(await store.unavailable()).toEqual(new Set(['p1', 'p2']));
    expect(await store.delete('p1')).toBe(false);
    expect(await store.delete('never-known')).toBe(false);
    expect(await store.unavailable()).toEqual(new Set(['p1', 'p2', 'never-known']));

    // One UpdateItem per direction per request: ADD before the rows, DELETE after.
    const updates = named('UpdateItemCommand').map((c) => c.input.UpdateExpression);
    expect(updates.slice(0, 2)).toEqual(['ADD ids :ids', 'DELETE ids :ids']);
  });

  it('hides an unavailable item before writing its row, and shows an available one only after', async () => {
    const { store, sent } = setup();
    await store.upsert([item('off', { available: false }), item('on')]);
    expect(sent.map((c) => c.name)).toEqual(['UpdateItemCommand', 'BatchWriteItemCommand', 'UpdateItemCommand']);
    expect(sent[0].input.ExpressionAttributeValues[':ids']).toEqual({ SS: ['off'] });
    expect(sent[2].input.ExpressionAttributeValues[':ids']).toEqual({ SS: ['on'] });

    sent.length = 0;
    await store.delete('on');
    expect(sent.map((c) => c.name)).toEqual(['UpdateItemCommand', 'DeleteItemCommand']);
  });

  it('sends no set update for an empty side (DynamoDB refuses empty sets)', async () => {
    const { store, named } = setup();
    await store.upsert([item('p1')]);
    await store.upsert([item('p2', { available: false })]);
    await store.forgetUnavailable([]);
    const updates = named('UpdateItemCommand').map((c) => c.input.UpdateExpression);
    expect(updates).toEqual(['DELETE ids :ids', 'ADD ids :ids']);
  });

  it('forgets ids, down to an empty set (the attribute goes when its last id does)', async () => {
    const { store, tableName } = setup();
    await store.upsert(['a', 'b', 'c'].map((id) => item(id, { available: false })));
    await store.forgetUnavailable(new Set(['a', 'unknown']));
    expect(await store.unavailable()).toEqual(new Set(['b', 'c']));
    expect((await store.get('a'))?.available).toBe(false); // forgetting touches the set only

    await store.forgetUnavailable(['b', 'c']);
    expect(await store.unavailable()).toEqual(new Set());
    const row = await db.client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: ITEM_KEYS.unavailable } } }));
    expect(row.Item?.ids).toBeUndefined();

    await store.upsert([item('d', { available: false })]);
    expect(await store.unavailable()).toEqual(new Set(['d']));
  });

  it('answers 409, writing nothing, when the set has no room for more ids', async () => {
    const { store, tableName } = setup();
    await seedUnavailable(tableName, ids(MAX_UNAVAILABLE_IDS - 1, 'seed'));
    await expect(store.upsert([item('x', { available: false }), item('y', { available: false }), item('z')])).rejects.toMatchObject({
      status: 409,
      message: expect.stringContaining('The unavailable-items set has no room for 2 more ids (it holds at most 10000)'),
    });
    expect(await store.get('x')).toBeUndefined();
    expect(await store.get('z')).toBeUndefined();
    await expect(store.delete('fits')).resolves.toBe(false); // the 10,000th id
    expect((await store.unavailable()).size).toBe(MAX_UNAVAILABLE_IDS);
    await expect(store.delete('one-too-many')).rejects.toMatchObject({ status: 409 });
  });

  it('answers 409 when the set would outgrow a DynamoDB item (400 KB) before reaching the count', async () => {
    const { store, tableName } = setup();
    const long = (prefix: string, n: number) => ids(n, prefix).map((id) => id.padEnd(256, '-'));
    await seedUnavailable(tableName, long('seed', 1_500)); // ~385 KB
    await expect(store.upsert(long('more', 100).map((id) => item(id, { available: false })))).rejects.toMatchObject({ status: 409 });
    expect((await store.unavailable()).size).toBe(1_500);
  });

  it('refuses more ids in one request than the set can ever hold', async () => {
    const { store, sent } = setup();
    await expect(store.upsert(ids(MAX_UNAVAILABLE_IDS + 1).map((id) => item(id, { available: false })))).rejects.toMatchObject({ status: 409 });
    expect(sent).toEqual([]);
  });
});

async function seedUnavailable(tableName: string, seed: string[]): Promise<void> {
  await db.client.send(
    new UpdateItemCommand({
      TableName: tableName,
      Key: { pk: { S: ITEM_KEYS.unavailable } },
      UpdateExpression: 'ADD ids :ids',
      ExpressionAttributeValues: { ':ids': { SS: seed } },
    }),
  );
}
