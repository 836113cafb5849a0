import { DeleteItemCommand, DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { parseSegmentDefinition, SegmentDefinition } from '../../lambdas/shared/domain/segments';
import { cachedDefinitions, DynamoDbSegmentStore, InvalidSegment } from '../../lambdas/shared/store/segment-store';
import { startDynalite } from '../support/dynalite';
import { T0 } from '../support/events';
import { InMemorySegmentStore, largestSegmentDefinition } from '../support/in-memory-segment-store';

const definition = (id: string, name = `Segment ${id}`): SegmentDefinition =>
  parseSegmentDefinition({ id, name, condition: { event: { name: 'Order Completed', within: '7d' } } });

describe('DynamoDbSegmentStore (against dynalite)', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let store: DynamoDbSegmentStore;
  beforeAll(async () => {
    db = await startDynalite('segments');
    store = new DynamoDbSegmentStore(db.client, db.tableName);
  });
  afterAll(() => db.close());

  /** The test client, running `before` ahead of every command it sends. */
  const clientBefore = (before: (command: unknown) => Promise<void>) =>
    ({
      send: async (command: Parameters<DynamoDBClient['send']>[0]) => {
        await before(command);
        return db.client.send(command);
      },
    }) as unknown as DynamoDBClient;

  /** Writes an item as an older version (or a hand edit) might have left it. */
  const putRaw = (id: string, definitionJson: string) =>
    db.client.send(
      new PutItemCommand({
        TableName: db.tableName,
        Item: { pk: { S: id }, definition: { S: definitionJson }, version: { N: '3' }, createdAt: { N: String(T0) }, updatedAt: { N: String(T0 + 1) } },
      }),
    );
  const clear = async () => {
    const { segments, invalid } = await store.list();
    for (const id of [...segments.map((s) => s.definition.id), ...invalid.map((s) => s.id)]) {
      await db.client.send(new DeleteItemCommand({ TableName: db.tableName, Key: { pk: { S: id } } }));
    }
  };
  beforeEach(clear);

  it('creates a definition only when its id is free', async () => {
    const first = definition('buyers', 'Buyers');
    expect(await store.put(first, T0, 'create')).toEqual({ definition: first, version: 1, createdAt: T0, updatedAt: T0 });
    expect(await store.put(definition('buyers', 'Other'), T0 + 1, 'create')).toBe('exists');
    expect(await store.get('buyers')).toEqual({ definition: first, version: 1, createdAt: T0, updatedAt: T0 });
    expect(await store.get('nobody')).toBeUndefined();
  });

  it('replaces with version + 1, keeping createdAt; a replace of nothing creates version 1', async () => {
    await store.put(definition('buyers', 'Buyers'), T0, 'create');
    const replaced = await store.put(definition('buyers', 'Big buyers'), T0 + 5, 'replace');
    expect(replaced).toEqual({ definition: definition('buyers', 'Big buyers'), version: 2, createdAt: T0, updatedAt: T0 + 5 });
    expect(await store.get('buyers')).toEqual(replaced);
    expect(await store.put(definition('new'), T0 + 7, 'replace')).toMatchObject({ version: 1, createdAt: T0 + 7, updatedAt: T0 + 7 });
  });

  it('loses no replacement when two race: both land, as versions 2 and 3', async () => {
    await store.put(definition('raced', 'Original'), T0, 'create');
    const [a, b] = await Promise.all([
      store.put(definition('raced', 'From A'), T0 + 1, 'replace'),
      store.put(definition('raced', 'From B'), T0 + 2, 'replace'),
    ]);
    expect([a.version, b.version].sort()).toEqual([2, 3]);
    const last = a.version === 3 ? a : b;
    expect(await store.get('raced')).toEqual(last);
    expect(last.createdAt).toBe(T0);
  });

  it('gives up, throwing, when concurrent writers keep winning', async () => {
    await store.put(definition('contested'), T0, 'create');
    // Another writer replaces the definition between each read and write of this one.
    const contested = clientBefore(async (command) => {
      if (command instanceof PutItemCommand) await store.put(definition('contested', 'Other writer'), T0, 'replace');
    });
    const losing = new DynamoDbSegmentStore(contested, db.tableName, { retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 } });
    await expect(losing.put(definition('contested', 'Mine'), T0 + 1, 'replace')).rejects.toThrow('concurrent writers won 3 times in a row');
    expect(await store.get('contested')).toMatchObject({ definition: { name: 'Other writer' }, version: 4 });
  });

  it('deletes, answering whether there was a definition', async () => {
    await store.put(definition('gone'), T0, 'create');
    expect(await store.delete('gone')).toBe(true);
    expect(await store.get('gone')).toBeUndefined();
    expect(await store.delete('gone')).toBe(false);
  });

  it('lists every definition sorted by id, following Scan pages', async () => {
    const ids = ['m', 'c', 'z-9', 'a', 'k-2', '0', 'b1'];
    for (const id of ids) await store.put(definition(id), T0, 'create');
    let scans = 0;
    const counting = clientBefore(async (command) => void (command instanceof ScanCommand && scans++));
    const { segments, invalid } = await new DynamoDbSegmentStore(counting, db.tableName, { pageSize: 2 }).list();
    expect(segments.map((s) => s.definition.id)).toEqual([...ids].sort());
    expect(invalid).toEqual([]);
    expect(scans).toBe(4); // 7 items, 2 a page
  });

  it('returns stored definitions that no longer validate apart, with the reason, and still replaces them', async () => {
    await store.put(definition('fine'), T0, 'create');
    await putRaw('old-shape', JSON.stringify({ id: 'old-shape', name: 'Old', condition: { visits: { min: 3 } } }));
    await putRaw('garbled', '{"id": "garbled", ');
    await putRaw('moved', JSON.stringify(definition('elsewhere')));
    const { segments, invalid } = await store.list();
    expect(segments.map((s) => s.definition.id)).toEqual(['fine']);
    const meta = { version: 3, createdAt: T0, updatedAt: T0 + 1 };
    expect(invalid).toEqual<InvalidSegment[]>([
      { id: 'garbled', problem: 'The stored definition is not JSON', ...meta },
      { id: 'moved', problem: 'The stored definition\'s id "elsewhere" is not its key "moved"', ...meta },
      { id: 'old-shape', problem: expect.stringContaining('unknown condition "visits"'), ...meta },
    ]);
    expect(await store.get('old-shape')).toEqual(invalid[2]);
    expect(await store.put(definition('old-shape'), T0 + 9, 'replace')).toEqual({ definition: definition('old-shape'), version: 4, createdAt: T0, updatedAt: T0 + 9 });
  });

  it('stores and reads back the largest definition the schema accepts', async () => {
    const largest = parseSegmentDefinition(largestSegmentDefinition());
    await store.put(largest, T0, 'create');
    expect(await store.get('largest')).toEqual({ definition: largest, version: 1, createdAt: T0, updatedAt: T0 });
  });
});

