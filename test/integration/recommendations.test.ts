import { Analytics } from '@segment/analytics-node';
import { readLakeEvents } from '../../local/lake-writer';
import { itemsTableOf, trainLocal } from '../../local/train';
import { adminRequest, basic, dynamoDbAt, eventually, getProfile, READ_KEY, startTestRuntime, WRITE_KEY } from '../support/local-runtime';

/**
 * The recommendation flow through the local runtime, as a product team sees it: load a catalog, send events
 * with a Segment client, train, ask for recommendations.
 */
describe('recommendations through the local runtime', () => {
  let runtime: Awaited<ReturnType<typeof startTestRuntime>>;
  beforeAll(async () => {
    // Every request reads the model pointer, so a new version is served at once (10 s of caching by default).
    runtime = await startTestRuntime({ context: { recommendations: { modelCacheSeconds: 0 } } });
  }, 120_000);
  afterAll(() => runtime?.stop());

  const putItems = (body: unknown) => adminRequest(runtime.url, 'PUT', '/v1/items', body);
  const recommend = async (query: Record<string, string>) => {
    const response = await fetch(`${runtime.url}/v1/recommendations?${new URLSearchParams(query)}`, { headers: { Authorization: basic(READ_KEY) } });
    return { status: response.status, body: (await response.json()) as any };
  };
  const ids = (body: { items: Array<{ itemId: string }> }) => body.items.map((i) => i.itemId);
  const train = () => {
    const dynamodb = dynamoDbAt(runtime.endpoints.dynamodb);
    return trainLocal({ dynamodb, itemsTable: itemsTableOf(runtime.model), lakeDir: runtime.lakeDir, log: () => {} }).finally(() => dynamodb.destroy());
  };

  const catalog = [
    ...['tent', 'stove', 'lamp', 'mat'].map((id) => ({ itemId: id, categories: ['Camping'], price: 50 })),
    ...['novel', 'bookmark', 'reading-light'].map((id) => ({ itemId: id, categories: ['Books'], price: 10 })),
    { itemId: 'retired', categories: ['Camping'] },
    { itemId: 'sold-out', categories: ['Camping'], available: false },
  ];

  it('manages the catalog through the IAM-authorized admin API, item by item', async () => {
    expect((await putItems({ items: catalog })).status).toBe(200);
    const partial = await putItems({ items: [{ itemId: 'ok-item', categories: ['Books'] }, { itemId: '', categories: [] }] });
    expect(partial.status).toBe(400);
    expect(await partial.json()).toMatchObject({ accepted: 1, rejected: [{ index: 1 }] });
    const del = await adminRequest(runtime.url, 'DELETE', '/v1/items/retired');
    expect(await del.json()).toMatchObject({ success: true, deleted: true });
    // An API key is no SigV4 signature.
    expect((await fetch(`${runtime.url}/v1/items`, { method: 'PUT', headers: { Authorization: basic(READ_KEY) }, body: '{}' })).status).toBe(403);
  });

  it('recommends from the catalog before any model is trained, never an unavailable or deleted item', async () => {
    const { status, body } = await recommend({ anonymousId: 'first-visitor', limit: '20' });
    expect(status).toBe(200);
    expect(body.items.length).toBeGreaterThan(0);
    expect(body).not.toHaveProperty('modelVersion');
    expect(ids(body)).not.toContain('sold-out');
    expect(ids(body)).not.toContain('retired');
  });

  it('learns from events sent with a Segment client and reacts to what a person just did', async () => {
    const analytics = new Analytics({ writeKey: WRITE_KEY, host: runtime.url, flushAt: 100, flushInterval: 100, maxRetries: 1 });
    const buy = (userId: string, products: string[]) =>
      analytics.track({ userId, event: 'Order Completed', properties: { order_id: `${userId}-order`, products: products.map((product_id) => ({ product_id, quantity: 1 })) } });
    for (let u = 0; u < 12; u++) buy(`camper-${u}`, ['tent', 'stove', 'retired', 'sold-out']);
    for (let u = 0; u < 6; u++) buy(`reader-${u}`, ['novel', 'bookmark']);
    for (let u = 0; u < 3; u++) analytics.track({ userId: `hiker-${u}`, event: 'Product Viewed', properties: { product_id: 'lamp', category: 'Camping' } });
    await analytics.closeAndFlush();

    // Everything accepted reaches the lake, which is what training reads.
    await eventually(async () => {
      let orders = 0;
      for await (const e of readLakeEvents(runtime.lakeDir)) if (e.event === 'Order Completed') orders++;
      return orders === 18 ? true : undefined;
    }, 20_000, 'the orders in the lake');
    const trained = await train();
    expect(trained.stats.interactions).toBe(12 * 4 + 6 * 2 + 3);

    // A known person who bought a tent is shown the stove (bought with it), never the deleted or sold-out items.
    await eventually(async () => ((await getProfile(runtime.url, 'camper-0')).status === 200 ? true : undefined), 20_000, 'the profile');
    const camper = await recommend({ userId: 'camper-0', limit: '5' });
    expect(camper.body).toMatchObject({ strategy: 'hybrid', variant: 'default', modelVersion: trained.version });
    expect(ids(camper.body)).not.toContain('tent'); // bought
    expect(ids(camper.body)).not.toContain('retired');
    expect(ids(camper.body)).not.toContain('sold-out');

    // An anonymous visitor with one event: more like what they just looked at.
    const post = await fetch(`${runtime.url}/v1/track`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: basic(WRITE_KEY) },
      body: JSON.stringify({ anonymousId: 'one-view', event: 'Product Viewed', properties: { product_id: 'novel', category: 'Books' } }),
    });
    expect(post.status).toBe(200);
    const oneView = await eventually(async () => {
      const r = await recommend({ anonymousId: 'one-view', limit: '3' });
      return r.body.items[0]?.reasons.includes('similar:novel') ? r : undefined;
    }, 20_000, 'recommendations reflecting the view');
    expect(ids(oneView.body)[0]).toBe('bookmark');

    // A visitor with no events at all: the popularity chain.
    const nobody = await recommend({ anonymousId: 'never-seen', limit: '3' });
    expect(nobody.body.items).toHaveLength(3);
    expect(nobody.body.items.every((i: { reasons: string[] }) => i.reasons.some((r) => r === 'trending' || r.startsWith('popular')))).toBe(true);

    // "More like this" for the tent.
    const moreLike = await recommend({ anonymousId: 'never-seen', itemId: 'tent', limit: '2' });
    expect(ids(moreLike.body)[0]).toBe('stove');
    expect(moreLike.body.items[0].reasons).toContain('context:tent');
  }, 90_000);

  it('writes an exposure event per response, with the items shown, for attribution', async () => {
    const { body } = await recommend({ anonymousId: 'exposed', limit: '2' });
    const exposure = await eventually(async () => {
      for await (const e of readLakeEvents(runtime.lakeDir)) if (e.properties?.recommendation_id === body.recommendationId) return e;
      return undefined;
    }, 20_000, 'the exposure event in the lake');
    expect(exposure).toMatchObject({
      event: 'Recommendations Shown',
      anonymousId: 'exposed',
      properties: { variant: 'default', products: body.items.map((i: { itemId: string }, n: number) => ({ product_id: i.itemId, position: n + 1 })) },
    });
  });

  it('refuses bad queries with reasons and unknown keys with 401', async () => {
    expect((await recommend({ limit: '5' })).status).toBe(400);
    expect((await recommend({ userId: 'u', limit: '1000' })).body.message).toContain('limit');
    const wrongKey = await fetch(`${runtime.url}/v1/recommendations?userId=u`, { headers: { Authorization: basic(WRITE_KEY) } });
    expect(wrongKey.status).toBe(401);
  });
});
