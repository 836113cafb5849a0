/**
 * `npm run bench:ingest`: the profile processor against the DynamoDB emulator, coalesced versus a baseline
 * that writes once per event, on the same realistic stream in the same run.
 *
 * - coalesced: the real processor handler (lambdas/process/handler.ts), batches as the event source mapping
 *   delivers them (the stack's default batch size);
 * - baseline: Powertools' BatchProcessor calling the same profile update once per record, in order (the
 *   textbook per-record stream handler): one read and one conditional write per event.
 * Writes are counted by a proxy in front of the emulator (PutItem, UpdateItem, DeleteItem, and each item of
 * a BatchWriteItem), not by the code under test. Both runs must end with identical profiles.
 *
 * The emulator and the write counter run in a process of their own; "CPU ms/event" is the processor's CPU,
 * which bounds how fast it could go against a store that answered instantly.
 *
 * Options (environment): BENCH_EVENTS (default 10000), BENCH_USERS (10000), BENCH_ZIPF (1.0),
 * BENCH_FLUSH (mean events per client flush, 10), BENCH_BATCH (500).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { AttributeValue, DeleteTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Context, KinesisStreamRecord } from 'aws-lambda';
import { decodeRecord } from '../lambdas/process/records';
import { updateProfiles } from '../lambdas/process/update-profiles';
import { DEFAULT_PROFILE_SETTINGS } from '../lambdas/shared/domain/settings';
import { ENV, PROFILES_KEY } from '../lambdas/shared/env';
import { DynamoDbIdentityStore } from '../lambdas/shared/store/identity-store';
import { DynamoDbProfileStore } from '../lambdas/shared/store/profile-store';
import { DEFAULT_CONFIG } from '../lib/config';
import { listen } from '../local/emulators';
import { firehoseStub } from '../local/firehose';
import { createPkTable } from '../test/support/dynalite';
import { generateStream, StreamSpec, toKinesisRecords } from './stream';
import { startEmulator } from './support';

const SHARD_RECORDS_PER_SECOND = 1000;
const COALESCED_TABLE = 'bench-coalesced';
const BASELINE_TABLE = 'bench-baseline';
const IDENTITIES_TABLE = 'bench-identities';
const BAD_EVENTS_DELIVERY_STREAM = 'bench-bad-events';
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

interface RunResult {
  events: number;
  seconds: number;
  /** CPU time of this process (the processor), not the emulator's. */
  cpuSeconds: number;
  writes: number;
  profiles: Map<string, unknown>;
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const batchSize = env('BENCH_BATCH', DEFAULT_CONFIG.processor.batchSize);
  const base: StreamSpec = {
    events: env('BENCH_EVENTS', 10_000),
    users: env('BENCH_USERS', 10_000),
    zipfExponent: env('BENCH_ZIPF', 1.0),
    meanFlushSize: env('BENCH_FLUSH', 10),
    items: 2000,
    categories: 40,
    seed: 42,
  };

  // The emulator and its write counter, in a process of their own (DynamoDB does not run on the function's CPU).
  const emulator = await startEmulator();
  const { endpoint, dynamodb, writeCount } = emulator;
  // Bad events (the generated stream has none) would go to the local Firehose, into a throwaway lake.
  const badEventsLake = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-lake-'));
  const firehose = firehoseStub([{ logicalId: 'BadEvents', name: BAD_EVENTS_DELIVERY_STREAM, arn: BAD_EVENTS_DELIVERY_STREAM, type: 'DirectPut', prefix: 'bad-events/' }], badEventsLake);
  const firehoseEndpoint = await listen(firehose);

  // The processor handler reads its configuration from the environment, as in Lambda.
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_ENDPOINT_URL_FIREHOSE: firehoseEndpoint,
    [ENV.profilesTable]: COALESCED_TABLE,
    [ENV.identitiesTable]: IDENTITIES_TABLE,
    [ENV.badEventsDeliveryStream]: BAD_EVENTS_DELIVERY_STREAM,
    POWERTOOLS_SERVICE_NAME: 'bench',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  const { handler } = await import('../lambdas/process/handler.js');
  const context = { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;

  const scenarios: Array<{ name: string; spec: StreamSpec }> = [
    { name: `Zipf users (s=${base.zipfExponent}, ${base.users} users), events in client flushes of mean ${base.meanFlushSize}`, spec: base },
    { name: `Zipf users (s=${base.zipfExponent}, ${base.users} users), every event from an independently drawn user (worst case)`, spec: { ...base, meanFlushSize: 1 } },
  ];

  let headline: { eventsPerSecond: number; writesPerEvent: number; baselineWritesPerEvent: number } | undefined;
  for (const [index, { name, spec }] of scenarios.entries()) {
    const records = toKinesisRecords(generateStream(spec));
    const batches = chunk(records, batchSize);
    const distinct = batches.reduce((sum, b) => sum + new Set(b.map((r) => r.kinesis.partitionKey)).size, 0) / batches.length;

    for (const table of [COALESCED_TABLE, BASELINE_TABLE, IDENTITIES_TABLE]) await recreateTable(dynamodb, table);

    const coalesced = await timed(writeCount, dynamodb, COALESCED_TABLE, records.length, async () => {
      for (const batch of batches) {
        const response = await handler({ Records: batch }, context);
        if (response.batchItemFailures.length > 0) throw new Error('The processor reported failures during the benchmark');
      }
    });

    const store = new DynamoDbProfileStore(dynamodb, BASELINE_TABLE);
    const identities = new DynamoDbIdentityStore(dynamodb, IDENTITIES_TABLE);
    const perRecord = async (record: KinesisStreamRecord) => {
      const decoded = decodeRecord(record);
      if (!('event' in decoded)) throw new Error(decoded.bad.reason);
      const { failed } = await updateProfiles([decoded.event], { profiles: store, identities, settings: DEFAULT_PROFILE_SETTINGS, now: Date.now });
      if (failed.size > 0) throw [...failed.values()][0];
    };
    const baseline = await timed(writeCount, dynamodb, BASELINE_TABLE, records.length, async () => {
      for (const batch of batches) {
        const response = await processPartialResponse({ Records: batch }, perRecord, new BatchProcessor(EventType.KinesisDataStreams), { processInParallel: false });
        if (response.batchItemFailures.length > 0) throw new Error('The baseline reported failures during the benchmark');
      }
    });

    const identical = sameProfiles(coalesced.profiles, baseline.profiles);
    console.log(`\nScenario: ${name}; ${records.length} events in batches of ${batchSize} (${distinct.toFixed(1)} distinct profiles per batch)`);
    console.log(row('', 'events/s', 'writes', 'writes/event', 'seconds', 'CPU ms/event'));
    for (const [label, r] of [['coalesced', coalesced], ['baseline (1 write per event)', baseline]] as const) {
      console.log(row(label, (r.events / r.seconds).toFixed(0), String(r.writes), (r.writes / r.events).toFixed(3), r.seconds.toFixed(2), ((r.cpuSeconds * 1000) / r.events).toFixed(3)));
    }
    console.log(
      `  ${(baseline.writes / coalesced.writes).toFixed(1)}x fewer writes than the baseline; against the emulator the coalesced processor ran at ` +
        `${(coalesced.events / coalesced.seconds / SHARD_RECORDS_PER_SECOND).toFixed(1)}x, and its own CPU allows ${(coalesced.events / coalesced.cpuSeconds / SHARD_RECORDS_PER_SECOND).toFixed(1)}x, ` +
        `the ${SHARD_RECORDS_PER_SECOND} records/s a full shard delivers; final profiles identical to the baseline's: ${identical.same ? 'yes' : 'NO'} (${identical.compared} compared)`,
    );
    if (!identical.same) process.exitCode = 1;
    if (index === 0) headline = { eventsPerSecond: coalesced.events / coalesced.seconds, writesPerEvent: coalesced.writes / coalesced.events, baselineWritesPerEvent: baseline.writes / baseline.events };
  }

  emulator.close();
  firehose.close();
  fs.rmSync(badEventsLake, { recursive: true, force: true });
  const h = headline as NonNullable<typeof headline>;
  console.log(`\nevents_per_s=${h.eventsPerSecond.toFixed(0)} writes_per_event=${h.writesPerEvent.toFixed(3)} baseline_writes_per_event=${h.baselineWritesPerEvent.toFixed(3)}`);
  process.exit();
}

