import { forEachLimited } from '../../lambdas/shared/concurrency';
import { lakeBadEvents } from '../support/lake';
import { startTestRuntime, WRITE_KEY } from '../support/local-runtime';
import { audit, describeAudit } from './audit';
import { HOSTILE_CATEGORIES, HostileRequest, HostileResponse, hostileRequests, sendRequest } from './hostile-requests';
import { waitForConsumers } from './stream';
import { batchesOf, generateEvents, Ledger, sendAll, SentEvent } from './traffic';

/**
 * Bad input: over 200 generated malformed and hostile requests (`hostile-requests.ts`), sent while valid traffic
 * flows. Each gets a 4xx with a reason, never a 5xx; the valid events inside mixed batches are accepted and the
 * rejected ones recorded with their reason; the valid traffic around them is intact, each event counted once.
 */
let runtime: Awaited<ReturnType<typeof startTestRuntime>>;
beforeAll(async () => {
  runtime = await startTestRuntime();
});
afterAll(() => runtime?.stop());

/** The reason a refusal gives: its JSON body's `message`. */
function reasonOf(response: HostileResponse): string | undefined {
  try {
    const message = JSON.parse(response.body).message;
    return typeof message === 'string' && message.trim() !== '' ? message : undefined;
  } catch {
    return undefined;
  }
}

it('answers every hostile request with a 4xx and a reason, accepts the valid events next to them, and keeps the traffic around them intact', async () => {
  const requests = hostileRequests({ writeKey: WRITE_KEY, seed: 7, prefix: 'hostile' });
  expect(requests.length).toBeGreaterThanOrEqual(200);
  for (const category of HOSTILE_CATEGORIES) expect(requests.filter((r) => r.category === category).length).toBeGreaterThanOrEqual(15);

  const ledger = new Ledger();
  const around = generateEvents({ prefix: 'hostile-around', users: 50, events: 2000, seed: 4 });
  const answers: Array<{ request: HostileRequest; response: HostileResponse }> = [];
  const hostile = forEachLimited(requests, 2, async (request) => {
    answers.push({ request, response: await sendRequest(runtime.url, request) });
  });
  await Promise.all([sendAll(runtime.url, batchesOf(around, 20), ledger, { writeKey: WRITE_KEY, concurrency: 2 }), hostile]);

  const wrong = answers.filter(({ response }) => response.status < 400 || response.status >= 500 || reasonOf(response) === undefined);
  expect(wrong.map(({ request, response }) => `${request.name}: ${response.status} ${response.body.slice(0, 120)}`)).toEqual([]);

  // The valid events inside mixed batches: the answer says they were accepted, and they must be in profiles and lake.
  for (const { request, response } of answers) {
    if (request.valid.length === 0) continue;
    expect({ name: request.name, accepted: JSON.parse(response.body).accepted }).toEqual({ name: request.name, accepted: request.valid.length });
    ledger.accept(request.valid.map((v): SentEvent => ({ ...v, timestamp: '' })), Date.now());
  }

  // Each event an authenticated request had rejected is in the bad-events store under the request's id, with its reason.
  await waitForConsumers(runtime);
  const recorded = new Map(lakeBadEvents(runtime.lakeDir).map((line) => [line.id, line]));
  let rejectedEvents = 0;
  for (const { request, response } of answers) {
    const rejected: Array<{ index: number }> | undefined = JSON.parse(response.body).rejected;
    if (!request.authenticated || !Array.isArray(rejected)) continue;
    for (const { index } of rejected) {
      rejectedEvents += 1;
      expect(recorded.get(`ingest/${response.headers['x-amzn-requestid']}/${index}`)).toEqual(expect.objectContaining({ reason: expect.stringMatching(/\S/) }));
    }
  }
  // …and nothing of an unauthenticated request is (it could be anyone's).
  for (const { request, response } of answers) {
    if (!request.authenticated) expect([...recorded.keys()].filter((id) => id.startsWith(`ingest/${response.headers['x-amzn-requestid']}`))).toEqual([]);
  }

  const result = await audit({ baseUrl: runtime.url, lakeDir: runtime.lakeDir, ledger, prefix: 'hostile' });
  const statuses = answers.reduce<Record<number, number>>((counts, { response }) => ({ ...counts, [response.status]: (counts[response.status] ?? 0) + 1 }), {});
  console.log(`${describeAudit('hostile input', result)}\n  ${answers.length} hostile requests, by status: ${JSON.stringify(statuses)}; rejected events recorded: ${rejectedEvents}`);
  expect(result.accepted).toBe(around.length + answers.reduce((n, { request }) => n + request.valid.length, 0));
  expect(result.mismatches).toEqual([]);
  expect([result.lost, result.duplicated, result.lakeMissing, result.lakeExtraCopies, result.lakeUnexpected]).toEqual([0, 0, 0, 0, 0]);
});
