import * as fs from 'node:fs';
import { createServer, Server } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { generateDemo, writeJsonLines } from '../../local/demo';
import { readLakeEvents } from '../../local/lake-writer';
import { replayEvents } from '../../local/replay';
import type { StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { listen } from '../../local/emulators';
import { lakeBadEvents, lakeObjects } from '../support/lake';
import { eventually, kinesisAt, post, startTestRuntime, WRITE_KEY } from '../support/local-runtime';

jest.setTimeout(120_000);

async function lakeEvents(lakeDir: string): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of readLakeEvents(lakeDir)) events.push(event);
  return events;
}

const sortedIds = (events: Array<{ messageId: string }>) => events.map((e) => e.messageId).sort();

it('replays a file into the runtime, and the lake holds each accepted event once, across a restart', async () => {
  const { events } = generateDemo({ seed: 3, items: 40, users: 6, anonymousVisitors: 4, days: 2 });
  let runtime = await startTestRuntime();
  try {
    const file = path.join(runtime.dataDir, 'replay', 'events.jsonl');
    await writeJsonLines(file, events);
    // Bad lines after the good ones: line numbers are known.
    const bad = ['this is not json', '', JSON.stringify({ type: 'track', event: 'No identity' }), '   ', JSON.stringify({ type: 'track', userId: 'no-event' })];
    fs.appendFileSync(file, `${bad.join('\n')}\n`);

    const summary = await replayEvents({ file, url: runtime.url, writeKey: WRITE_KEY, batchSize: 25, concurrency: 3 });
    expect(summary).toMatchObject({ sent: events.length + 2, accepted: events.length, rejected: 3, failed: 0 });
    expect(summary.aborted).toBeUndefined();
    expect(summary.bytesDone).toBe(summary.totalBytes);
    // The events the API rejected are kept in the lake's bad events, with their reasons (the line that is not JSON never reached it).
    expect(lakeBadEvents(runtime.lakeDir)).toEqual([
      expect.objectContaining({ source: 'ingest', reason: expect.any(String), payload: expect.stringContaining('"type":"track"') }),
      expect.objectContaining({ source: 'ingest', reason: expect.any(String), payload: expect.stringContaining('"type":"track"') }),
    ]);
    expect(lakeBadEvents(runtime.lakeDir).map((b) => b.reason).sort()).toEqual([expect.stringMatching(/event/), 'userId or anonymousId is required']);
    expect(summary.rejections).toEqual(
      expect.arrayContaining([
        { reason: 'Line is not valid JSON', count: 1, lines: [events.length + 1] },
        { reason: 'userId or anonymousId is required', count: 1, lines: [events.length + 3] },
        { reason: expect.stringMatching(/event/), count: 1, lines: [events.length + 5] },
      ]),
    );

    const inLake = await eventually(async () => {
      const read = await lakeEvents(runtime.lakeDir);
      return read.length === events.length ? read : undefined;
    }, 30_000, () => `the accepted events to reach the lake; the runtime logged: ${runtime.logs.slice(-20).join(' | ')}`);
    expect(sortedIds(inLake)).toEqual(sortedIds(events));
    // As the ingest function wrote them: enriched; read back partition by partition.
    expect(inLake.every((e) => e.receivedAt !== undefined && e.sourceId !== undefined)).toBe(true);
    const receipt = inLake.map((e) => e.receivedAt.slice(0, 13));
    expect(receipt).toEqual([...receipt].sort());

    const objects = lakeObjects(runtime.lakeDir);
    expect(objects.flatMap((o) => o.lines)).toHaveLength(events.length); // once each, not only after de-duplication
    for (const object of objects) {
      const [, dt, hour] = /^dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/events-\d{14}-shardId-\d+-\d+\.json\.gz$/.exec(object.key) ?? [];
      expect(dt).toBeDefined();
      for (const line of object.lines) expect((JSON.parse(line) as StreamEvent).receivedAt.slice(0, 13)).toBe(`${dt}T${hour}`);
    }

    // Stopping flushes: what reached the stream just before the stop is in the lake once the runtime has stopped,
    // and a record that is not a stream event is kept aside in errors/, not dropped: the lake's consent filter
    // fails it, and it is written in Firehose's processing-failed format (the reason is in the filter's log).
    expect((await post(`${runtime.url}/v1/track`, { userId: 'late', event: 'Signed Up', messageId: 'before-stop-1' })).status).toBe(200);
    const kinesis = kinesisAt(runtime.endpoints.kinesis);
    await kinesis.send(new PutRecordCommand({ StreamName: runtime.model.streams[0].name, PartitionKey: 'poison', Data: Buffer.from('not json') }));
    kinesis.destroy();
    await runtime.stop();
    const objectsAtStop = lakeObjects(runtime.lakeDir);
    expect(objectsAtStop.flatMap((o) => o.lines).filter((line) => line.includes('before-stop-1'))).toHaveLength(1);
    expect(lakeObjects(runtime.lakeDir, 'errors').flatMap((o) => o.lines.map((line) => JSON.parse(line)))).toEqual([
      {
        attemptsMade: 1,
        arrivalTimestamp: expect.any(Number),
        errorCode: 'Lambda.ProcessingFailedStatus',
        errorMessage: 'ProcessingFailed status set for record',
        attemptEndingTimestamp: expect.any(Number),
        rawData: Buffer.from('not json').toString('base64'),
        lambdaArn: expect.stringMatching(/^arn:aws:lambda:us-east-1:000000000000:function:Personalization-Lake-ConsentFilter-/),
      },
    ]);

    runtime = await startTestRuntime({ dataDir: runtime.dataDir });
    expect((await post(`${runtime.url}/v1/track`, { userId: 'late', event: 'Logged In', messageId: 'after-restart-1' })).status).toBe(200);
    const afterRestart = await eventually(async () => {
      const read = await lakeEvents(runtime.lakeDir);
      return read.length === events.length + 2 ? read : undefined;
    }, 30_000, () => `the new event to reach the lake; the runtime logged: ${runtime.logs.slice(-20).join(' | ')}`);

    // Nothing lost, nothing written again: the objects written before the restart are untouched, one was added.
    expect(sortedIds(afterRestart)).toEqual(sortedIds([...events, { messageId: 'before-stop-1' }, { messageId: 'after-restart-1' }]));
    const objectsAfter = lakeObjects(runtime.lakeDir);
    expect(objectsAfter.filter((o) => !objectsAtStop.some((before) => before.key === o.key))).toEqual([
      expect.objectContaining({ lines: [expect.stringContaining('after-restart-1')] }),
    ]);
    for (const before of objectsAtStop) expect(objectsAfter.find((o) => o.key === before.key)).toEqual(before);
  } finally {
    await runtime.stop();
  }
});

