import * as fs from 'node:fs';
import type { OnFailureRecord } from '../../local/kinesis-event-source';
import type { FaultRule } from '../../local/fault-proxy';
import { mulberry32 } from '../../local/random';
import { lakeBadEvents } from '../support/lake';
import { getProfile, kinesisAt, startTestRuntime, WRITE_KEY } from '../support/local-runtime';
import { audit, describeAudit } from './audit';
import { eventStreamOf, givenUpIds, putRaw, readStream, waitForConsumers } from './stream';
import { batchesOf, generateEvents, Ledger, sendAll, sendBatch, SentEvent } from './traffic';

/**
 * Faults the platform must absorb without losing or double-counting an event, injected between the functions and
 * the DynamoDB and Kinesis emulators (`local/fault-proxy.ts`): throttling, outages and lost answers while profiles
 * are written, partial PutRecords failures while events are ingested, and poison in the stream.
 */
let runtime: Awaited<ReturnType<typeof startTestRuntime>>;
beforeAll(async () => {
  runtime = await startTestRuntime({ faultInjection: true });
});
afterAll(() => runtime?.stop());
afterEach(() => {
  const faults = runtime?.faults;
  if (faults) faults.dynamodb.rule = faults.kinesis.rule = undefined;
});

const send = { writeKey: WRITE_KEY, concurrency: 4 };
const PROFILE_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);
const PROFILE_CALLS = new Set([...PROFILE_WRITES, 'GetItem', 'BatchGetItem', 'Query']);

/** Every case ends the same way: faults off once the consumers have caught up, then the exact accounting. */
async function auditCase(name: string, ledger: Ledger, prefix: string, givenUp?: ReadonlySet<string>) {
  await waitForConsumers(runtime, 180_000);
  const faults = runtime.faults as NonNullable<typeof runtime.faults>;
  faults.dynamodb.rule = faults.kinesis.rule = undefined;
  const result = await audit({ baseUrl: runtime.url, lakeDir: runtime.lakeDir, ledger, prefix, ...(givenUp ? { givenUp } : {}) });
  console.log(`${describeAudit(name, result)}\n  requests resent: ${ledger.resends}; DynamoDB proxy: ${JSON.stringify(faults.dynamodb.stats)}; Kinesis proxy: ${JSON.stringify(faults.kinesis.stats)}`);
  expect(result.mismatches).toEqual([]);
  expect([result.lost, result.duplicated, result.lakeMissing, result.lakeUnexpected]).toEqual([0, 0, 0, 0]);
  return result;
}

it('loses and double-counts nothing when DynamoDB throttles, fails for two seconds and loses answers while profiles are written', async () => {
  const faults = runtime.faults as NonNullable<typeof runtime.faults>;
  const random = mulberry32(21);
  const start = Date.now();
  const rule: FaultRule = ({ operation }) => {
    if (!PROFILE_CALLS.has(operation)) return undefined;
    const elapsed = Date.now() - start;
    if (elapsed > 3000 && elapsed < 5000) return random() < 0.5 ? { kind: 'unavailable' } : { kind: 'reset' }; // an outage
    const draw = random();
    if (draw < 0.25) return { kind: 'throttle' };
    if (draw < 0.3 && PROFILE_WRITES.has(operation)) return { kind: 'lose-response' }; // written, but the writer is not told
    return undefined;
  };
  faults.dynamodb.rule = rule;
  const events = generateEvents({ prefix: 'throttled', users: 150, events: 4000, seed: 5 });
  const ledger = new Ledger();
  await sendAll(runtime.url, batchesOf(events, 40), ledger, send);

  const result = await auditCase('DynamoDB throttling, outage, lost answers', ledger, 'throttled');
  expect(result.accepted).toBe(events.length);
  expect(result.lakeExtraCopies).toBe(0);
  expect(faults.dynamodb.stats.injected.throttle).toBeGreaterThan(100);
  expect(faults.dynamodb.stats.injected['lose-response']).toBeGreaterThan(10);
  expect(faults.dynamodb.stats.injected.unavailable + faults.dynamodb.stats.injected.reset).toBeGreaterThan(0);
});

