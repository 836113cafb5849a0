import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LakeQuery, openLake } from '../../local/lake-query';
import { writeLakeBatch } from '../../local/lake-writer';
import { HOUR, identify, T0, track } from '../support/events';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';

describe('openLake (DuckDB over the local lake)', () => {
  let lakeDir: string;
  let lake: LakeQuery | undefined;
  beforeEach(() => {
    lakeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lake-query-'));
  });
  afterEach(() => {
    lake?.close();
    lake = undefined;
    fs.rmSync(lakeDir, { recursive: true, force: true });
  });

  it('reads every event of the lake, with dt/hour partitions from the object paths and JSON columns', async () => {
    const events = [
      track('Product Viewed', { product_id: 'p1', price: 12.5, tags: ['a'] }, { userId: 'u1', at: T0 }),
      track('Order Completed', { revenue: 30, products: [{ product_id: 'p1' }] }, { userId: 'u1', at: T0 + HOUR }),
      identify({ email_domain: 'example.com' }, { anonymousId: 'a1', at: T0 + 25 * HOUR }),
    ];
    const outcome = await writeLakeBatch(lakeDir, kinesisEvent(events.map((e) => kinesisRecord(e))));
    expect(outcome.ok).toBe(true);

    lake = await openLake(lakeDir);
    const rows = await lake.run(`
      SELECT messageId, type, event, userId, anonymousId, dt, hour,
             json_extract_scalar(properties, '$.product_id') AS product,
             CAST(json_extract_scalar(properties, '$.price') AS DOUBLE) AS price,
             json_extract_scalar(properties, '$.tags') AS tags,
             json_extract_scalar(traits, '$.email_domain') AS domain,
             from_iso8601_timestamp("timestamp") = from_iso8601_timestamp(receivedAt) AS same_time
      FROM events ORDER BY "timestamp"`);
    expect(rows).toEqual([
      { messageId: events[0].messageId, type: 'track', event: 'Product Viewed', userId: 'u1', anonymousId: null, dt: '2024-05-01', hour: '12', product: 'p1', price: 12.5, tags: null, domain: null, same_time: true },
      { messageId: events[1].messageId, type: 'track', event: 'Order Completed', userId: 'u1', anonymousId: null, dt: '2024-05-01', hour: '13', product: null, price: null, tags: null, domain: null, same_time: true },
      { messageId: events[2].messageId, type: 'identify', event: null, userId: null, anonymousId: 'a1', dt: '2024-05-02', hour: '13', product: null, price: null, tags: null, domain: 'example.com', same_time: true },
    ]);
    // Partition pruning works on the path columns, as with partition projection in Athena.
    expect(await lake.run(`SELECT count(*) AS n FROM events WHERE dt = '2024-05-01'`)).toEqual([{ n: 2 }]);
  });

  it('turns an ISO-8601 time into an instant, as Trino does, whatever the offset it was written with', async () => {
    lake = await openLake(lakeDir);
    const [row] = await lake.run(`SELECT from_iso8601_timestamp('2024-05-01T14:00:00+02:00') = from_iso8601_timestamp('2024-05-01T12:00:00.000Z') AS same`);
    expect(row).toEqual({ same: true });
  });

  it('gives an empty events table, with its columns, for an empty or missing lake', async () => {
    lake = await openLake(path.join(lakeDir, 'nothing-here'));
    expect(await lake.run('SELECT count(*) AS n FROM events')).toEqual([{ n: 0 }]);
    expect(await lake.run(`SELECT count(*) AS n FROM events WHERE dt = '2024-05-01' AND json_extract_scalar(properties, '$.x') = 'y'`)).toEqual([{ n: 0 }]);
  });

  it('reports SQL errors with DuckDB’s message', async () => {
    lake = await openLake(lakeDir);
    await expect(lake.run('SELECT no_such_column FROM events')).rejects.toThrow(/no_such_column/);
  });
});