it('reads back a lake in time order, de-duplicated, skipping damaged lines and objects, and from a time on', async () => {
  const lakeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lake-'));
  const event = (id: string, receivedAt: string) => ({ type: 'track', event: 'x', userId: 'u', messageId: id, timestamp: receivedAt, receivedAt, sourceId: 's' });
  const write = (key: string, lines: string[]) => {
    const file = path.join(lakeDir, 'events', key);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, gzipSync(`${lines.join('\n')}\n`));
  };
  write('dt=2024-05-01/hour=13/events-20240501130000-shardId-000000000000-2.json.gz', [JSON.stringify(event('c', '2024-05-01T13:00:00.000Z'))]);
  write('dt=2024-05-01/hour=09/events-20240501090000-shardId-000000000000-1.json.gz', [
    JSON.stringify(event('a', '2024-05-01T09:00:00.000Z')),
    '{"truncated": ',
    JSON.stringify(event('a', '2024-05-01T09:00:00.000Z')),
    JSON.stringify(event('b', '2024-05-01T09:30:00.000Z')),
  ]);
  fs.writeFileSync(path.join(lakeDir, 'events', 'dt=2024-05-01', 'hour=13', 'events-20240501130500-shardId-000000000001-3.json.gz'), 'not gzip');
  fs.writeFileSync(path.join(lakeDir, 'events', 'dt=2024-05-01', 'hour=13', 'events-20240501131000-shardId-000000000001-4.json.gz.tmp'), 'half written');

  const all = readLakeEvents(lakeDir);
  const ids: string[] = [];
  for await (const e of all) ids.push(e.messageId);
  expect(ids).toEqual(['a', 'b', 'c']);
  expect(all.stats).toEqual({ objects: 3, events: 3, duplicates: 1, skippedLines: 1, unreadableObjects: 1 });

  const recent: string[] = [];
  for await (const e of readLakeEvents(lakeDir, { since: Date.parse('2024-05-01T09:15:00.000Z') })) recent.push(e.messageId);
  expect(recent).toEqual(['b', 'c']);
  expect(await lakeEvents(path.join(lakeDir, 'missing'))).toEqual([]);
});