it('loses and double-counts nothing when Kinesis fails part of each PutRecords, throttles whole calls and loses answers', async () => {
  const faults = runtime.faults as NonNullable<typeof runtime.faults>;
  const random = mulberry32(22);
  faults.kinesis.rule = ({ operation }) => {
    if (operation !== 'PutRecords') return undefined;
    const draw = random();
    if (draw < 0.05) return { kind: 'throttle' };
    if (draw < 0.1) return { kind: 'lose-response' };
    return { kind: 'partial', fail: () => random() < 0.3 };
  };
  const events = generateEvents({ prefix: 'partial', users: 150, events: 4000, seed: 6 });
  const ledger = new Ledger();
  await sendAll(runtime.url, batchesOf(events, 40), ledger, send);

  const result = await auditCase('Kinesis partial failures', ledger, 'partial');
  expect(result.accepted).toBe(events.length);
  expect(faults.kinesis.stats.failedEntries).toBeGreaterThan(1000);
  expect(faults.kinesis.stats.injected['lose-response']).toBeGreaterThan(0);
  // A lost answer makes the SDK put the same records again, and a 503 makes the client resend: copies in the
  // stream, and so in the lake, which its readers de-duplicate (the profiles already did: `duplicated` is 0).
  console.log(`  lake copies from retried puts: ${result.lakeExtraCopies}`);
});

it('sends poison records to the bad-events store and a profile DynamoDB refuses to the failure destination, and the shards keep flowing', async () => {
  const faults = runtime.faults as NonNullable<typeof runtime.faults>;
  const kinesis = kinesisAt(runtime.endpoints.kinesis);
  const stream = eventStreamOf(runtime);
  const poisoned = 'poison-u-refused';
  // DynamoDB refuses every write of one person's profile (as it refuses an item over 400 KB): a record no retry fixes.
  faults.dynamodb.rule = ({ operation, body }) =>
    PROFILE_WRITES.has(operation) && JSON.stringify(body).includes(poisoned) ? { kind: 'reject', type: 'ValidationException', message: 'Item size has exceeded the maximum allowed size' } : undefined;

  const events = generateEvents({ prefix: 'poison', users: 100, events: 3000, seed: 8 });
  const batches = batchesOf(events, 50);
  const ledger = new Ledger();
  await sendAll(runtime.url, batches.slice(0, 20), ledger, send);
  // Records no ingest would write, straight onto the stream, on every shard: not JSON, JSON that is no event, an event with a bad field.
  const junk = ['{"truncated": ', '\u0000\u00ff binary', JSON.stringify({ hello: 'world' }), JSON.stringify({ ...events[0], messageId: 'junk-1', type: 'purchase' })];
  const poison = junk.flatMap((data, i) => Array.from({ length: 4 }, (_, k) => ({ PartitionKey: `poison-key-${i}-${k}`, Data: Buffer.from(data) })));
  await putRaw(kinesis, stream, poison);
  const refused: SentEvent[] = Array.from({ length: 5 }, (_, i) => ({ messageId: `poison-refused-${i}`, userId: poisoned, type: 'track', event: 'Product Viewed', timestamp: new Date().toISOString() }));
  await sendBatch(runtime.url, refused, ledger, send);
  await sendAll(runtime.url, batches.slice(20), ledger, send);

  const records = await readStream(kinesis, stream);
  kinesis.destroy();
  await waitForConsumers(runtime, 180_000);
  const failures: OnFailureRecord[] = fs
    .readFileSync(runtime.failureFile(runtime.model.mappings[0].onFailureId as string), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const givenUp = givenUpIds(records, failures);
  // Every event of the refused profile was given up on, with the condition that says why.
  for (const e of refused) expect(givenUp.has(e.messageId)).toBe(true);
  expect(failures.every((f) => f.requestContext.condition === 'RetryAttemptsExhausted')).toBe(true);

  // Other people's events in the given-up range were applied on the attempts before it: all of them count.
  const refusedIds = new Set(refused.map((e) => e.messageId));
  const result = await auditCase('poison', ledger, 'poison', refusedIds);
  expect(result.accepted).toBe(events.length + refused.length);
  expect((await getProfile(runtime.url, poisoned)).status).toBe(404);

  // Each junk record is in the bad-events store under its shard and sequence number, with a reason.
  const bad = new Map(lakeBadEvents(runtime.lakeDir).map((line) => [line.id, line]));
  const junkRecords = records.filter((r) => (r.PartitionKey ?? '').startsWith('poison-key-'));
  expect(junkRecords).toHaveLength(poison.length);
  for (const record of junkRecords) {
    const line = bad.get(`${record.shardId}/${record.SequenceNumber}`);
    expect(line).toEqual(expect.objectContaining({ source: 'processor', reason: expect.stringMatching(/\S/) }));
  }
});
