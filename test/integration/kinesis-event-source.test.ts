import * as fs from 'node:fs';
import type { Server } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateStreamCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import kinesalite from 'kinesalite';
import { listen } from '../../local/emulators';
import { CheckpointStore, KinesisEventSource, OnFailureRecord } from '../../local/kinesis-event-source';
import { InvokeOutcome } from '../../local/lambda-host';
import { LocalEventSourceMapping } from '../../local/template-model';
import { eventually, kinesisAt } from '../support/local-runtime';

/**
 * The local event source mapping against a real Kinesis protocol (kinesalite) and a scripted function:
 * Lambda's documented semantics for partial batch responses, bisection, retries, record age and checkpoints.
 */

let server: Server;
let kinesis: KinesisClient;
let dir: string;
beforeAll(async () => {
  server = kinesalite({ createStreamMs: 0 });
  kinesis = kinesisAt(await listen(server));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esm-'));
});
afterAll(async () => {
  kinesis.destroy();
  await new Promise((resolve) => server.close(resolve));
});

let streamCount = 0;
async function streamWith(values: string[]): Promise<{ name: string; arn: string }> {
  const name = `stream-${++streamCount}`;
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  await put(name, values);
  return { name, arn: `arn:aws:kinesis:us-east-1:000000000000:stream/${name}` };
}
const put = (name: string, values: string[]) =>
  kinesis.send(new PutRecordsCommand({ StreamName: name, Records: values.map((v) => ({ PartitionKey: 'one-shard', Data: Buffer.from(v) })) }));

const mapping = (overrides: Partial<LocalEventSourceMapping> = {}): LocalEventSourceMapping => ({
  logicalId: `mapping-${streamCount}`,
  functionId: 'fn',
  streamId: 'stream',
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  bisectOnError: true,
  maxRetryAttempts: 3,
  maxRecordAgeSeconds: -1,
  reportBatchItemFailures: true,
  startingPosition: 'TRIM_HORIZON',
  ...overrides,
});

const valuesOf = (event: KinesisStreamEvent) => event.Records.map((r) => Buffer.from(r.kinesis.data, 'base64').toString());

/** Runs a source over `stream` with `fn` as the function; returns what each invocation saw and what failed. */
function run(stream: { name: string; arn: string }, fn: (values: string[], event: KinesisStreamEvent) => InvokeOutcome, settings: Partial<LocalEventSourceMapping> = {}, checkpoints = new CheckpointStore(path.join(dir, `${stream.name}.json`)), client: KinesisClient = kinesis) {
  const invocations: string[][] = [];
  const failures: OnFailureRecord[] = [];
  const source = new KinesisEventSource({
    mapping: mapping(settings),
    stream: { logicalId: 'stream', name: stream.name, arn: stream.arn, retentionHours: 24 },
    kinesis: client,
    invoke: async (event) => {
      invocations.push(valuesOf(event));
      return fn(valuesOf(event), event);
    },
    checkpoints,
    onFailure: async (record) => void failures.push(record),
    functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fn',
    pollIntervalMs: 20,
    retryBaseDelayMs: 1,
    log: () => {},
  });
  return { source, invocations, failures, checkpoints };
}

const ok = (): InvokeOutcome => ({ ok: true, result: null });
const crash = (): InvokeOutcome => ({ ok: false, error: { errorType: 'Error', errorMessage: 'boom' } });
const delivered = (invocations: string[][]) => new Set(invocations.flat());

it('delivers every record in order and checkpoints after a successful batch', async () => {
  const stream = await streamWith(['a', 'b', 'c']);
  const { source, invocations, checkpoints } = run(stream, ok);
  await source.start();
  await eventually(async () => (invocations.flat().length === 3 ? true : undefined));
  await source.stop();
  expect(invocations).toEqual([['a', 'b', 'c']]);
  expect(checkpoints.get(mapping().logicalId, 'shardId-000000000000')).toBeDefined();
});

it('on a partial batch failure, keeps what succeeded and retries from the lowest failed record', async () => {
  const stream = await streamWith(['a', 'b', 'c', 'd', 'e']);
  let failedOnce = false;
  const { source, invocations, failures } = run(stream, (values, event) => {
    const c = values.indexOf('c');
    if (c >= 0 && !failedOnce) {
      failedOnce = true;
      // Report c and e; Lambda resumes from the lowest, c.
      return { ok: true, result: { batchItemFailures: [{ itemIdentifier: event.Records[4].kinesis.sequenceNumber }, { itemIdentifier: event.Records[c].kinesis.sequenceNumber }] } };
    }
    return ok();
  });
  await source.start();
  await eventually(async () => (invocations.length === 2 ? true : undefined));
  await source.stop();
  expect(invocations).toEqual([['a', 'b', 'c', 'd', 'e'], ['c', 'd', 'e']]);
  expect(failures).toEqual([]);
});

