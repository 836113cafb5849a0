/**
 * `npm run bench:train`: the scheduled training at scale, on this machine.
 *
 * 1. generate: a synthetic shop stream (`bench/stream.ts`: Zipf users and items, sessions, orders) is written to
 *    a local lake (gzip NDJSON, `events/dt=…/hour=…`, as Firehose and the local runtime write it) until it holds
 *    `--interactions` item interactions (default 1,000,000). A lake generated before for the same options is reused.
 * 2. aggregate: the training's aggregate query (`interactionsQuery`, the SQL Athena runs) on DuckDB over the lake,
 *    its rows streamed into interactions (as `npm run train` does).
 * 3. train: `trainModel` (EASE on the 3,000 most frequent items, co-occurrence for the rest, popularity lists) on
 *    the aggregate rows.
 * Baseline, in the same run: the route without the engine, every event read and parsed in Node
 *    (`readLakeEvents` + `interactionsOf`, as `npm run train` worked before), then the same training.
 *
 * Each route runs in a process of its own, so its peak memory (max RSS, native DuckDB memory included) is its
 * own. Writing the model to DynamoDB is not part of this benchmark (a model is at most a few thousand rows).
 * Last line: `rows=<interactions> seconds=<aggregate + train> peak_mb=<peak RSS of that route>`.
 *
 * Options: --interactions N, --items N (default 20,000), --users N (default 200,000), --seed N, --lake DIR
 * (default $TMPDIR/bench-train-lake-<options>), --threads N (DuckDB threads, default 2).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { interactionsOf } from '../lambdas/shared/domain/interactions';
import { Interaction } from '../lambdas/shared/domain/model';
import { trainModel } from '../lambdas/shared/domain/training';
import { interactionsOfRows, interactionsQuery } from '../lambdas/train/interactions-query';
import { openLake } from '../local/lake-query';
import { readLakeEvents, writeLakeBatch } from '../local/lake-writer';
import { kinesisEvent } from '../test/support/kinesis';
import { streamEvents, toKinesisRecords } from './stream';

const { values: args } = parseArgs({
  options: {
    interactions: { type: 'string', default: '1000000' },
    items: { type: 'string', default: '20000' },
    users: { type: 'string', default: '200000' },
    seed: { type: 'string', default: '42' },
    lake: { type: 'string' },
    threads: { type: 'string', default: '2' },
    route: { type: 'string' },
  },
});
const target = Number(args.interactions);
const spec = { events: Number.MAX_SAFE_INTEGER, users: Number(args.users), zipfExponent: 1.0, meanFlushSize: 8, items: Number(args.items), categories: 50, seed: Number(args.seed) };
const lakeDir = args.lake ?? path.join(os.tmpdir(), `bench-train-lake-${target}-${spec.items}-${spec.users}-${spec.seed}`);
/** Every event was received within the window (the generated stream spans hours). */
const WINDOW_DAYS = 3650;

/** What one route measured, printed by the child as its last stdout line. */
interface RouteResult {
  interactions: number;
  rows: number;
  readSeconds: number;
  /** Peak RSS once the rows were read, and at the end (after training). */
  readPeakMb: number;
  trainSeconds: number;
  peakMb: number;
  modelItems: number;
}

const peakMb = () => process.resourceUsage().maxRSS / 1024;

