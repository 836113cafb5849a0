import { FirehoseClient, PutRecordBatchCommand, PutRecordBatchCommandInput, PutRecordBatchCommandOutput } from '@aws-sdk/client-firehose';
import { mockClient } from 'aws-sdk-client-mock';
import { BadEvent, FirehoseBadEventStore, MAX_PAYLOAD_CHARS, PUT_RECORD_BATCH_LIMITS } from '../../lambdas/shared/store/bad-event-store';
import type { RetryPolicy } from '../../lambdas/shared/store/retry';
import { T0 } from '../support/events';

const FAST: RetryPolicy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };
const STREAM = 'bad-events';

const firehose = mockClient(FirehoseClient);
beforeEach(() => firehose.reset());
const store = () => new FirehoseBadEventStore(new FirehoseClient({ region: 'us-east-1' }), STREAM, () => T0, FAST);

const bad = (i: number, extra: Partial<BadEvent> = {}): BadEvent => ({ id: `shardId-000000000000/${i}`, source: 'processor', reason: `reason ${i}`, payload: `payload ${i}`, ...extra });
/** The PutRecordBatch inputs sent so far. */
const calls = (): PutRecordBatchCommandInput[] => firehose.commandCalls(PutRecordBatchCommand).map((c) => c.args[0].input);
const textOf = (record: { Data?: Uint8Array }) => Buffer.from(record.Data as Uint8Array).toString('utf8');
const idsOf = (input: PutRecordBatchCommandInput) => (input.Records ?? []).map((r) => JSON.parse(textOf(r)).id);
const allOk = (input: PutRecordBatchCommandInput): PutRecordBatchCommandOutput =>
  ({ FailedPutCount: 0, RequestResponses: (input.Records ?? []).map((_, i) => ({ RecordId: `r${i}` })), $metadata: {} }) as PutRecordBatchCommandOutput;
const failing = (input: PutRecordBatchCommandInput, fails: (id: string) => boolean): PutRecordBatchCommandOutput => {
  const responses = (input.Records ?? []).map((r, i) =>
    fails(JSON.parse(textOf(r)).id) ? { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' } : { RecordId: `r${i}` },
  );
  return { FailedPutCount: responses.filter((r) => 'ErrorCode' in r).length, RequestResponses: responses, $metadata: {} } as PutRecordBatchCommandOutput;
};

describe('FirehoseBadEventStore', () => {
  it('sends each bad event as one newline-terminated JSON line with exactly the lake columns', async () => {
    firehose.on(PutRecordBatchCommand).callsFake(allOk);
    await store().putAll([
      bad(1, { partitionKey: 'u1', arrivedAt: T0 - 1000 }),
      { id: 'ingest/req-1/2', source: 'ingest', reason: 'userId or anonymousId is required', payload: '{"type":"track"}', sourceId: 'src_abc', arrivedAt: T0 },
    ]);
    const [input] = calls();
    expect(input.DeliveryStreamName).toBe(STREAM);
    const texts = (input.Records ?? []).map(textOf);
    expect(texts.every((t) => t.endsWith('}\n') && t.indexOf('\n') === t.length - 1)).toBe(true);
    expect(texts.map((t) => JSON.parse(t))).toEqual([
      { id: 'shardId-000000000000/1', source: 'processor', reason: 'reason 1', payload: 'payload 1', truncated: false, partitionKey: 'u1', arrivedAt: '2024-05-01T11:59:59.000Z', detectedAt: '2024-05-01T12:00:00.000Z' },
      { id: 'ingest/req-1/2', source: 'ingest', reason: 'userId or anonymousId is required', payload: '{"type":"track"}', truncated: false, sourceId: 'src_abc', arrivedAt: '2024-05-01T12:00:00.000Z', detectedAt: '2024-05-01T12:00:00.000Z' },
    ]);
  });

  it('truncates a long payload, flags it, and keeps every record within 1,000 KiB', async () => {
    firehose.on(PutRecordBatchCommand).callsFake(allOk);
    // Worst case: every character needs a 6-byte JSON escape; an astral character straddles the cut.
    const payload = `${'\u0001'.repeat(MAX_PAYLOAD_CHARS - 1)}😀${'x'.repeat(10)}`;
    await store().putAll([bad(1, { payload, reason: '\u0002'.repeat(100_000) }), bad(2, { payload: '' })]);
    const records = calls()[0].Records ?? [];
    expect(records[0].Data?.byteLength).toBeLessThanOrEqual(PUT_RECORD_BATCH_LIMITS.maxEntryBytes);
    const line = JSON.parse(textOf(records[0]));
    expect(line.truncated).toBe(true);
    expect(line.payload).toBe('\u0001'.repeat(MAX_PAYLOAD_CHARS - 1)); // not half of the emoji
    expect(JSON.parse(textOf(records[1]))).toMatchObject({ payload: '(empty)', truncated: false });
  });

  it('sends at most 500 records and 4 MiB per call', async () => {
    firehose.on(PutRecordBatchCommand).callsFake(allOk);
    await store().putAll(Array.from({ length: 1201 }, (_, i) => bad(i)));
    expect(calls().map((c) => c.Records?.length)).toEqual([500, 500, 201]);
    expect(calls().flatMap(idsOf)).toEqual(Array.from({ length: 1201 }, (_, i) => `shardId-000000000000/${i}`));

    firehose.reset();
    firehose.on(PutRecordBatchCommand).callsFake(allOk);
    await store().putAll(Array.from({ length: 100 }, (_, i) => bad(i, { payload: 'p'.repeat(MAX_PAYLOAD_CHARS) })));
    expect(calls().length).toBeGreaterThan(1);
    for (const call of calls()) expect((call.Records ?? []).reduce((sum, r) => sum + (r.Data?.byteLength ?? 0), 0)).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(calls().flatMap(idsOf)).toHaveLength(100);
  });

  it('resends only the records that failed (FailedPutCount, per-record ErrorCode)', async () => {
    firehose
      .on(PutRecordBatchCommand)
      .callsFakeOnce((input) => failing(input, (id) => id.endsWith('/1') || id.endsWith('/3')))
      .callsFake(allOk);
    await store().putAll([0, 1, 2, 3, 4].map((i) => bad(i)));
    expect(calls()).toHaveLength(2);
    expect(idsOf(calls()[1])).toEqual(['shardId-000000000000/1', 'shardId-000000000000/3']);
  });

  it('retries a call that throws', async () => {
    firehose.on(PutRecordBatchCommand).rejectsOnce(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' })).callsFake(allOk);
    await store().putAll([bad(1)]);
    expect(calls()).toHaveLength(2);
  });

  it('throws, naming the count and the last error, when records still fail after every attempt', async () => {
    firehose.on(PutRecordBatchCommand).callsFake((input) => failing(input, (id) => id.endsWith('/2')));
    await expect(store().putAll([0, 1, 2].map((i) => bad(i)))).rejects.toThrow(
      `1 of 3 bad events could not be written to the delivery stream ${STREAM}: ServiceUnavailableException: Slow down.`,
    );
    expect(calls()).toHaveLength(FAST.attempts);
    expect(calls().slice(1).map(idsOf)).toEqual([['shardId-000000000000/2'], ['shardId-000000000000/2']]);
  });

  it('makes no call for no events', async () => {
    await store().putAll([]);
    expect(calls()).toHaveLength(0);
  });
});
