import { readLakeEvents } from '../../local/lake-writer';
import { openLake } from '../../local/lake-query';
import { lakeObjects } from '../support/lake';
import { adminRequest, eventually, getProfile, post, startTestRuntime } from '../support/local-runtime';

jest.setTimeout(120_000);

async function lakeMessageIds(lakeDir: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const event of readLakeEvents(lakeDir)) ids.push(event.messageId);
  return ids.sort();
}

/**
 * Analytics consent enforced at the lake, through the local runtime: the events delivery stream's processor (the
 * consent filter function of the template) runs between the stream and the lake files, as Firehose runs it.
 */
it('keeps the events of a person who withdrew analytics consent, and events that refuse it, out of the lake; everyone else’s are all there', async () => {
  const runtime = await startTestRuntime();
  try {
    const send = async (batch: object[]) => expect((await post(`${runtime.url}/v1/batch`, { batch })).status).toBe(200);
    const track = (messageId: string, ids: object, extra: object = {}) => ({ type: 'track', event: 'Product Viewed', properties: { product_id: 'p1' }, messageId, ...ids, ...extra });
    const refusing = { context: { consent: { categoryPreferences: { Analytics: false, Personalization: true } } } };

    // Before the withdrawal: Ada (on her laptop, then logged in on her phone) and Bob.
    await send([
      track('ada-before-1', { userId: 'ada' }),
      { type: 'identify', messageId: 'ada-identify', userId: 'ada', anonymousId: 'ada-phone', traits: { plan: 'pro' } },
      track('bob-before-1', { userId: 'bob' }),
    ]);
    const before = ['ada-before-1', 'ada-identify', 'bob-before-1'];
    await eventually(async () => ((await lakeMessageIds(runtime.lakeDir)).length === before.length ? true : undefined), 30_000, () => `the first events in the lake; logs: ${runtime.logs.slice(-10).join(' | ')}`);

    // Ada withdraws analytics consent through an operator; it applies once the statement is processed.
    const response = await adminRequest(runtime.url, 'PUT', '/v1/profiles/ada/consent', { categoryPreferences: { Analytics: false } });
    expect(response.status).toBe(202);
    const { messageId: withdrawal } = (await response.json()) as { messageId: string };
    await eventually(async () => ((await getProfile(runtime.url, 'ada')).body.consent?.analytics?.granted === false ? true : undefined), 30_000, 'the withdrawal');

    // After it: Ada by her user id and by her phone's anonymous id; Bob; Cy, whose consent manager refuses analytics on one event.
    await send([
      track('ada-after-1', { userId: 'ada' }),
      track('ada-after-2', { anonymousId: 'ada-phone' }),
      track('bob-after-1', { userId: 'bob' }),
      track('cy-refused', { anonymousId: 'cy' }, refusing),
      track('cy-unstated', { anonymousId: 'cy' }),
      track('bob-after-2', { userId: 'bob' }),
    ]);
    await runtime.stop(); // drains the stream through the filter into the lake

    const kept = [...before, 'bob-after-1', 'bob-after-2', 'cy-unstated'].sort();
    expect(await lakeMessageIds(runtime.lakeDir)).toEqual(kept);
    // Not in any object, not even as a duplicate or a damaged line; and nothing went to the error output.
    const lines = lakeObjects(runtime.lakeDir).flatMap((o) => o.lines);
    for (const refused of ['ada-after-1', 'ada-after-2', 'cy-refused', withdrawal]) expect(lines.filter((line) => line.includes(refused))).toEqual([]);
    expect(lakeObjects(runtime.lakeDir, 'errors')).toEqual([]);

    // What analysts query (the local Athena) holds the same rows.
    const lake = await openLake(runtime.lakeDir);
    try {
      const rows = await lake.run('SELECT messageid, userid, anonymousid FROM events ORDER BY messageid');
      expect(rows.map((r) => r.messageid)).toEqual(kept);
      expect(await lake.run("SELECT count(*) AS n FROM events WHERE userid = 'ada' OR anonymousid = 'ada-phone'")).toEqual([{ n: 2 }]);
    } finally {
      lake.close();
    }
  } finally {
    await runtime.stop();
  }
});
