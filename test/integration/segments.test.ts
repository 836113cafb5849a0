import { recordedEvents } from '../../local/event-bus';
import { SEGMENT_EVENT_SOURCE } from '../../lambdas/shared/store/segment-bus';
import { ADMIN_KEY, basic, eventually, getProfile, post, startTestRuntime } from '../support/local-runtime';

/**
 * Real-time segments through the local runtime: a definition created over the admin API, evaluated by the real
 * processor, timed exits by the real clock function on its schedule, and the entry and exit events as the local
 * EventBridge recorded them.
 */
describe('segments through the local runtime', () => {
  let runtime: Awaited<ReturnType<typeof startTestRuntime>>;
  // The clock runs every second here instead of every minute.
  beforeAll(async () => {
    runtime = await startTestRuntime({ schedulePeriodMs: 1000 });
  }, 120_000);
  afterAll(() => runtime?.stop());

  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${runtime.url}${path}`, {
      method,
      headers: { Authorization: basic(ADMIN_KEY), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const busName = () => runtime.model.buses[0].name;
  const segmentEvents = () => recordedEvents(runtime.eventBusDir, busName()).filter((e) => e.source === SEGMENT_EVENT_SOURCE);

  it('enters a person who added to cart, and exits them 10 minutes after the add with no new event, each published once', async () => {
    const definition = {
      id: 'cart-abandoners',
      name: 'Added to cart in the last 10 minutes and did not buy',
      condition: { all: [{ cart: { addedWithin: '10m' } }, { not: { event: { name: 'Order Completed', within: '10m' } } }] },
    };
    expect((await admin('POST', '/v1/segments', definition)).status).toBe(201);
    expect(await (await admin('GET', '/v1/segments/cart-abandoners')).json()).toMatchObject({ id: 'cart-abandoners', version: 1 });
    // The processor reads definitions at most 30 s old: a new runtime's first batch reads them fresh.

    // Added to cart 9 minutes 52 seconds ago: in the segment now, out 8 seconds from now.
    const addedAt = Date.now() - (9 * 60 + 52) * 1000;
    const add = { type: 'track', userId: 'cleo', event: 'Product Added', properties: { product_id: 'tent', price: 120 }, timestamp: new Date(addedAt).toISOString() };
    expect((await post(`${runtime.url}/v1/track`, add)).status).toBe(200);

    const entered = await eventually(async () => {
      const events = segmentEvents();
      return events.length >= 1 ? events : undefined;
    }, 20_000, () => `the entry event; the runtime logged: ${runtime.logs.slice(-10).join(' | ')}`);
    expect(entered[0]).toMatchObject({
      'detail-type': 'Segment Entered',
      detail: { segmentId: 'cart-abandoners', profileId: 'user#cleo', userId: 'cleo', type: 'entered', reason: 'condition' },
    });
    const profile = await getProfile(runtime.url, 'cleo');
    expect(profile.body.segments).toEqual([{ id: 'cart-abandoners', since: entered[0].detail.since }]);

    const events = await eventually(async () => {
      const all = segmentEvents();
      return all.length >= 2 ? all : undefined;
    }, 30_000, () => `the exit event; the runtime logged: ${runtime.logs.slice(-10).join(' | ')}`);
    expect(events[1]).toMatchObject({
      'detail-type': 'Segment Exited',
      detail: { segmentId: 'cart-abandoners', profileId: 'user#cleo', type: 'exited', reason: 'condition', since: entered[0].detail.since },
    });
    // At exactly the add time + 10 minutes, whenever the clock noticed.
    expect(events[1].detail.at).toBe(new Date(addedAt + 10 * 60_000).toISOString());
    expect(events[1].time).toBe(new Date(Math.floor((addedAt + 10 * 60_000) / 1000) * 1000).toISOString().replace('.000Z', 'Z'));

    // Later clock runs publish nothing more.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(segmentEvents()).toHaveLength(2);
    expect((await getProfile(runtime.url, 'cleo')).body.segments).toEqual([]);
  });

  it('manages definitions over the admin API with clear errors', async () => {
    const invalid = await admin('POST', '/v1/segments', { id: 'Bad Id', name: '', condition: { event: { name: 'x', within: '100d' } } });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { message: string }).message).toMatch(/id.*name.*within|id/);
    expect((await admin('PUT', '/v1/segments/viewers', { name: 'Viewers', condition: { event: { name: 'Product Viewed', within: '1d' } } })).status).toBe(201);
    const list = (await (await admin('GET', '/v1/segments')).json()) as { segments: Array<{ id: string }> };
    expect(list.segments.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining(['viewers']));
    expect((await admin('DELETE', '/v1/segments/viewers')).status).toBe(204);
    expect((await admin('GET', '/v1/segments/viewers')).status).toBe(404);
    expect((await fetch(`${runtime.url}/v1/segments`)).status).toBe(401);
  });
});