async function generate(): Promise<{ events: number; interactions: number; seconds: number; bytes: number }> {
  const marker = path.join(lakeDir, 'COMPLETE.json');
  if (fs.existsSync(marker)) return JSON.parse(fs.readFileSync(marker, 'utf8'));
  fs.rmSync(lakeDir, { recursive: true, force: true });
  const t0 = performance.now();
  let events = 0;
  let interactions = 0;
  let batch = [];
  for (const event of streamEvents(spec)) {
    batch.push(event);
    events += 1;
    interactions += interactionsOf(event).length;
    if (batch.length === 10_000 || interactions >= target) {
      const outcome = await writeLakeBatch(lakeDir, kinesisEvent(toKinesisRecords(batch)));
      if (!outcome.ok) throw new Error(`Could not write the lake: ${outcome.error.errorMessage}`);
      batch = [];
    }
    if (interactions >= target) break;
  }
  const bytes = fs
    .readdirSync(lakeDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json.gz'))
    .reduce((sum, f) => sum + fs.statSync(path.join(lakeDir, f)).size, 0);
  const result = { events, interactions, seconds: (performance.now() - t0) / 1000, bytes };
  fs.writeFileSync(marker, JSON.stringify(result));
  return result;
}

/** The training route through the engine: aggregate query on DuckDB, then training on its rows. */
async function aggregateRoute(): Promise<RouteResult> {
  const lake = await openLake(lakeDir);
  await lake.limit({ threads: Number(args.threads) });
  const t0 = performance.now();
  const counts = { rows: 0, skipped: 0 };
  const interactions: Interaction[] = [];
  for await (const x of interactionsOfRows(lake.stream(interactionsQuery({ windowDays: WINDOW_DAYS, now: Date.now() })), counts)) interactions.push(x);
  lake.close();
  return train(interactions, counts.rows, t0);
}

/** The baseline route: every event parsed in Node, then the same training. */
async function eventsRoute(): Promise<RouteResult> {
  const t0 = performance.now();
  const interactions: Interaction[] = [];
  for await (const event of readLakeEvents(lakeDir)) interactions.push(...interactionsOf(event));
  return train(interactions, interactions.length, t0);
}

/** The training stage of a route whose reading started at `t0`. */
function train(interactions: Interaction[], rows: number, t0: number): RouteResult {
  const t1 = performance.now();
  const readPeakMb = peakMb();
  const model = trainModel(interactions);
  const t2 = performance.now();
  return {
    interactions: model.stats.interactions,
    rows,
    readSeconds: (t1 - t0) / 1000,
    readPeakMb,
    trainSeconds: (t2 - t1) / 1000,
    peakMb: peakMb(),
    modelItems: model.stats.modelItems,
  };
}

/** Runs a route in a fresh process (this script with --route) and returns what it printed. */
function runRoute(route: 'aggregate' | 'events'): RouteResult {
  const output = execFileSync(process.execPath, [...process.execArgv, __filename, ...process.argv.slice(2), '--lake', lakeDir, '--route', route], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(output.trim().split('\n').pop() as string);
}

const perSecond = (n: number, seconds: number) => Math.round(n / seconds).toLocaleString('en-US');

async function main(): Promise<void> {
  if (args.route) {
    const result = args.route === 'aggregate' ? await aggregateRoute() : await eventsRoute();
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`bench:train: ${target.toLocaleString('en-US')} interactions, ${spec.items.toLocaleString('en-US')} items, ${spec.users.toLocaleString('en-US')} users, seed ${spec.seed}; lake ${lakeDir}`);
  const lake = await generate();
  console.log(
    `generate   ${lake.events.toLocaleString('en-US')} events (${lake.interactions.toLocaleString('en-US')} interactions) -> ${(lake.bytes / 1e6).toFixed(1)} MB gzip ` +
      `(${(lake.bytes / lake.events).toFixed(0)} B/event) in ${lake.seconds.toFixed(1)} s, ${perSecond(lake.events, lake.seconds)} events/s`,
  );

  const results = { aggregate: runRoute('aggregate'), events: runRoute('events') };
  console.log('');
  console.log('route / stage                              seconds   interactions/s   peak MB   rows');
  for (const [name, r] of [
    ['aggregate query (DuckDB)', results.aggregate],
    ['baseline: every event parsed in Node', results.events],
  ] as const) {
    const row = (stage: string, seconds: number, peak: number, rows: string) =>
      console.log(`${stage.padEnd(42)}${seconds.toFixed(1).padStart(7)}   ${perSecond(r.interactions, seconds).padStart(14)}   ${peak.toFixed(0).padStart(7)}   ${rows}`);
    row(`${name}: read`, r.readSeconds, r.readPeakMb, `${r.rows.toLocaleString('en-US')} rows read`);
    row(`${name}: train`, r.trainSeconds, r.peakMb, `${r.modelItems.toLocaleString('en-US')} items with neighbours`);
    row(`${name}: total`, r.readSeconds + r.trainSeconds, r.peakMb, '');
  }
  if (results.aggregate.interactions !== results.events.interactions || results.aggregate.modelItems !== results.events.modelItems) {
    throw new Error(`The routes disagree: ${JSON.stringify(results)}`);
  }
  const a = results.aggregate;
  console.log(`rows=${a.interactions} seconds=${(a.readSeconds + a.trainSeconds).toFixed(1)} peak_mb=${a.peakMb.toFixed(0)}`);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
