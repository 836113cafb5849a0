/**
 * The load case of `npm run test:reliability`: a bounded load on loopback against the local runtime, then the same
 * exact accounting as the fault cases. Two phases:
 * - throughput: LOAD_CONNECTIONS connections sending batches as fast as they are answered: accepted events per
 *   second and ingest latency (p50/p99 of every request); then how long the stream's consumers take to catch up;
 * - freshness: LOAD_PACED_SECONDS of batches paced at half the end-to-end throughput (events over the time to accept
 *   and process them), which the processor keeps up with, with probes one after another (an event
 *   for a new person, then its profile read every 10 ms through the admin API): accepted → visible, p50/p99.
 * It prints both, and last the line
 *
 *   events_per_s=… ingest_p99_ms=… freshness_p99_ms=… lost=… duplicated=…
 *
 * Baseline, in the same run: the same connections sending one event per request (`/v1/track`), as a client without
 * batching does. Exits 1 if any event was lost or double-counted.
 *
 * Bounded in count and time: LOAD_EVENTS (default 10000) events in batches of LOAD_BATCH (50) over LOAD_CONNECTIONS
 * (8) connections, to LOAD_USERS (2000) people; the baseline sends LOAD_BASELINE_EVENTS (1000); the paced phase lasts LOAD_PACED_SECONDS (30). Every request goes
 * to 127.0.0.1.
 */
import { percentile } from '../../bench/support';
import { forEachLimited } from '../../lambdas/shared/concurrency';
import { basic, getProfile, startTestRuntime, WRITE_KEY } from '../support/local-runtime';
import { audit, describeAudit } from './audit';
import { waitForConsumers } from './stream';
import { batchesOf, generateEvents, Ledger, messageOf, sendAll, sendBatch, SentEvent } from './traffic';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const EVENTS = env('LOAD_EVENTS', 10_000);
const BATCH = env('LOAD_BATCH', 50);
const CONNECTIONS = env('LOAD_CONNECTIONS', 8);
const USERS = env('LOAD_USERS', 2000);
const BASELINE_EVENTS = env('LOAD_BASELINE_EVENTS', 1000);
const PACED_SECONDS = env('LOAD_PACED_SECONDS', 30);

interface Phase {
  events: number;
  seconds: number;
  latenciesMs: number[];
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  console.log('Starting the local runtime…');
  const runtime = await startTestRuntime();
  try {
    // Warm-up (not measured): every function on the path has started once.
    await sendAll(runtime.url, batchesOf(generateEvents({ prefix: 'warmup', users: 10, events: 100, seed: 1 }), 10), new Ledger(), { writeKey: WRITE_KEY, concurrency: 2 });
    await probeFreshness(runtime.url, 'warmup-probe', () => true);

    const baseline = await onePerRequest(runtime.url);

    // Throughput: as fast as the connections go (closed loop); the processor falls behind and catches up after.
    const ledger = new Ledger();
    const events = generateEvents({ prefix: 'load', users: USERS, events: EVENTS, seed: 99 });
    const started = performance.now();
    await sendAll(runtime.url, batchesOf(events, BATCH), ledger, { writeKey: WRITE_KEY, concurrency: CONNECTIONS });
    const loadPhase: Phase = { events: ledger.accepted.size, seconds: (performance.now() - started) / 1000, latenciesMs: [...ledger.latenciesMs] };
    await waitForConsumers(runtime, 300_000);
    const drainedAfter = (performance.now() - started) / 1000 - loadPhase.seconds;

    // Freshness at a sustainable rate: paced at half the end-to-end throughput (accepted and processed), with probes.
    const rate = Math.max(1, Math.round((loadPhase.events / (loadPhase.seconds + drainedAfter)) * 0.5));
    const paced = generateEvents({ prefix: 'load', users: USERS, events: Math.round(rate * PACED_SECONDS), seed: 97, offset: events.length });
    let loading = true;
    const freshness: Promise<number[]> = (async () => {
      const samples: number[] = [];
      for (let i = 0; loading; i++) samples.push(await probeFreshness(runtime.url, `probe-${i}`, () => loading));
      return samples;
    })();
    const pacedBatch = Math.max(1, Math.round(rate / 10)); // ten requests a second
    await sendPaced(runtime.url, batchesOf(paced, pacedBatch), ledger, rate / pacedBatch);
    loading = false;
    const freshnessMs = await freshness;

    await waitForConsumers(runtime, 300_000);
    const result = await audit({ baseUrl: runtime.url, lakeDir: runtime.lakeDir, ledger, prefix: 'load' });

    console.log(`\nLoad: ${EVENTS} events to ${USERS} people, ${CONNECTIONS} connections, on one 2-core machine running the whole platform`);
    console.log(row('', 'events/s', 'p50 ms', 'p99 ms', 'requests'));
    const show = (label: string, p: Phase) => console.log(row(label, (p.events / p.seconds).toFixed(0), percentile(p.latenciesMs, 50).toFixed(1), percentile(p.latenciesMs, 99).toFixed(1), String(p.latenciesMs.length)));
    show(`batched (${BATCH} events per request)`, loadPhase);
    show('baseline (1 event per request)', baseline);
    console.log(`The stream's consumers caught up ${drainedAfter.toFixed(1)} s after the last batch was accepted`);
    console.log(`Freshness (accepted → in the profile), ${freshnessMs.length} probes during ${PACED_SECONDS} s at ${rate} events/s: p50 ${percentile(freshnessMs, 50).toFixed(0)} ms, p99 ${percentile(freshnessMs, 99).toFixed(0)} ms`);
    console.log(`${describeAudit('Accounting', result)}; requests resent: ${ledger.resends}`);
    const failed = result.lost > 0 || result.duplicated > 0 || result.mismatches.length > 0 || result.accepted !== events.length + paced.length || !freshnessMs.every(Number.isFinite);
    console.log(
      `events_per_s=${(loadPhase.events / loadPhase.seconds).toFixed(0)} ingest_p99_ms=${percentile(loadPhase.latenciesMs, 99).toFixed(1)} ` +
        `freshness_p99_ms=${percentile(freshnessMs, 99).toFixed(0)} lost=${result.lost} duplicated=${result.duplicated}`,
    );
    if (failed) process.exitCode = 1;
  } finally {
    await runtime.stop();
  }
}

