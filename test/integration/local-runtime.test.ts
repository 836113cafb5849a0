import { gzipSync } from 'node:zlib';
import { PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { Analytics } from '@segment/analytics-node';
import { sourceIdOf } from '../../lambdas/shared/domain/ingestion';
import { ENV } from '../../lambdas/shared/env';
import { expandPrefix } from '../../local/firehose';
import { readLakeEvents } from '../../local/lake-writer';
import type { LocalRuntime } from '../../local/runtime';
import { lakeBadEvents, lakeObjects } from '../support/lake';
import { basic, dynamoDbAt, eventually, getProfile, kinesisAt, post, signedFetch, startTestRuntime, WRITE_KEY } from '../support/local-runtime';

jest.setTimeout(90_000);

let runtime: LocalRuntime;
beforeAll(async () => {
  runtime = await startTestRuntime();
});
afterAll(async () => {
  await runtime?.stop();
});

const tableName = (envVar: string) => {
  for (const fn of runtime.model.functions) if (fn.environment[envVar]) return fn.environment[envVar];
  throw new Error(`No function reads ${envVar}`);
};

describe('a Segment client, unmodified, against the local runtime', () => {
  it('fills in the profile: traits, counters, cart, orders, affinities, context', async () => {
    const analytics = new Analytics({ writeKey: WRITE_KEY, host: runtime.url, flushAt: 50, flushInterval: 100, maxRetries: 1 });
    const errors: unknown[] = [];
    analytics.on('error', (error) => errors.push(error));
    const context = { locale: 'fr-FR', timezone: 'Europe/Paris', os: { name: 'iOS', version: '17' }, ip: '203.0.113.9' };

    analytics.identify({ userId: 'sdk-user', anonymousId: 'anon-phone', traits: { email: 'ada@example.com', plan: 'pro' }, context });
    analytics.page({ userId: 'sdk-user', name: 'Home', properties: { path: '/' } });
    analytics.track({ userId: 'sdk-user', event: 'Product Viewed', properties: { product_id: 'p1', category: 'Shoes', price: 80 }, context });
    analytics.track({ userId: 'sdk-user', event: 'Product Added', properties: { product_id: 'p1', category: 'Shoes', price: 80, quantity: 1 } });
    analytics.track({ userId: 'sdk-user', event: 'Product Added', properties: { product_id: 'p2', category: 'Socks', price: 5, quantity: 3 } });
    analytics.track({
      userId: 'sdk-user',
      event: 'Order Completed',
      properties: { order_id: 'o1', revenue: 80, products: [{ product_id: 'p1', category: 'Shoes', price: 80, quantity: 1 }] },
    });
    analytics.group({ userId: 'sdk-user', groupId: 'acme', traits: { name: 'Acme' } });
    analytics.screen({ userId: 'sdk-user', name: 'Settings' });
    await analytics.closeAndFlush();
    expect(errors).toEqual([]);

    const profile = await eventually(async () => {
      const { status, body } = await getProfile(runtime.url, 'sdk-user');
      return status === 200 && body.counts.screen === 1 && body.counts.group === 1 ? body : undefined;
    }, 30_000, 'the SDK events to reach the profile');

    expect(profile.userId).toBe('sdk-user');
    expect(profile.anonymousIds).toEqual(['anon-phone']);
    expect(profile.traits).toEqual({ email: 'ada@example.com', plan: 'pro' });
    expect(profile.counts).toEqual({ identify: 1, page: 1, track: 4, group: 1, screen: 1 });
    expect(profile.events).toEqual({ 'Product Viewed': 1, 'Product Added': 2, 'Order Completed': 1 });
    expect(profile.rfm).toMatchObject({ frequency: 1, monetary: 80, recencyDays: 0 });
    // p1 was bought, so only the socks are still in the cart.
    expect(profile.cart).toEqual({ items: [expect.objectContaining({ itemId: 'p2', quantity: 3, price: 5 })], value: 15 });
    expect(profile.affinities.map((a: { category: string }) => a.category)).toEqual(['shoes', 'socks']);
    expect(profile.recentItems[0]).toMatchObject({ itemId: 'p1', event: 'Order Completed' });
    expect(profile.context).toEqual({ locale: 'fr-FR', timezone: 'Europe/Paris', os: { name: 'iOS', version: '17' } });
    expect(JSON.stringify(profile)).not.toContain('203.0.113.9'); // no IP address in profiles
    expect(profile.groups).toEqual([{ groupId: 'acme', traits: { name: 'Acme' } }]);
    expect(Date.parse(profile.expiresAt) - Date.now()).toBeGreaterThan(390 * 86_400_000); // known: 13 months
  });

  it('accepts analytics.js traffic: a one-letter route, text/plain, the write key in the body', async () => {
    const response = await fetch(`${runtime.url}/v1/t`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: JSON.stringify({ anonymousId: 'browser-1', event: 'Product Viewed', properties: { product_id: 'b1' }, writeKey: WRITE_KEY }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const profile = await eventually(async () => {
      const { status, body } = await getProfile(runtime.url, 'browser-1', '?idType=anonymousId');
      return status === 200 ? body : undefined;
    });
    expect(profile.recentItems).toEqual([expect.objectContaining({ itemId: 'b1' })]);
    // Anonymous visitors expire sooner (30 days by default).
    expect(Date.parse(profile.expiresAt) - Date.now()).toBeLessThan(31 * 86_400_000);

    const preflight = await fetch(`${runtime.url}/v1/t`, { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('bad input gets a clear 4xx, never a 5xx', () => {
  const deep = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
  const cases: Array<[string, () => Promise<{ status: number; body: any }>, number, RegExp]> = [
    ['malformed JSON', () => post(`${runtime.url}/v1/track`, '{"userId": "u", "event": '), 400, /Malformed JSON/],
    ['a JSON array body', () => post(`${runtime.url}/v1/track`, '[1,2]'), 400, /must be a JSON object/],
    ['a JSON string body', () => post(`${runtime.url}/v1/track`, '"hello"'), 400, /must be a JSON object/],
    ['an empty body', () => post(`${runtime.url}/v1/track`, ''), 400, /empty/],
    ['no identity', () => post(`${runtime.url}/v1/track`, { event: 'x' }), 400, /userId or anonymousId is required/],
    ['a track call without event', () => post(`${runtime.url}/v1/track`, { userId: 'u' }), 400, /event/],
    ['a bad timestamp', () => post(`${runtime.url}/v1/track`, { userId: 'u', event: 'x', timestamp: 'yesterday' }), 400, /timestamp/],
    ['a timestamp from 1970', () => post(`${runtime.url}/v1/track`, { userId: 'u', event: 'x', timestamp: '1970-01-02T00:00:00Z' }), 400, /before 2000/],
    ['a form-encoded body', () => post(`${runtime.url}/v1/track`, 'userId=u', { 'Content-Type': 'application/x-www-form-urlencoded' }), 415, /Content-Type/],
    ['deep nesting', () => post(`${runtime.url}/v1/track`, `{"userId":"u","event":"x","properties":${deep(5000)}}`), 400, /nested deeper/],
    ['an event over 32 KB', () => post(`${runtime.url}/v1/track`, { userId: 'u', event: 'x', properties: { blob: 'x'.repeat(40_000) } }), 400, /32 KB/],
    ['a body over 500 KB', () => post(`${runtime.url}/v1/batch`, { batch: [{ userId: 'u', type: 'track', event: 'x', properties: { blob: 'x'.repeat(600_000) } }] }), 413, /larger than/],
    ['a gzip bomb', () => post(`${runtime.url}/v1/track`, gzipSync(Buffer.alloc(5_000_000, 32)), { 'Content-Encoding': 'gzip' }), 413, /larger than/],
    ['invalid UTF-8', () => post(`${runtime.url}/v1/track`, new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), 400, /UTF-8/],
    ['a batch that is not an array', () => post(`${runtime.url}/v1/batch`, { batch: { type: 'track' } }), 400, /batch/],
    ['an empty batch', () => post(`${runtime.url}/v1/batch`, { batch: [] }), 400, /empty/],
    // Refused by API Gateway (the write key's authorizer), with its UNAUTHORIZED gateway response.
    ['no credentials', () => post(`${runtime.url}/v1/track`, { userId: 'u', event: 'x' }, { Authorization: '' }), 401, /^Missing or invalid key: send HTTP Basic/],
    ['a wrong write key', () => post(`${runtime.url}/v1/track`, { userId: 'u', event: 'x' }, { Authorization: basic('nope') }), 401, /^Missing or invalid key: send HTTP Basic/],
    ['a non-Basic Authorization header', () => post(`${runtime.url}/v1/track`, { userId: 'u', event: 'x' }, { Authorization: 'Bearer abc' }), 401, /^Missing or invalid key: send HTTP Basic/],
  ];
  it.each(cases)('%s', async (_name, send, status, message) => {
    const response = await send();
    expect(response.status).toBe(status);
    expect(response.body).toEqual(expect.objectContaining({ success: false, message: expect.stringMatching(message) }));
  });

  it('keeps the valid events of a batch and lists each rejected one with its index and reason', async () => {
    const response = await post(`${runtime.url}/v1/batch`, {
      batch: [
        { type: 'track', userId: 'mixed', event: 'Product Viewed', properties: { product_id: 'm1' }, messageId: 'mixed-1' },
        { type: 'track', event: 'no identity' },
        { type: 'bogus', userId: 'mixed' },
        'not an object',
        { type: 'identify', userId: 'mixed', traits: { name: 'Mixed' }, messageId: 'mixed-2' },
      ],
    });
    expect(response.status).toBe(400);
    expect(response.body.accepted).toBe(2);
    expect(response.body.rejected).toEqual([
      expect.objectContaining({ index: 1, reason: 'userId or anonymousId is required' }),
      expect.objectContaining({ index: 2, reason: expect.stringMatching(/type must be one of/) }),
      expect.objectContaining({ index: 3, reason: 'Event must be a JSON object' }),
    ]);
    const profile = await eventually(async () => {
      const { status, body } = await getProfile(runtime.url, 'mixed');
      return status === 200 && body.counts.identify === 1 ? body : undefined;
    });
    expect(profile.counts).toEqual({ track: 1, identify: 1 });
  });
});

describe('events rejected by the API', () => {
  it('answers 400 with the reasons, delivers the valid events to events/ and the rejected one to bad-events/ with source ingest', async () => {
    const response = await post(`${runtime.url}/v1/batch`, {
      batch: [
        { type: 'track', userId: 'lake-mixed', event: 'Product Viewed', properties: { product_id: 'l1' }, messageId: 'lake-mixed-1' },
        { type: 'track', userId: 'lake-mixed', messageId: 'lake-mixed-bad' },
        { type: 'identify', userId: 'lake-mixed', traits: { plan: 'pro' }, messageId: 'lake-mixed-2' },
      ],
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ accepted: 2, rejected: [{ index: 1, messageId: 'lake-mixed-bad', reason: 'event: is required for track calls' }] });

    const inLake = await eventually(async () => {
      const ids: string[] = [];
      for await (const event of readLakeEvents(runtime.lakeDir)) if (event.userId === 'lake-mixed') ids.push(event.messageId);
      return ids.length === 2 ? ids.sort() : undefined;
    }, 20_000, 'the valid events in events/');
    expect(inLake).toEqual(['lake-mixed-1', 'lake-mixed-2']);

    const rejected = lakeBadEvents(runtime.lakeDir).filter((b) => b.payload.includes('lake-mixed-bad'));
    expect(rejected).toEqual([
      {
        id: expect.stringMatching(/^ingest\/.+\/1$/),
        source: 'ingest',
        reason: 'event: is required for track calls',
        payload: JSON.stringify({ type: 'track', userId: 'lake-mixed', messageId: 'lake-mixed-bad' }),
        truncated: false,
        sourceId: sourceIdOf(WRITE_KEY),
        arrivedAt: expect.any(String),
        detectedAt: expect.any(String),
      },
    ]);
    // Partitioned by the time of the call, as Firehose does with the template's prefix.
    const [object] = lakeObjects(runtime.lakeDir, 'bad-events').filter((o) => o.lines.some((line) => line.includes('lake-mixed-bad')));
    const partitions = [0, 60_000].map((lag) => expandPrefix('dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/', Date.parse(rejected[0].detectedAt) + lag));
    expect(object.key).toMatch(new RegExp(`^(${partitions.join('|')})[^/]+-\\d{14}-[0-9a-f-]{36}\\.json\\.gz$`));
  });

  it('never records a request that is not authenticated', async () => {
    const before = lakeBadEvents(runtime.lakeDir).length;
    expect((await post(`${runtime.url}/v1/track`, { userId: 'anonymous-bad' }, { Authorization: basic('nope') })).status).toBe(401);
    expect((await post(`${runtime.url}/v1/track`, { userId: 'anonymous-bad' })).status).toBe(400); // authenticated: recorded
    const after = lakeBadEvents(runtime.lakeDir).filter((b) => b.payload.includes('anonymous-bad'));
    expect(after).toHaveLength(1);
    expect(lakeBadEvents(runtime.lakeDir)).toHaveLength(before + 1);
  });
});

describe('the profile processor', () => {
  it("sends records that fail validation to the lake's bad events with the reason, and keeps processing", async () => {
    const kinesis = kinesisAt(runtime.endpoints.kinesis);
    const streamName = tableName(ENV.eventStream);
    await kinesis.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: [
          { PartitionKey: 'poison', Data: Buffer.from('this is not json') },
          { PartitionKey: 'poison', Data: Buffer.from(`${JSON.stringify({ type: 'track', userId: 'poison', event: 'x' })}\n`) }, // not enriched
        ],
      }),
    );
    const ok = await post(`${runtime.url}/v1/track`, { userId: 'after-poison', event: 'Signed Up' });
    expect(ok.status).toBe(200);
    await eventually(async () => ((await getProfile(runtime.url, 'after-poison')).status === 200 ? true : undefined));

    const bad = await eventually(async () => {
      const poison = lakeBadEvents(runtime.lakeDir).filter((b) => b.partitionKey === 'poison');
      return poison.length === 2 ? poison : undefined;
    }, 20_000, 'the poison records in bad-events/');
    const reasonOf = (payload: string) => bad.find((b) => b.payload === payload)?.reason;
    expect(reasonOf('this is not json')).toMatch(/^Record data is not JSON/);
    expect(reasonOf(`${JSON.stringify({ type: 'track', userId: 'poison', event: 'x' })}\n`)).toMatch(/messageId/);
    expect(bad.every((b) => b.source === 'processor' && /^shardId-\d+\/\d+$/.test(b.id) && b.arrivedAt !== undefined && b.truncated === false)).toBe(true);
  });

  it('changes nothing when the same events are delivered again', async () => {
    const batch = {
      batch: [
        { type: 'track', userId: 'replayed', event: 'Product Viewed', messageId: 'r-1', properties: { product_id: 'x', category: 'Hats' } },
        { type: 'track', userId: 'replayed', event: 'Product Added', messageId: 'r-2', properties: { product_id: 'x', quantity: 1 } },
      ],
    };
    expect((await post(`${runtime.url}/v1/batch`, batch)).status).toBe(200);
    const first = await eventually(async () => {
      const { status, body } = await getProfile(runtime.url, 'replayed');
      return status === 200 && body.counts.track === 2 ? body : undefined;
    });
    // The client retries the whole batch (as after a timeout), then a marker event follows it.
    expect((await post(`${runtime.url}/v1/batch`, batch)).status).toBe(200);
    expect((await post(`${runtime.url}/v1/track`, { userId: 'replayed', event: 'Marker', messageId: 'r-3' })).status).toBe(200);
    const after = await eventually(async () => {
      const { body } = await getProfile(runtime.url, 'replayed');
      return body.events.Marker === 1 ? body : undefined;
    });
    expect(after.counts.track).toBe(3);
    expect(after.events).toEqual({ 'Product Viewed': 1, 'Product Added': 1, Marker: 1 });
    expect(after.cart.items).toEqual(first.cart.items);
  });
});

describe('profiles and their TTL', () => {
  it('guards profile reads with IAM authorization: SigV4 with the local credentials', async () => {
    const unsigned = await fetch(`${runtime.url}/v1/profiles/sdk-user`);
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toMatchObject({ message: 'Missing Authentication Token' });
    const writeKey = await fetch(`${runtime.url}/v1/profiles/sdk-user`, { headers: { Authorization: basic(WRITE_KEY) } });
    expect(writeKey.status).toBe(403);
    const wrongSecret = await signedFetch(`${runtime.url}/v1/profiles/sdk-user`, {}, { accessKeyId: 'local', secretAccessKey: 'not-the-secret' });
    expect(wrongSecret.status).toBe(403);
    expect(((await wrongSecret.json()) as { message: string }).message).toMatch(/^The request signature we calculated does not match/);
    expect((await getProfile(runtime.url, 'nobody-at-all')).status).toBe(404);
  });

  it('treats an expired profile as absent before the sweeper deletes it, then the sweeper deletes it', async () => {
    const dynamodb = dynamoDbAt(runtime.endpoints.dynamodb);
    const table = tableName(ENV.profilesTable);
    const state = { profileId: 'user#expired', userId: 'expired', anonymousIds: {}, counts: { track: 1 }, events: {}, traits: {}, traitStamps: {}, orders: { count: 0, revenueUnits: 0 }, affinity: { at: 0, scores: {} }, recent: [], cart: { clearedAt: 0, lines: {} }, groups: {} };
    await dynamodb.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: 'user#expired' }, profile: { S: JSON.stringify(state) }, version: { N: '1' }, expiresAt: { N: String(Math.floor(Date.now() / 1000) - 60) }, updatedAt: { N: '0' } },
      }),
    );
    expect((await getProfile(runtime.url, 'expired')).status).toBe(404);
    expect(await runtime.ttl.sweep()).toBeGreaterThanOrEqual(1);
    const { Items = [] } = await dynamodb.send(new ScanCommand({ TableName: table }));
    expect(Items.map((item) => item.pk.S)).not.toContain('user#expired');
    expect(Items.map((item) => item.pk.S)).toContain('user#sdk-user'); // live profiles are untouched
  });
});