describe('replay against an instance that is busy or gone', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  /** A fake instance answering each request with the next status (the last one repeats); returns its URL. */
  async function instanceAnswering(statuses: Array<{ status: number; retryAfter?: string }>, calls: number[]): Promise<string> {
    server = createServer((request, response) => {
      request.resume().on('end', () => {
        const { status, retryAfter } = statuses[Math.min(calls.length, statuses.length - 1)];
        calls.push(Date.now());
        response.writeHead(status, { 'Content-Type': 'application/json', ...(retryAfter !== undefined ? { 'Retry-After': retryAfter } : {}) });
        response.end(JSON.stringify(status === 200 ? { success: true } : { success: false, message: 'busy' }));
      });
    });
    return listen(server);
  }

  async function fileOf(events: number): Promise<string> {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'replay-')), 'events.jsonl');
    await writeJsonLines(file, Array.from({ length: events }, (_, i) => ({ type: 'track', userId: 'u', event: 'x', messageId: `m-${i}` })));
    return file;
  }

  it('retries 503 and 429, waiting as long as Retry-After says', async () => {
    const calls: number[] = [];
    const url = await instanceAnswering([{ status: 503, retryAfter: '1' }, { status: 429, retryAfter: '0' }, { status: 200 }], calls);
    const summary = await replayEvents({ file: await fileOf(3), url, writeKey: 'k', retryBaseDelayMs: 1 });
    expect(summary).toMatchObject({ sent: 3, accepted: 3, rejected: 0, failed: 0 });
    expect(calls).toHaveLength(3);
    expect(calls[1] - calls[0]).toBeGreaterThanOrEqual(950);
  });

  it('gives a batch up after maxAttempts answers of 503, and carries on', async () => {
    const calls: number[] = [];
    const url = await instanceAnswering([{ status: 503, retryAfter: '0' }], calls);
    const summary = await replayEvents({ file: await fileOf(3), url, writeKey: 'k', batchSize: 2, concurrency: 1, maxAttempts: 3, retryBaseDelayMs: 1 });
    expect(summary).toMatchObject({ sent: 3, accepted: 0, failed: 3, lastFailure: expect.stringMatching(/503: busy/) });
    expect(summary.aborted).toBeUndefined();
    expect(calls).toHaveLength(6); // two batches, three tries each
  });

  it('stops and says so when the instance is unreachable', async () => {
    const closed = createServer();
    const url = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    const summary = await replayEvents({ file: await fileOf(3), url, writeKey: 'k', maxAttempts: 2, retryBaseDelayMs: 1 });
    expect(summary).toMatchObject({ sent: 0, accepted: 0, failed: 3, aborted: expect.stringMatching(/unreachable \(ECONNREFUSED\)/) });
  });
});
