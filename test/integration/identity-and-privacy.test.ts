import { adminRequest, basic, eventually, getProfile, post, READ_KEY, startTestRuntime } from '../support/local-runtime';

/**
 * Identity resolution, segments, consent and erasure through the local runtime: real handlers, the Kinesis and
 * DynamoDB emulators, over HTTP as clients and operators call them.
 */
describe('identity and privacy through the local runtime', () => {
  let runtime: Awaited<ReturnType<typeof startTestRuntime>>;
  beforeAll(async () => {
    runtime = await startTestRuntime();
  }, 120_000);
  afterAll(() => runtime?.stop());

  const send = (batch: object[]) => post(`${runtime.url}/v1/batch`, { batch });
  const at = (minutes: number) => new Date(Date.now() - 60 * 60_000 + minutes * 60_000).toISOString();

  it('makes a visitor who browses on a phone and logs in on a laptop one person with one profile', async () => {
    const phone = { device: { type: 'ios', model: 'iPhone' } };
    expect(
      (
        await send([
          { type: 'track', anonymousId: 'phone-1', event: 'Product Viewed', properties: { product_id: 'tent', category: 'Camping' }, timestamp: at(0), context: phone },
          { type: 'track', anonymousId: 'phone-1', event: 'Product Added', properties: { product_id: 'tent', price: 120 }, timestamp: at(1), context: phone },
          { type: 'track', anonymousId: 'laptop-1', event: 'Product Viewed', properties: { product_id: 'stove', category: 'Camping' }, timestamp: at(5) },
        ])
      ).status,
    ).toBe(200);
    // Logs in on the laptop, later on the phone, then keeps browsing on the phone without a userId.
    expect((await send([{ type: 'identify', userId: 'ada', anonymousId: 'laptop-1', traits: { email: 'ada@example.com' }, timestamp: at(6) }])).status).toBe(200);
    expect((await send([{ type: 'identify', userId: 'ada', anonymousId: 'phone-1', timestamp: at(10), context: phone }])).status).toBe(200);
    expect((await send([{ type: 'track', anonymousId: 'phone-1', event: 'Product Viewed', properties: { product_id: 'lamp', category: 'Camping' }, timestamp: at(11), context: phone }])).status).toBe(200);

    const profile = await eventually(async () => {
      const { status, body } = await getProfile(runtime.url, 'ada');
      return status === 200 && body.events['Product Viewed'] === 3 && body.counts.identify === 2 ? body : undefined;
    }, 30_000, 'the merged profile');
    expect(profile).toMatchObject({
      profileId: 'user#ada',
      userId: 'ada',
      traits: { email: 'ada@example.com' },
      events: { 'Product Viewed': 3, 'Product Added': 1 },
      cart: { items: [{ itemId: 'tent', quantity: 1, price: 120 }] },
    });
    expect(profile.anonymousIds.sort()).toEqual(['laptop-1', 'phone-1']);
    expect(profile.recentItems.map((r: { itemId: string }) => r.itemId)).toEqual(['lamp', 'stove', 'tent', 'tent']);

    // Every id the person used reads the same profile.
    for (const id of ['phone-1', 'laptop-1']) {
      const { status, body } = await getProfile(runtime.url, id, '?idType=anonymousId');
      expect(status).toBe(200);
      expect(body).toMatchObject({ profileId: 'user#ada', version: profile.version });
    }
  });

  it('honours a withdrawal of personalization consent made through the admin API, for every linked id', async () => {
    const putConsent = (categoryPreferences: Record<string, boolean>) => adminRequest(runtime.url, 'PUT', '/v1/profiles/ada/consent', { categoryPreferences });
    const recommend = async (query: string) => (await fetch(`${runtime.url}/v1/recommendations?${query}`, { headers: { Authorization: basic(READ_KEY) } })).json() as Promise<any>;

    expect(await recommend('anonymousId=phone-1')).toMatchObject({ personalized: true });
    const response = await putConsent({ Personalization: false });
    expect(response.status).toBe(202);
    const withdrawn = await eventually(async () => {
      const { body } = await getProfile(runtime.url, 'ada');
      return body.consent?.personalization?.granted === false ? body : undefined;
    }, 30_000, 'the withdrawal');
    // What was learnt for personalization is gone; who the person is stays.
    expect(withdrawn).toMatchObject({ events: {}, recentItems: [], cart: { items: [] }, traits: { email: 'ada@example.com' } });
    expect(withdrawn.consent.personalization).toMatchObject({ granted: false, source: 'admin' });

    // Events sent after the withdrawal teach nothing, and recommendations by any of the person's ids are not personalized.
    expect((await send([{ type: 'track', anonymousId: 'phone-1', event: 'Product Viewed', properties: { product_id: 'mat' } }])).status).toBe(200);
    await eventually(async () => ((await getProfile(runtime.url, 'ada')).body.counts.track === 5 ? true : undefined), 30_000, 'the later event');
    expect((await getProfile(runtime.url, 'ada')).body.recentItems).toEqual([]);
    for (const query of ['userId=ada', 'anonymousId=phone-1', 'anonymousId=laptop-1']) expect(await recommend(query)).toMatchObject({ personalized: false, strategy: 'popular' });
  });
});
