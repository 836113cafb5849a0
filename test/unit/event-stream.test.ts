import { KinesisClient, PutRecordsCommand, PutRecordsCommandInput, PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { LIMITS, type StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { KinesisEventStream, PUT_RECORDS_LIMITS, toEntry } from '../../lambdas/shared/store/event-stream';
import { backoffMs, retryUntilDone, RetryPolicy } from '../../lambdas/shared/store/retry';
import { track } from '../support/events';

const FAST: RetryPolicy = { attempts: 4, baseDelayMs: 1, maxDelayMs: 2 };

/** A fake Kinesis client: `respond` decides each entry's fate per call. */
class FakeKinesis {
  readonly calls: PutRecordsCommandInput[] = [];
  constructor(private readonly respond: (input: PutRecordsCommandInput, call: number) => PutRecordsCommandOutput['Records'] | Error) {}
  async send(command: unknown): Promise<Partial<PutRecordsCommandOutput>> {
    if (!(command instanceof PutRecordsCommand)) throw new Error(`unexpected ${(command as object).constructor.name}`);
    const input = command.input;
    this.calls.push(input);
    const result = this.respond(input, this.calls.length);
    if (result instanceof Error) throw result;
    return { Records: result, FailedRecordCount: (result ?? []).filter((r) => r.ErrorCode).length };
  }
  asClient = () => this as unknown as KinesisClient;
}

const ok = (n: number) => Array.from({ length: n }, (_, i) => ({ SequenceNumber: String(i), ShardId: 'shardId-000000000000' }));
const throttled = { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' };
const events = (n: number, userOf: (i: number) => string = (i) => `u${i % 3}`): StreamEvent[] =>
  Array.from({ length: n }, (_, i) => track('E', { i }, { userId: userOf(i), messageId: `m${i}` }));
const messageIdsOf = (input: PutRecordsCommandInput) => (input.Records ?? []).map((r) => JSON.parse(Buffer.from(r.Data as Uint8Array).toString()).messageId);

describe('KinesisEventStream', () => {
  it('writes each event as JSON, partitioned by userId (else anonymousId), to the named stream', async () => {
    const kinesis = new FakeKinesis((input) => ok(input.Records?.length ?? 0));
    const stream = new KinesisEventStream(kinesis.asClient(), 'events', FAST);
    const batch = [track('A', {}, { userId: 'u1', anonymousId: 'a1' }), track('B', {}, { anonymousId: 'a2' })];
    expect(await stream.put(batch)).toEqual({ failed: [] });
    expect(kinesis.calls).toHaveLength(1);
    expect(kinesis.calls[0].StreamName).toBe('events');
    expect(kinesis.calls[0].Records?.map((r) => r.PartitionKey)).toEqual(['u1', 'a2']);
    expect(JSON.parse(Buffer.from(kinesis.calls[0].Records?.[0].Data as Uint8Array).toString())).toEqual(batch[0]);
  });

  it('ends each record with a newline, so Firehose concatenates records into JSON lines', async () => {
    const kinesis = new FakeKinesis((input) => ok(input.Records?.length ?? 0));
    const batch = events(3);
    await new KinesisEventStream(kinesis.asClient(), 'events', FAST).put(batch);
    const data = (kinesis.calls[0].Records ?? []).map((r) => Buffer.from(r.Data as Uint8Array).toString('utf8'));
    expect(data).toEqual(batch.map((e) => `${JSON.stringify(e)}\n`));
    // What Firehose delivers (the records' data, concatenated as it is) reads back line by line.
    expect(data.join('').split('\n').slice(0, -1).map((line) => JSON.parse(line))).toEqual(batch);
  });

  it('keeps the largest event ingest accepts far below the 1 MiB Kinesis record limit', () => {
    const fields = { pad: '\u0001'.repeat(LIMITS.maxEventBytes) };
    const entry = toEntry(track('E', fields, { userId: 'u'.repeat(LIMITS.maxIdLength), messageId: 'm'.repeat(LIMITS.maxIdLength) }));
    expect((entry.Data?.byteLength ?? 0) + Buffer.byteLength(entry.PartitionKey ?? '')).toBeLessThan(PUT_RECORDS_LIMITS.maxEntryBytes / 4);
  });

  it('reports a record over 1 MiB as failed without sending it, and sends the others', async () => {
    const kinesis = new FakeKinesis((input) => ok(input.Records?.length ?? 0));
    const huge = track('E', { pad: 'x'.repeat(1024 * 1024) }, { userId: 'u', messageId: 'huge' });
    const result = await new KinesisEventStream(kinesis.asClient(), 'events', FAST).put([...events(2), huge]);
    expect(result.failed).toEqual([huge]);
    expect(result.lastError).toMatch(/^EntryTooLarge: 1 entries are over 1048576 bytes/);
    expect(kinesis.calls.flatMap(messageIdsOf)).toEqual(['m0', 'm1']);
  });

  it('resends only the entries that failed', async () => {
    const kinesis = new FakeKinesis((input, call) => (call === 1 ? (input.Records ?? []).map((_, i) => (i === 1 || i === 3 ? throttled : ok(1)[0])) : ok(input.Records?.length ?? 0)));
    const stream = new KinesisEventStream(kinesis.asClient(), 'events', FAST);
    const result = await stream.put(events(5));
    expect(result).toEqual({ failed: [] });
    expect(kinesis.calls).toHaveLength(2);
    expect(messageIdsOf(kinesis.calls[1])).toEqual(['m1', 'm3']);
    expect(kinesis.calls[1].Records?.map((r) => r.PartitionKey)).toEqual(['u1', 'u0']);
  });

  it('sends at most 500 records per call', async () => {
    const kinesis = new FakeKinesis((input) => ok(input.Records?.length ?? 0));
    const stream = new KinesisEventStream(kinesis.asClient(), 'events', FAST);
    expect((await stream.put(events(1201))).failed).toEqual([]);
    expect(kinesis.calls.map((c) => c.Records?.length)).toEqual([500, 500, 201]);
    expect(kinesis.calls.flatMap(messageIdsOf)).toEqual(events(1201).map((e) => e.messageId));
  });

  it('keeps each call under 5 MiB', async () => {
    const kinesis = new FakeKinesis((input) => ok(input.Records?.length ?? 0));
    const stream = new KinesisEventStream(kinesis.asClient(), 'events', FAST);
    const big = Array.from({ length: 400 }, (_, i) => track('E', { pad: 'x'.repeat(30_000) }, { userId: 'u', messageId: `b${i}` }));
    await stream.put(big);
    expect(kinesis.calls.length).toBeGreaterThan(1);
    for (const call of kinesis.calls) {
      const bytes = (call.Records ?? []).reduce((sum, r) => sum + (r.Data?.byteLength ?? 0) + Buffer.byteLength(r.PartitionKey ?? ''), 0);
      expect(bytes).toBeLessThanOrEqual(5 * 1024 * 1024);
    }
    expect(kinesis.calls.reduce((n, c) => n + (c.Records?.length ?? 0), 0)).toBe(400);
  });

  it('returns the entries that still fail after every attempt, with the last error', async () => {
    const kinesis = new FakeKinesis((input) => (input.Records ?? []).map((r) => (r.PartitionKey === 'u2' ? throttled : ok(1)[0])));
    const stream = new KinesisEventStream(kinesis.asClient(), 'events', FAST);
    const batch = events(6);
    const result = await stream.put(batch);
    expect(result.failed.map((e) => e.messageId)).toEqual(['m2', 'm5']);
    expect(result.failed[0]).toBe(batch[2]);
    expect(result.lastError).toBe('ProvisionedThroughputExceededException: Rate exceeded for shard');
    expect(kinesis.calls).toHaveLength(FAST.attempts);
  });

  it('retries a whole call that throws, and reports it when it keeps throwing', async () => {
    const flaky = new FakeKinesis((input, call) => (call === 1 ? Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }) : ok(input.Records?.length ?? 0)));
    expect(await new KinesisEventStream(flaky.asClient(), 'events', FAST).put(events(3))).toEqual({ failed: [] });
    expect(flaky.calls).toHaveLength(2);

    const down = new FakeKinesis(() => Object.assign(new Error('no route'), { name: 'NetworkingError' }));
    const result = await new KinesisEventStream(down.asClient(), 'events', FAST).put(events(3));
    expect(result.failed).toHaveLength(3);
    expect(result.lastError).toBe('NetworkingError: no route');
  });

  it('makes no call for no events', async () => {
    const kinesis = new FakeKinesis(() => new Error('unexpected'));
    expect(await new KinesisEventStream(kinesis.asClient(), 'events', FAST).put([])).toEqual({ failed: [] });
    expect(kinesis.calls).toHaveLength(0);
  });
});

describe('retry helpers', () => {
  it('backs off with full jitter, capped', () => {
    const policy: RetryPolicy = { attempts: 5, baseDelayMs: 50, maxDelayMs: 1000 };
    for (let i = 0; i < 200; i++) {
      expect(backoffMs(1, policy)).toBeLessThan(100);
      expect(backoffMs(10, policy)).toBeLessThan(1000);
      expect(backoffMs(3, policy)).toBeGreaterThanOrEqual(0);
    }
  });

  it('retryUntilDone stops when done and throws after the last attempt', async () => {
    let calls = 0;
    await retryUntilDone('work', async () => ++calls === 3, FAST);
    expect(calls).toBe(3);
    calls = 0;
    await expect(retryUntilDone('BatchWriteItem', async () => (++calls, false), FAST)).rejects.toThrow('BatchWriteItem still had unprocessed work after 4 attempts');
    expect(calls).toBe(4);
  });
});
