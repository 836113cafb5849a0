import { mulberry32, shuffle } from '../../local/random';
import { readLakeEvents } from '../../local/lake-writer';
import { getProfile, kinesisAt, startTestRuntime, WRITE_KEY } from '../support/local-runtime';
import { audit, describeAudit } from './audit';
import { eventStreamOf, messageIdOf, putRaw, readStream, waitForConsumers } from './stream';
import { batchesOf, generateEvents, Ledger, SentEvent, sendAll } from './traffic';

/**
 * Duplicates and replays: the same events sent once in order, and sent again under other ids shuffled, every batch
 * twice, regrouped, and finally put on the stream a second time in reverse order, must build identical profiles,
 * each event counted once.
 */
let runtime: Awaited<ReturnType<typeof startTestRuntime>>;
beforeAll(async () => {
  runtime = await startTestRuntime();
});
afterAll(() => runtime?.stop());

/** The same events under another prefix (its people and message ids). */
const renamed = (events: readonly SentEvent[], from: string, to: string): SentEvent[] =>
  events.map((e) => ({ ...e, messageId: e.messageId.replace(from, to), userId: e.userId.replace(from, to) }));

/** A profile without what names it or records when and how often it was written. */
function comparable(profile: any, prefix: string): unknown {
  const { profileId, userId, version, updatedAt, expiresAt, affinities, ...rest } = profile;
  // Affinities decay to the time of the read: two reads a few milliseconds apart differ in the last digits.
  const rounded = affinities.map((a: { category: string; score: number }) => ({ category: a.category, score: Number(a.score.toPrecision(4)) }));
  return { ...JSON.parse(JSON.stringify(rest).replaceAll(`${prefix}-`, '')), affinities: rounded };
}

it('builds identical profiles from in-order traffic and from the same traffic duplicated, shuffled, regrouped and replayed from the stream', async () => {
  const options = { writeKey: WRITE_KEY, concurrency: 4 };
  const original = generateEvents({ prefix: 'inorder', users: 60, events: 3000, seed: 7 });

  const inOrder = new Ledger();
  await sendAll(runtime.url, batchesOf(original, 50), inOrder, { ...options, concurrency: 1 });

  const copy = renamed(original, 'inorder', 'replayed');
  const replayed = new Ledger();
  const random = mulberry32(11);
  const batches = batchesOf(copy, 50);
  // Every batch twice, in shuffled order, four requests at a time; then all of it again in batches of 7, shuffled.
  await sendAll(runtime.url, shuffle([...batches, ...batches], random), replayed, options);
  await sendAll(runtime.url, shuffle(batchesOf(copy, 7), random), replayed, options);

  // The stream delivering every record of the case a second time, newest first (what a replay of the stream does).
  const kinesis = kinesisAt(runtime.endpoints.kinesis);
  const stream = eventStreamOf(runtime);
  const records = (await readStream(kinesis, stream)).filter((r) => messageIdOf(r)?.startsWith('replayed-'));
  expect(records.length).toBe(copy.length * 3);
  await putRaw(kinesis, stream, records.reverse().map((r) => ({ PartitionKey: r.PartitionKey, Data: r.Data })));
  kinesis.destroy();

  await waitForConsumers(runtime);
  const first = await audit({ baseUrl: runtime.url, lakeDir: runtime.lakeDir, ledger: inOrder, prefix: 'inorder' });
  const second = await audit({ baseUrl: runtime.url, lakeDir: runtime.lakeDir, ledger: replayed, prefix: 'replayed' });
  console.log(`${describeAudit('in order', first)}\n${describeAudit('duplicated and replayed', second)}`);
  for (const result of [first, second]) {
    expect(result.accepted).toBe(original.length);
    expect(result.mismatches).toEqual([]);
    expect([result.lost, result.duplicated, result.lakeMissing, result.lakeUnexpected]).toEqual([0, 0, 0, 0]);
  }
  expect(first.lakeExtraCopies).toBe(0);
  // Each replayed event reached the stream six times: the lake keeps the copies, and its readers take each event once.
  expect(second.lakeExtraCopies).toBe(copy.length * 5);
  const distinct = new Set<string>();
  for await (const event of readLakeEvents(runtime.lakeDir)) if (event.messageId.startsWith('replayed-')) distinct.add(event.messageId);
  expect(distinct.size).toBe(copy.length);

  const users = [...new Set(original.map((e) => e.userId))];
  for (const userId of users) {
    const a = await getProfile(runtime.url, userId);
    const b = await getProfile(runtime.url, userId.replace('inorder', 'replayed'));
    expect(comparable(b.body, 'replayed')).toEqual(comparable(a.body, 'inorder'));
  }
});
