import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { lakeObjects } from '../support/lake';
import { checkpointsFileOf, lakeDirOf } from '../../local/runtime';
import { lakeWriterIdOf } from '../../local/lake-writer';
import { synthesizeForLocal } from '../../local/synth';
import { WRITE_KEY } from '../support/local-runtime';
import { audit, describeAudit } from './audit';
import { waitForConsumers } from './stream';
import { batchesOf, generateEvents, Ledger, sendAll } from './traffic';

/**
 * A crash of the whole local runtime mid-stream: `npm start`'s process (API, emulators, functions, consumers) is
 * killed with SIGKILL while events pour in and the processor is behind, then started again on the same data. The
 * client keeps resending what got no answer; afterwards every accepted event is counted once, the lake holds each
 * once, and the consumers resumed from their checkpoints rather than from the start of the stream.
 */
const ROOT = path.join(__dirname, '..', '..');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reliability-crash-'));
let child: ChildProcess | undefined;
const output: string[] = [];

afterAll(() => {
  child?.kill('SIGKILL');
});

/** A free loopback port, so that the restarted runtime listens where the client sends. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts `npm start`'s entry point in a process of its own and waits until it has published its endpoints. */
async function startRuntimeProcess(port: number): Promise<{ process: ChildProcess; endpoints: { dynamodb: string; kinesis: string } }> {
  const started = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts', '--data-dir', dataDir, '--port', String(port)], {
    cwd: ROOT,
    env: { ...process.env, PERSONALIZATION_WRITE_KEY: WRITE_KEY, LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [started.stdout, started.stderr]) stream?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const info = path.join(dataDir, 'runtime.json');
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (started.exitCode !== null) throw new Error(`The runtime exited (${started.exitCode}):\n${output.join('')}`);
    if (fs.existsSync(info)) {
      const published = JSON.parse(fs.readFileSync(info, 'utf8'));
      if (published.pid === started.pid) return { process: started, endpoints: published };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`The runtime did not start within 90 s:\n${output.join('')}`);
}

/** Each consumer's checkpoint per shard, as the file holds them. */
const checkpoints = (): Record<string, string> => (fs.existsSync(checkpointsFileOf(dataDir)) ? JSON.parse(fs.readFileSync(checkpointsFileOf(dataDir), 'utf8')) : {});

it('resumes from its checkpoints after being killed mid-stream, losing and double-counting nothing', async () => {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const { model } = synthesizeForLocal();
  const events = generateEvents({ prefix: 'crash', users: 200, events: 6000, seed: 3 });
  const ledger = new Ledger();

  child = (await startRuntimeProcess(port)).process;
  // The client sends throughout; requests that die with the process are sent again once it is back.
  const sending = sendAll(baseUrl, batchesOf(events, 25), ledger, { writeKey: WRITE_KEY, concurrency: 2, attempts: 60 });

  // Killed once the consumers have checkpointed some of the stream, with events still arriving.
  const processor = model.mappings[0].logicalId;
  const lakeWriter = lakeWriterIdOf(model.deliveryStreams.find((d) => d.type === 'KinesisStreamAsSource')?.logicalId as string);
  const consumed = (consumer: string) => Object.keys(checkpoints()).some((key) => key.startsWith(`${consumer}/`));
  while (!consumed(processor) || !consumed(lakeWriter) || ledger.accepted.size < events.length * 0.3) {
    if (ledger.accepted.size === events.length) throw new Error(`Every event was accepted before the consumers checkpointed:\n${output.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGKILL');
  await new Promise((resolve) => child?.once('exit', resolve));
  const atCrash = { accepted: ledger.accepted.size, positions: checkpoints() };
  const restartedAt = Date.now();

  const restarted = await startRuntimeProcess(port);
  child = restarted.process;
  await sending;
  const runtime = { model, endpoints: restarted.endpoints, dataDir };
  await waitForConsumers(runtime);

  const result = await audit({ baseUrl, lakeDir: lakeDirOf(dataDir), ledger, prefix: 'crash' });
  console.log(`${describeAudit('crash and restart', result)}\n  accepted before the crash: ${atCrash.accepted}; requests resent: ${ledger.resends}; checkpoints at the crash: ${JSON.stringify(atCrash.positions)}`);
  expect(result.accepted).toBe(events.length);
  expect(result.mismatches).toEqual([]);
  expect([result.lost, result.duplicated, result.lakeMissing, result.lakeUnexpected]).toEqual([0, 0, 0, 0]);
  expect(ledger.resends).toBeGreaterThan(0);
  // A copy in the lake can only come from a resent request whose first attempt reached the stream before the crash.
  expect(result.lakeExtraCopies).toBeLessThanOrEqual(ledger.resentEvents);

  // The lake writer resumed after its checkpoint: every object written after the restart starts past it.
  const written = lakeObjects(lakeDirOf(dataDir)).filter((o) => o.mtimeMs >= restartedAt);
  expect(written.length).toBeGreaterThan(0);
  for (const object of written) {
    const [, shardId, firstSequence] = /-(shardId-\d+)-(\d+)\.json\.gz$/.exec(object.key) ?? [];
    const checkpoint = atCrash.positions[`${lakeWriter}/${shardId}`];
    if (checkpoint !== undefined) expect(BigInt(firstSequence)).toBeGreaterThan(BigInt(checkpoint));
  }
});