describe('cachedDefinitions', () => {
  const TTL = 60_000;
  function setup() {
    const store = new InMemorySegmentStore();
    store.seed({ definition: definition('a'), version: 1, createdAt: T0, updatedAt: T0 });
    let now = T0;
    const reported: InvalidSegment[][] = [];
    const definitions = cachedDefinitions(store, TTL, () => now, (invalid) => reported.push(invalid));
    return { store, definitions, reported, advance: (ms: number) => (now += ms) };
  }
  const ids = (defs: SegmentDefinition[]) => defs.map((d) => d.id);

  it('reads once per ttl, then again', async () => {
    const { store, definitions, advance } = setup();
    expect(ids(await definitions())).toEqual(['a']);
    store.seed({ definition: definition('b'), version: 1, createdAt: T0, updatedAt: T0 });
    advance(TTL - 1);
    expect(ids(await definitions())).toEqual(['a']);
    expect(store.calls.list).toBe(1);
    advance(1);
    expect(ids(await definitions())).toEqual(['a', 'b']);
    expect(store.calls.list).toBe(2);
  });

  it('shares one read among the callers that arrive while it is in flight', async () => {
    const { store, definitions } = setup();
    const results = await Promise.all([definitions(), definitions(), definitions()]);
    expect(results.map(ids)).toEqual([['a'], ['a'], ['a']]);
    expect(store.calls.list).toBe(1);
  });

  it('rejects every caller of a failed read, and reads again on the next call', async () => {
    const { store, definitions, advance } = setup();
    await definitions();
    advance(TTL);
    store.beforeCall = () => {
      throw new Error('DynamoDB unavailable');
    };
    const calls = [definitions(), definitions()];
    for (const call of calls) await expect(call).rejects.toThrow('DynamoDB unavailable');
    expect(store.calls.list).toBe(2);
    store.beforeCall = undefined;
    expect(ids(await definitions())).toEqual(['a']);
    expect(store.calls.list).toBe(3);
  });

  it('leaves out definitions that no longer validate, handing them to onInvalid on every read', async () => {
    const { store, definitions, reported, advance } = setup();
    const stale: InvalidSegment = { id: 'old', problem: 'Invalid segment definition: condition: unknown condition "visits"', version: 1, createdAt: T0, updatedAt: T0 };
    store.seed(stale);
    expect(ids(await definitions())).toEqual(['a']);
    await definitions();
    expect(reported).toEqual([[stale]]);
    advance(TTL);
    await definitions();
    expect(reported).toHaveLength(2);
  });

  it('logs definitions that no longer validate as an error on stderr when no onInvalid is given', async () => {
    const store = new InMemorySegmentStore();
    const stale: InvalidSegment = { id: 'old', problem: 'no longer valid', version: 1, createdAt: T0, updatedAt: T0 };
    store.seed(stale);
    const stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await cachedDefinitions(store, TTL, () => T0)()).toEqual([]);
      expect(stderr).toHaveBeenCalledTimes(1);
      expect(JSON.parse(stderr.mock.calls[0][0])).toEqual({ level: 'ERROR', message: 'Segment definitions skipped: they no longer validate', invalid: [stale] });
    } finally {
      stderr.mockRestore();
    }
  });

  it('does not call onInvalid when every definition validates', async () => {
    const { definitions, reported } = setup();
    await definitions();
    expect(reported).toEqual([]);
  });
});
