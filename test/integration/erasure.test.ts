import { openLake } from '../../local/lake-query';
import { recordedEvents } from '../../local/event-bus';
import { lakeObjects } from '../support/lake';
import { adminRequest, eventually, getProfile, post, startTestRuntime } from '../support/local-runtime';

/**
 * Export and erasure through the local runtime: the real processor, lake filter and lake writer, the privacy API
 * and the erasure worker on its schedule (the lake found with DuckDB and rewritten as files, where AWS uses Athena
 * and S3), over HTTP as an operator calls them.
 */
jest.setTimeout(120_000);

describe('export and erasure through the local runtime', () => {
  let runtime: Awaited<ReturnType<typeof startTestRuntime>>;
  beforeAll(async () => {
    runtime = await startTestRuntime({ schedulePeriodMs: 1000, erasureSettleSeconds: 2 });
  }, 120_000);
  afterAll(() => runtime?.stop());

  const admin = (method: string, path: string, body?: unknown) => adminRequest(runtime.url, method, path, body);
  const send = (batch: object[]) => post(`${runtime.url}/v1/batch`, { batch });
  const at = (minutes: number) => new Date(Date.now() - 30 * 60_000 + minutes * 60_000).toISOString();
  /** Lake lines (all prefixes a person's data can reach) that mention any of `ids`, even escaped inside a rejected payload. */
  const linesMentioning = (ids: string[]) =>
    ['events', 'bad-events', 'errors', 'segment-events'].flatMap((prefix) => lakeObjects(runtime.lakeDir, prefix).flatMap((o) => o.lines)).filter((line) => ids.some((id) => line.includes(id)));

  it('exports everything held on a person, then erases them everywhere: profile, ids, segments, lake files and query results', async () => {
    expect((await admin('PUT', '/v1/segments/shoppers', { name: 'Shoppers', condition: { event: { name: 'Product Viewed', within: '1d' } } })).status).toBe(201);
    const erin = [
      { type: 'track', anonymousId: 'erin-phone', event: 'Product Viewed', properties: { product_id: 'tent', category: 'Camping' }, timestamp: at(0), messageId: 'erin-1' },
      { type: 'identify', userId: 'erin', anonymousId: 'erin-phone', traits: { email: 'erin@example.com' }, timestamp: at(1), messageId: 'erin-2' },
      { type: 'track', userId: 'erin', event: 'Product Viewed', properties: { product_id: 'stove', category: 'Camping' }, timestamp: at(2), messageId: 'erin-3' },
    ];
    const bob = [{ type: 'track', userId: 'bob', event: 'Product Viewed', properties: { product_id: 'tent', category: 'Camping' }, timestamp: at(3), messageId: 'bob-1' }];
    expect((await send([...erin, ...bob])).status).toBe(200);
    // A rejected event of hers lands in bad-events/ with her id.
    expect((await post(`${runtime.url}/v1/track`, { userId: 'erin', event: '', messageId: 'erin-bad' })).status).toBe(400);

    await eventually(async () => {
      const { status, body } = await getProfile(runtime.url, 'erin');
      return status === 200 && body.events['Product Viewed'] === 2 && body.segments.length === 1 ? body : undefined;
    }, 30_000, 'her merged profile, in the segment');
    // Her 3 events, the rejected one and her segment entry are in the lake (and Bob's event and entry).
    const landed = (ids: string[], texts: string[]) => texts.every((text) => linesMentioning(ids).some((l) => l.includes(text)));
    await eventually(
      async () => (landed(['erin'], ['"erin-1"', '"erin-2"', '"erin-3"', 'erin-bad', '"profileId":"user#erin"']) && landed(['bob'], ['"bob-1"', '"profileId":"user#bob"']) ? true : undefined),
      30_000,
      () => `her events in the lake: ${JSON.stringify(linesMentioning(['erin', 'bob']))}`,
    );

    // Export: the profile with consent and segments, her ids, and her events from the lake.
    const exported = await admin('GET', '/v1/profiles/erin-phone/export?idType=anonymousId');
    expect(exported.status).toBe(200);
    const body = (await exported.json()) as any;
    expect(body.profile).toMatchObject({ profileId: 'user#erin', userId: 'erin', traits: { email: 'erin@example.com' }, segments: [{ id: 'shoppers' }] });
    expect(body.identities.eventIds.sort()).toEqual(['erin', 'erin-phone']);
    expect(body.events.map((e: { messageId: string }) => e.messageId)).toEqual(['erin-1', 'erin-2', 'erin-3']);

    // Erasure.
    const requested = await admin('DELETE', '/v1/profiles/erin');
    expect(requested.status).toBe(202);
    const erasure = (await requested.json()) as any;
    expect(erasure).toMatchObject({ status: 'pending', erasureId: expect.any(String) });
    expect(requested.headers.get('location')).toBe(`/v1/erasures/${erasure.erasureId}`);
    // Gone at once, by every id.
    expect((await getProfile(runtime.url, 'erin')).status).toBe(404);
    expect((await getProfile(runtime.url, 'erin-phone', '?idType=anonymousId')).status).toBe(404);
    // Later events under any of her ids are dropped: never applied, never in the lake.
    expect((await send([{ type: 'track', anonymousId: 'erin-phone', event: 'Product Viewed', properties: { product_id: 'lamp' }, messageId: 'erin-after' }])).status).toBe(200);

    const done = await eventually(async () => {
      const status = (await (await admin('GET', `/v1/erasures/${erasure.erasureId}`)).json()) as any;
      return status.status === 'complete' ? status : undefined;
    }, 30_000, () => `the erasure to complete; the runtime logged: ${runtime.logs.slice(-10).join(' | ')}`);
    expect(done.result).toMatchObject({ profilesDeleted: 2, lake: { linesRemoved: expect.any(Number) } });
    expect(done.result.lake.linesRemoved).toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(done)).not.toContain('erin'); // the record keeps no personal data

    // The files and the query results hold nothing of hers; Bob is intact.
    await new Promise((resolve) => setTimeout(resolve, 2000)); // the event sent after the erasure has been through the lake by now
    expect(linesMentioning(['erin', 'erin-phone'])).toEqual([]);
    expect(linesMentioning(['bob'])).toHaveLength(2); // his event and his segment entry
    const lake = await openLake(runtime.lakeDir);
    try {
      expect(await lake.run(`SELECT count(*) AS n FROM events WHERE userid = 'erin' OR anonymousid = 'erin-phone'`)).toEqual([{ n: 0 }]);
      expect(await lake.run(`SELECT count(*) AS n FROM events WHERE userid = 'bob'`)).toEqual([{ n: 1 }]);
    } finally {
      lake.close();
    }
    expect((await getProfile(runtime.url, 'erin')).status).toBe(404);
    expect((await admin('GET', '/v1/profiles/erin/export')).status).toBe(404);

    // Her segment membership ended with the erasure, published once.
    const exits = recordedEvents(runtime.eventBusDir, runtime.model.buses[0].name).filter((e) => e['detail-type'] === 'Segment Exited' && e.detail.profileId === 'user#erin');
    expect(exits.map((e) => e.detail.reason)).toEqual(['erased']);
  });
});