/** Sends one batch every `1 / batchesPerSecond` seconds, each on its own (open loop), until all are accepted. */
async function sendPaced(baseUrl: string, batches: SentEvent[][], ledger: Ledger, batchesPerSecond: number): Promise<void> {
  const started = performance.now();
  const sent: Array<Promise<void>> = [];
  for (const [i, batch] of batches.entries()) {
    const due = started + (i * 1000) / batchesPerSecond;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    sent.push(sendBatch(baseUrl, batch, ledger, { writeKey: WRITE_KEY }));
  }
  await Promise.all(sent);
}

/** The baseline: `BASELINE_EVENTS` single-event `/v1/track` requests over the same number of connections. */
async function onePerRequest(baseUrl: string): Promise<Phase> {
  const events = generateEvents({ prefix: 'baseline', users: USERS, events: BASELINE_EVENTS, seed: 98 });
  const latenciesMs: number[] = [];
  const started = performance.now();
  await forEachLimited(events, CONNECTIONS, async (event) => {
    const sent = performance.now();
    const response = await fetch(`${baseUrl}/v1/${event.type}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: basic(WRITE_KEY) }, body: JSON.stringify(messageOf(event)) });
    await response.text();
    latenciesMs.push(performance.now() - sent);
    if (response.status !== 200) throw new Error(`Baseline request refused: ${response.status}`);
  });
  return { events: events.length, seconds: (performance.now() - started) / 1000, latenciesMs };
}

/**
 * Sends one event for a new person and polls that person's profile every 10 ms: milliseconds from the 200 to the
 * first read that shows it; Infinity (a lost probe, which fails the run) if it is refused or not there 30 s after the load ends.
 */
async function probeFreshness(baseUrl: string, userId: string, keepGoing: () => boolean): Promise<number> {
  const response = await fetch(`${baseUrl}/v1/track`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: basic(WRITE_KEY) },
    body: JSON.stringify({ userId, event: 'Probe', messageId: `${userId}-m` }),
  });
  await response.text();
  if (response.status !== 200) return Number.POSITIVE_INFINITY;
  const accepted = performance.now();
  while (keepGoing() || performance.now() - accepted < 30_000) {
    if ((await getProfile(baseUrl, userId)).status === 200) return performance.now() - accepted;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Number.POSITIVE_INFINITY;
}

function row(label: string, ...cells: string[]): string {
  return `  ${label.padEnd(36)}${cells.map((c) => c.padStart(11)).join('')}`;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
