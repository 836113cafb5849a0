import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { recordedEvents } from '../../local/event-bus';
import { openLake } from '../../local/lake-query';
import { SEGMENT_EVENT_SOURCE } from '../../lambdas/shared/domain/segment-events';
import type { SegmentNotice } from '../../lambdas/shared/domain/segment-membership';
import { EventBridgeSegmentBus } from '../../lambdas/shared/store/segment-bus';
import { lakeObjects } from '../support/lake';
import { adminRequest, eventually, getProfile, post, startTestRuntime } from '../support/local-runtime';

/**
 * Real-time segments through the local runtime: a definition created over the admin API, evaluated by the real
 * processor, timed exits by the real clock function on its schedule, and the entry and exit events as the local
 * EventBridge recorded them, and delivered them to the lake.
 */
describe('segments through the local runtime', () => {
  let runtime: Awaited<ReturnType<typeof startTestRuntime>>;
  // The clock runs every second here instead of every minute.
  beforeAll(async () => {
    runtime = await startTestRuntime({ schedulePeriodMs: 1000 });
  }, 120_000);
  afterAll(() => runtime?.stop());

  const admin = (method: string, path: string, body?: unknown) => adminRequest(runtime.url, method, path, body);
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
    expect((await fetch(`${runtime.url}/v1/segments`)).status).toBe(403); // unsigned: API Gateway's Missing Authentication Token
  });

  it("lands the bus's segment events in the lake's segment-events/, one JSON line each, queryable as segment_events", async () => {
    const eventBridge = new EventBridgeClient({ region: 'us-east-1', endpoint: runtime.endpoints.eventBridge, credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    const at = Date.now() - 60_000;
    const membership = { segmentId: 'lake-check', profileId: 'user#dana', userId: 'dana', since: at - 5_000, reason: 'condition' } as const;
    const notices: SegmentNotice[] = [
      { ...membership, id: `lake-check/user#dana/${at - 5_000}/entered`, type: 'entered', at: at - 5_000 },
      { ...membership, id: `lake-check/user#dana/${at - 5_000}/exited`, type: 'exited', at },
    ];
    // Both in one call, so one object holds both records: they are lines only if a newline follows each.
    await new EventBridgeSegmentBus(eventBridge, busName()).publish(notices);
    // Another source on the same bus: not the rule's, so not in the lake.
    await eventBridge.send(new PutEventsCommand({ Entries: [{ EventBusName: busName(), Source: 'other.app', DetailType: 'Segment Entered', Detail: '{"segmentId":"lake-check"}' }] }));
    eventBridge.destroy();

    const published = recordedEvents(runtime.eventBusDir, busName()).filter((e) => e.detail.segmentId === 'lake-check');
    expect(published.map((e) => e.source)).toEqual([SEGMENT_EVENT_SOURCE, SEGMENT_EVENT_SOURCE, 'other.app']);
    // Delivered before PutEvents answered: no waiting.
    const objects = lakeObjects(runtime.lakeDir, 'segment-events').filter((o) => o.lines.some((line) => line.includes('"lake-check"')));
    expect(objects).toHaveLength(1);
    expect(objects[0].key).toMatch(/^dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/[^/]+\.json\.gz$/);
    expect(objects[0].lines.map((line) => JSON.parse(line))).toEqual(published.slice(0, 2));

    const lake = await openLake(runtime.lakeDir);
    try {
      const rows = await lake.run(`SELECT id, detail_type, source, "time", detail.noticeid AS notice_id, detail.userid AS user_id, detail.since AS since
                                   FROM segment_events WHERE detail.segmentid = 'lake-check' ORDER BY detail."at"`);
      expect(rows).toEqual(
        published.slice(0, 2).map((e, i) => ({
          id: e.id,
          detail_type: ['Segment Entered', 'Segment Exited'][i],
          source: SEGMENT_EVENT_SOURCE,
          time: e.time,
          notice_id: notices[i].id,
          user_id: 'dana',
          since: new Date(at - 5_000).toISOString(),
        })),
      );
    } finally {
      lake.close();
    }
  });
});