/** Runs `work`, measuring wall time and the writes the proxy saw; then reads back every profile it wrote. */
async function timed(writeCount: () => Promise<number>, dynamodb: DynamoDBClient, table: string, events: number, work: () => Promise<void>): Promise<RunResult> {
  const writesBefore = await writeCount();
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  await work();
  const cpu = process.cpuUsage(cpuStart);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const writes = (await writeCount()) - writesBefore;
  return { events, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, writes, profiles: await readProfiles(dynamodb, table) };
}

async function readProfiles(dynamodb: DynamoDBClient, table: string): Promise<Map<string, unknown>> {
  const profiles = new Map<string, unknown>();
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) profiles.set(item[PROFILES_KEY.partitionKey].S as string, JSON.parse(item.profile.S as string));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return profiles;
}

/** Profile states equal, with floating-point affinity scores compared to a relative 1e-9. */
function sameProfiles(a: Map<string, unknown>, b: Map<string, unknown>): { same: boolean; compared: number } {
  if (a.size !== b.size) return { same: false, compared: 0 };
  const close = (x: unknown, y: unknown): boolean => {
    if (typeof x === 'number' && typeof y === 'number') return x === y || Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return x === y;
    const kx = Object.keys(x as object).sort();
    const ky = Object.keys(y as object).sort();
    return kx.length === ky.length && kx.every((k, i) => k === ky[i] && close((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]));
  };
  for (const [id, profile] of a) if (!close(profile, b.get(id))) return { same: false, compared: a.size };
  return { same: true, compared: a.size };
}

/** An empty table (each scenario starts from no profiles). */
async function recreateTable(dynamodb: DynamoDBClient, name: string): Promise<void> {
  await dynamodb.send(new DeleteTableCommand({ TableName: name })).catch((error) => {
    if (error.name !== 'ResourceNotFoundException') throw error;
  });
  await createPkTable(dynamodb, name);
}

function chunk<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

function row(label: string, ...cells: string[]): string {
  return `  ${label.padEnd(30)}${cells.map((c) => c.padStart(13)).join('')}`;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
