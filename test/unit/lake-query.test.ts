import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { SEGMENT_EVENT_SOURCE, segmentEventDetail } from '../../lambdas/shared/domain/segment-events';
import { LAKE_TABLES } from '../../lib/constructs/analytics';
import { deliverRecords } from '../../local/firehose';
import { LAKE_BAD_EVENTS_PREFIX, LAKE_SEGMENT_EVENTS_PREFIX, LakeQuery, openLake, toDuckDb } from '../../local/lake-query';
import { writeLakeBatch } from '../../local/lake-writer';
import { HOUR, identify, T0, track } from '../support/events';
import { standardNormalCdf } from '../support/analytics-lake';
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
      { messageid: events[0].messageId, type: 'track', event: 'Product Viewed', userid: 'u1', anonymousid: null, dt: '2024-05-01', hour: '12', product: 'p1', price: 12.5, tags: null, domain: null, same_time: true },
      { messageid: events[1].messageId, type: 'track', event: 'Order Completed', userid: 'u1', anonymousid: null, dt: '2024-05-01', hour: '13', product: null, price: null, tags: null, domain: null, same_time: true },
      { messageid: events[2].messageId, type: 'identify', event: null, userid: null, anonymousid: 'a1', dt: '2024-05-02', hour: '13', product: null, price: null, tags: null, domain: 'example.com', same_time: true },
    ]);
    // Columns are named in lower case whatever the case they are written in, as Glue's are.
    expect(Object.keys((await lake.run('SELECT * FROM events LIMIT 1'))[0])).toEqual([
      'messageid', 'type', 'event', 'name', 'category', 'userid', 'anonymousid', 'previousid', 'groupid', 'timestamp', 'sentat',
      'originaltimestamp', 'receivedat', 'sourceid', 'properties', 'traits', 'context', 'dt', 'hour',
    ]);
    // Partition pruning works on the path columns, as with partition projection in Athena.
    expect(await lake.run(`SELECT count(*) AS n FROM events WHERE dt = '2024-05-01'`)).toEqual([{ n: 2 }]);
  });

  it('turns an ISO-8601 time into an instant, as Trino does, whatever the offset it was written with', async () => {
    lake = await openLake(lakeDir);
    const [row] = await lake.run(`SELECT from_iso8601_timestamp('2024-05-01T14:00:00+02:00') = from_iso8601_timestamp('2024-05-01T12:00:00.000Z') AS same`);
    expect(row).toEqual({ same: true });
  });

  it('gives empty events and bad_events tables, with their columns, for an empty or missing lake', async () => {
    lake = await openLake(path.join(lakeDir, 'nothing-here'));
    expect(await lake.run('SELECT count(*) AS n FROM events')).toEqual([{ n: 0 }]);
    expect(await lake.run(`SELECT count(*) AS n FROM events WHERE dt = '2024-05-01' AND json_extract_scalar(properties, '$.x') = 'y'`)).toEqual([{ n: 0 }]);
    expect(
      await lake.run(`SELECT count(*) AS n, count_if(truncated) AS t FROM bad_events
                      WHERE dt = '2024-05-01' AND hour = '12' AND id || source || reason || payload || partitionkey || sourceid || arrivedat || detectedat <> ''`),
    ).toEqual([{ n: 0, t: 0 }]);
  });

  it('reads rejected events from bad-events/ as the bad_events table, with dt/hour partitions', async () => {
    const dir = path.join(lakeDir, LAKE_BAD_EVENTS_PREFIX, 'dt=2024-05-01', 'hour=12');
    fs.mkdirSync(dir, { recursive: true });
    const lines = [
      { id: 'b1', source: 'ingest', reason: 'userId: userId or anonymousId is required', payload: '{"type":"track"}', truncated: false, sourceId: 'src_web', arrivedAt: '2024-05-01T12:00:00.000Z', detectedAt: '2024-05-01T12:00:00.010Z' },
      // A payload written as an object reads as its JSON text; absent optional fields are NULL; unknown ones are ignored.
      { id: 'b2', source: 'processor', reason: 'Record data is not JSON', payload: { raw: 'x' }, truncated: true, partitionKey: 'user-1', detectedAt: '2024-05-01T12:30:00.000Z', extra: 1 },
    ];
    fs.writeFileSync(path.join(dir, 'bad-events-1.json.gz'), zlib.gzipSync(lines.map((l) => JSON.stringify(l)).join('\n') + '\n'));
    lake = await openLake(lakeDir);
    expect(await lake.run('SELECT id, source, reason, payload, truncated, partitionkey, sourceid, arrivedat, detectedat, dt, hour FROM bad_events ORDER BY id')).toEqual([
      { id: 'b1', source: 'ingest', reason: 'userId: userId or anonymousId is required', payload: '{"type":"track"}', truncated: false, partitionkey: null, sourceid: 'src_web', arrivedat: '2024-05-01T12:00:00.000Z', detectedat: '2024-05-01T12:00:00.010Z', dt: '2024-05-01', hour: '12' },
      { id: 'b2', source: 'processor', reason: 'Record data is not JSON', payload: '{"raw":"x"}', truncated: true, partitionkey: 'user-1', sourceid: null, arrivedat: null, detectedat: '2024-05-01T12:30:00.000Z', dt: '2024-05-01', hour: '12' },
    ]);
    // The events table is still there, empty.
    expect(await lake.run('SELECT count(*) AS n FROM events')).toEqual([{ n: 0 }]);
  });

  /** A segment event as the segment bus's rule delivers it, through the local Firehose (a newline appended). */
  const segmentEvent = (id: string, type: 'entered' | 'exited', userId?: string) => ({
    version: '0',
    id,
    'detail-type': type === 'entered' ? 'Segment Entered' : 'Segment Exited',
    source: SEGMENT_EVENT_SOURCE,
    account: '000000000000',
    time: '2024-05-01T12:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: segmentEventDetail({ id: `vip/p/${T0}/${type}`, type, segmentId: 'vip', profileId: 'p', ...(userId ? { userId } : {}), at: T0, since: T0, reason: 'condition' }),
  });
  const deliverSegmentEvents = (events: object[]) =>
    deliverRecords(
      { logicalId: 'S', name: 'segment-events', arn: 'arn:s', type: 'DirectPut', prefix: `${LAKE_SEGMENT_EVENTS_PREFIX}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/`, appendsNewline: true },
      lakeDir,
      events.map((e) => Buffer.from(JSON.stringify(e))),
      T0,
    );

  it('reads segment events from segment-events/ as the segment_events table: detail-type as detail_type, detail as a struct with lowercase fields', async () => {
    await deliverSegmentEvents([segmentEvent('e1', 'entered', 'u1'), segmentEvent('e2', 'exited')]);
    lake = await openLake(lakeDir);
    expect(await lake.run('SELECT * FROM segment_events ORDER BY id')).toEqual([
      {
        id: 'e1',
        detail_type: 'Segment Entered',
        source: SEGMENT_EVENT_SOURCE,
        time: '2024-05-01T12:00:00Z',
        detail: { noticeid: `vip/p/${T0}/entered`, type: 'entered', segmentid: 'vip', profileid: 'p', userid: 'u1', at: '2024-05-01T12:00:00.000Z', since: '2024-05-01T12:00:00.000Z', reason: 'condition' },
        dt: '2024-05-01',
        hour: '12',
      },
      expect.objectContaining({ id: 'e2', detail_type: 'Segment Exited', detail: expect.objectContaining({ type: 'exited', userid: null }) }),
    ]);
    // Fields are read as Trino reads them: detail.<field>, in any case; "at" quoted (a keyword in DuckDB).
    expect(await lake.run(`SELECT detail.segmentId AS segment, detail."at" AS at_time FROM segment_events WHERE detail.type = 'exited'`)).toEqual([
      { segment: 'vip', at_time: '2024-05-01T12:00:00.000Z' },
    ]);
  });

  it.each([
    ['segment_events', 'segmentEvents'],
    ['bad_events', 'badEvents'],
  ] as const)('gives %s the columns and types of its Glue table, with objects and without', async (view, table) => {
    /** A Glue type as DuckDB spells it: string → VARCHAR, struct<a:string> → STRUCT(a VARCHAR). */
    const duckDbType = (glue: string): string =>
      glue.startsWith('struct<')
        ? `STRUCT(${glue.slice('struct<'.length, -1).split(',').map((field) => `${field.split(':')[0]} ${duckDbType(field.split(':')[1])}`).join(', ')})`
        : ({ string: 'VARCHAR', boolean: 'BOOLEAN' } as Record<string, string>)[glue];
    const glueColumns = [...LAKE_TABLES[table].columns, { name: 'dt', type: 'string' }, { name: 'hour', type: 'string' }];
    const describe = async () =>
      (await (lake as LakeQuery).run(`DESCRIBE ${view}`)).map((c) => ({ name: c.column_name, type: String(c.column_type).replace(/"/g, '') }));

    lake = await openLake(lakeDir);
    expect(await describe()).toEqual(glueColumns.map((c) => ({ name: c.name, type: duckDbType(c.type) })));
    lake.close();
    await deliverSegmentEvents([segmentEvent('e1', 'entered')]);
    fs.mkdirSync(path.join(lakeDir, LAKE_BAD_EVENTS_PREFIX, 'dt=2024-05-01', 'hour=12'), { recursive: true });
    fs.writeFileSync(path.join(lakeDir, LAKE_BAD_EVENTS_PREFIX, 'dt=2024-05-01', 'hour=12', 'b.json.gz'), zlib.gzipSync('{"id":"b1"}\n'));
    lake = await openLake(lakeDir);
    expect(await describe()).toEqual(glueColumns.map((c) => ({ name: c.name, type: duckDbType(c.type) })));
  });

  it('has the Trino functions the analyses use, with Trino’s results', async () => {
    lake = await openLake(lakeDir);
    const [row] = await lake.run(`
      SELECT 7 / 2 AS int_div, -7 / 2 AS neg_div, CAST(7 AS DOUBLE) / 2 AS dbl_div,
             json_extract_scalar(json_parse('{"a":{"b":[1,2]}}'), '$.a') AS object_scalar,
             json_extract_scalar(json_parse('{"a":{"b":[1,2]}}'), '$.a.b[1]') AS nested_scalar,
             to_unixtime(from_iso8601_timestamp('2024-05-01T12:00:00.250Z')) AS unix,
             to_unixtime(from_iso8601_timestamp('2024-05-01T13:30:00Z')) - to_unixtime(from_iso8601_timestamp('2024-05-01T12:00:00Z')) AS seconds,
             CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR) = CAST(current_date - INTERVAL '30' DAY AS VARCHAR) AS same_day_text,
             CAST(date_trunc('week', from_iso8601_timestamp('2024-05-01T23:59:59Z')) AS DATE) AS monday,
             date_diff('week', DATE '2024-04-29', DATE '2024-05-13') AS weeks,
             count_if(true) AS counted,
             (SELECT count_if(x) FROM (SELECT true AS x WHERE false) AS nothing) AS counted_nothing,
             (SELECT count_if(x) FROM (SELECT CAST(NULL AS BOOLEAN) AS x) AS only_null) AS counted_null`);
    expect(row).toEqual({
      int_div: 3,
      neg_div: -3,
      dbl_div: 3.5,
      object_scalar: null,
      nested_scalar: '2',
      unix: Date.UTC(2024, 4, 1, 12, 0, 0, 250) / 1000,
      seconds: 5400,
      same_day_text: false, // a TIMESTAMP in DuckDB: why the analyses cast to DATE first
      monday: '2024-04-29',
      weeks: 2,
      counted: 1,
      counted_nothing: 0, // DuckDB's built-in count_if gives NULL here
      counted_null: 0,
    });
    // sequence of dates, unnested as the analyses use it: every day, both ends included.
    const days = async (from: string, to: string) => (await (lake as LakeQuery).run(`SELECT day FROM UNNEST(sequence(DATE '${from}', DATE '${to}')) AS t(day) ORDER BY day`)).map((r) => r.day);
    expect(await days('2024-02-28', '2024-03-01')).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']);
    expect(await days('2024-05-01', '2024-05-01')).toEqual(['2024-05-01']);
  });

  it('explodes a JSON array with Trino’s CAST(… AS ARRAY(JSON)) and CROSS JOIN UNNEST', async () => {
    lake = await openLake(lakeDir);
    const rows = await lake.run(`
      SELECT o.id, json_extract_scalar(t.product, '$.product_id') AS product
      FROM (VALUES (1, '{"products":[{"product_id":"p1"},{"product_id":"p2"}]}'), (2, '{"products":"oops"}'), (3, '{}')) AS o(id, properties)
      CROSS JOIN UNNEST(TRY_CAST(json_extract(o.properties, '$.products') AS ARRAY(JSON))) AS t(product)
      ORDER BY product`);
    expect(rows).toEqual([
      { id: 1, product: 'p1' },
      { id: 1, product: 'p2' },
    ]);
  });

  it('normal_cdf is within 1e-15 of an exact reference, and has Trino’s arguments (mean, sd, value)', async () => {
    lake = await openLake(lakeDir);
    const values = Array.from({ length: 801 }, (_, i) => -10 + i * 0.025);
    const rows = await lake.run(`SELECT v, normal_cdf(0, 1, v) AS p FROM (VALUES ${values.map((v) => `(CAST(${v} AS DOUBLE))`).join(', ')}) AS t(v)`);
    expect(rows).toHaveLength(values.length);
    const worst = Math.max(...rows.map((r) => Math.abs((r.p as number) - standardNormalCdf(r.v as number))));
    expect(worst).toBeLessThan(1e-15);
    // Relative accuracy in the lower tail (two-sided p-values are 2·Φ(-|z|)): 1e-12 down to -4 sd, 1e-8 down to -10 sd
    // (Hart's continued fraction beyond 7.07 sd). Trino's own 0.5·(1 + erf) has no relative accuracy there at all.
    const relative = (v: number, p: number) => Math.abs(p / standardNormalCdf(v) - 1);
    for (const r of rows.filter((r) => (r.v as number) < 0)) {
      expect({ v: r.v, ok: relative(r.v as number, r.p as number) < ((r.v as number) >= -4 ? 1e-12 : 1e-8) }).toEqual({ v: r.v, ok: true });
    }
    // Integer arguments are not divided as integers; mean and sd rescale; beyond 37 sd it is exactly 0 or 1.
    const [row] = await lake.run('SELECT normal_cdf(10, 2, 13) AS a, normal_cdf(1, 1, 1) AS b, normal_cdf(0, 1, 40) AS c, normal_cdf(0, 1, -40) AS d, normal_cdf(0, 1, NULL) AS e');
    expect(row.a).toBeCloseTo(standardNormalCdf(1.5), 15);
    expect(row).toEqual({ a: row.a, b: 0.5, c: 1, d: 0, e: null });
  });

  it('gives dates as YYYY-MM-DD and timestamps as ISO-8601 UTC', async () => {
    lake = await openLake(lakeDir);
    expect(await lake.run(`SELECT DATE '2024-05-01' AS d, from_iso8601_timestamp('2024-05-01T14:00:00+02:00') AS t`)).toEqual([{ d: '2024-05-01', t: '2024-05-01T12:00:00.000Z' }]);
  });

  it('reports SQL errors with DuckDB’s message', async () => {
    lake = await openLake(lakeDir);
    await expect(lake.run('SELECT no_such_column FROM events')).rejects.toThrow(/no_such_column/);
  });
});

describe('toDuckDb (Trino → DuckDB text translation)', () => {
  it('rewrites the array type ARRAY(t) to t[], innermost first, in any case and spacing', () => {
    expect(toDuckDb('SELECT CAST(j AS ARRAY(JSON))')).toBe('SELECT CAST(j AS JSON[])');
    expect(toDuckDb('SELECT TRY_CAST(j AS array ( varchar ))')).toBe('SELECT TRY_CAST(j AS varchar[])');
    expect(toDuckDb('SELECT CAST(j AS ARRAY(ARRAY(BIGINT)))')).toBe('SELECT CAST(j AS BIGINT[][])');
  });

  it('leaves array values, parameterized types, strings, quoted identifiers and comments alone', () => {
    const untouched = [
      'SELECT ARRAY[1, 2], ARRAY [json_parse(p)]',
      'SELECT CAST(x AS ARRAY(VARCHAR(3)))',
      "SELECT 'CAST(j AS ARRAY(JSON))', 'it''s ARRAY(JSON)'",
      'SELECT 1 AS "ARRAY(JSON)"',
      '-- CAST(j AS ARRAY(JSON))\nSELECT 1',
      '/* ARRAY(JSON) */ SELECT 1',
      'SELECT my_array(json) FROM t',
    ];
    for (const sql of untouched) expect(toDuckDb(sql)).toBe(sql);
    expect(toDuckDb("SELECT 'ARRAY(JSON)', CAST(j AS ARRAY(JSON)) -- ARRAY(JSON)")).toBe("SELECT 'ARRAY(JSON)', CAST(j AS JSON[]) -- ARRAY(JSON)");
  });
});