it('treats an empty or unknown item identifier as a failure of the whole batch', async () => {
  const stream = await streamWith(['a', 'b']);
  let calls = 0;
  const { source, invocations } = run(stream, () => (++calls === 1 ? { ok: true, result: { batchItemFailures: [{ itemIdentifier: '' }] } } : ok()), { bisectOnError: false });
  await source.start();
  await eventually(async () => (invocations.length === 2 ? true : undefined));
  await source.stop();
  expect(invocations).toEqual([['a', 'b'], ['a', 'b']]);
});

it('bisects around a poison record, sends only it to the on-failure destination, and keeps the shard flowing', async () => {
  const stream = await streamWith(['a', 'b', 'c', 'POISON', 'e', 'f', 'g', 'h']);
  const { source, invocations, failures } = run(stream, (values) => (values.includes('POISON') ? crash() : ok()), { maxRetryAttempts: 5 });
  await source.start();
  await eventually(async () => (failures.length === 1 ? true : undefined));
  await put(stream.name, ['after']);
  await eventually(async () => (delivered(invocations).has('after') ? true : undefined));
  await source.stop();

  expect(failures[0].requestContext.condition).toBe('RetryAttemptsExhausted');
  expect(failures[0].KinesisBatchInfo.batchSize).toBe(1);
  expect(failures[0].KinesisBatchInfo.startSequenceNumber).toBe(failures[0].KinesisBatchInfo.endSequenceNumber);
  // Every good record was processed successfully at some point, and the poison one was only ever tried.
  const succeeded = new Set(invocations.filter((values) => !values.includes('POISON')).flat());
  expect([...succeeded].sort()).toEqual(['a', 'after', 'b', 'c', 'e', 'f', 'g', 'h']);
  expect(invocations.filter((values) => values.length === 1 && values[0] === 'POISON').length).toBeGreaterThan(0);
});

it('gives up after MaximumRetryAttempts retries of the same batch', async () => {
  const stream = await streamWith(['x']);
  const { source, invocations, failures } = run(stream, crash, { maxRetryAttempts: 2, bisectOnError: false });
  await source.start();
  await eventually(async () => (failures.length === 1 ? true : undefined));
  await source.stop();
  expect(invocations).toEqual([['x'], ['x'], ['x']]); // the first try and two retries
  expect(failures[0].requestContext.approximateInvokeCount).toBe(3);
});

it('skips records older than MaximumRecordAgeInSeconds without invoking the function', async () => {
  const stream = await streamWith(['old']);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const { source, invocations, failures } = run(stream, ok, { maxRecordAgeSeconds: 1 });
  await source.start();
  await eventually(async () => (failures.length === 1 ? true : undefined));
  await source.stop();
  expect(invocations).toEqual([]);
  expect(failures[0].requestContext.condition).toBe('RecordAgeExceeded');
});

it('resumes after the checkpoint when restarted', async () => {
  const stream = await streamWith(['a', 'b']);
  const first = run(stream, ok);
  await first.source.start();
  await eventually(async () => (first.invocations.flat().length === 2 ? true : undefined));
  await first.source.stop();

  await put(stream.name, ['c']);
  const second = run(stream, ok, {}, new CheckpointStore(path.join(dir, `${stream.name}.json`)));
  await second.source.start();
  await eventually(async () => (second.invocations.flat().length >= 1 ? true : undefined));
  await second.source.stop();
  expect(second.invocations).toEqual([['c']]);
});

it('waits up to the batching window to fill a batch', async () => {
  const stream = await streamWith(['a']);
  const { source, invocations } = run(stream, ok, { maxBatchingWindowSeconds: 1 });
  await source.start();
  await new Promise((resolve) => setTimeout(resolve, 300));
  await put(stream.name, ['b']);
  await eventually(async () => (invocations.length === 1 ? true : undefined));
  await source.stop();
  expect(invocations).toEqual([['a', 'b']]);
});

it('keeps reading a shard through failed reads, from after the last record read, each record once', async () => {
  const stream = await streamWith(['a', 'b']);
  // Some requests fail as a reset connection would: the first iterator request, then reads and a fresh iterator request.
  const failing = new Set([2, 4, 5, 7]);
  let calls = 0;
  const flaky = {
    send: (command: Parameters<KinesisClient['send']>[0]) => {
      calls += 1;
      if (failing.has(calls)) return Promise.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      return kinesis.send(command as never);
    },
  } as unknown as KinesisClient;
  const { source, invocations } = run(stream, ok, {}, undefined, flaky);
  await source.start();
  await eventually(async () => (invocations.flat().length === 2 ? true : undefined));
  await put(stream.name, ['c', 'd']);
  await eventually(async () => (invocations.flat().length === 4 ? true : undefined));
  await source.stop();
  expect(invocations.flat()).toEqual(['a', 'b', 'c', 'd']);
  expect(calls).toBeGreaterThan(Math.max(...failing));
});
