import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { FirehoseTransformationEvent, FirehoseTransformationResult, FirehoseTransformationResultRecord, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { describeIssues, parseIsoTimestamp, StreamEvent, StreamEventSchema } from '../lambdas/shared/domain/event-schema';
import { isPlainObject } from '../lambdas/shared/domain/json';
import { CheckpointStore, KinesisEventSource } from './kinesis-event-source';
import type { InvokeOutcome } from './lambda-host';
import { LOCAL_REGION, LocalDeliveryStream, LocalEventSourceMapping, LocalStream } from './template-model';

/**
 * The local event lake: what Kinesis Data Firehose delivers to S3 in AWS, as files under `<dataDir>/lake/`.
 *
 *   events/dt=YYYY-MM-DD/hour=HH/events-<yyyyMMddHHmmss>-<shardId>-<firstSequenceNumber>.json.gz
 *   errors/dt=YYYY-MM-DD/hour=HH/errors-<…same…>.json.gz
 *
 * One writer runs per delivery stream of the template that reads a Kinesis stream (the events delivery stream,
 * whose S3 prefix is `events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/`). Records reach the stream as the
 * event's JSON and a newline, which Firehose concatenates as they are.
 *
 * When the delivery stream has a Lambda processor (the events delivery stream's consent filter), the writer runs
 * that function of the template, as Firehose does: one Firehose transformation event per batch, through the local
 * Lambda host. It writes the records the function returns `Ok` (their data as returned, one line each), skips
 * those it returns `Dropped`, and writes those it returns `ProcessingFailed` to `errors/` in Firehose's
 * processing-failed format (the record's data in base64 `rawData`; the reason is in the function's log). A failed
 * invocation, or a response that does not account for every record, fails the batch, which is retried.
 *
 * Without a processor, each record is parsed and written back as one line, the same bytes for a stream event;
 * records that are not stream events (they did not come through ingest) go to `errors/`, with the reason.
 *
 * `events/` holds stream events as the ingest function wrote them, one JSON object per line, gzip-compressed,
 * partitioned by the event's `receivedAt` (UTC): Hive-style partitions, which Athena (partition projection) and
 * DuckDB (`read_json` with `hive_partitioning`) read as they are. `errors/` is partitioned by arrival time.
 */

/** The events table of the lake, under the lake directory. */
export const LAKE_EVENTS_PREFIX = 'events';
/** Records that are not stream events, under the lake directory. */
export const LAKE_ERRORS_PREFIX = 'errors';

export interface LakeWriterOptions {
  /** The delivery stream (Kinesis as source) this writer stands in for. */
  deliveryStream: LocalDeliveryStream;
  /** Its source stream. */
  stream: LocalStream;
  kinesis: KinesisClient;
  /** Shared with the event source mappings; the writer keeps its own position under `lakeWriterIdOf(<delivery stream id>)`. */
  checkpoints: CheckpointStore;
  /** `<dataDir>/lake`. */
  lakeDir: string;
  /** Write an object once this many records of a shard are buffered (Firehose's buffering hint). @default 500 */
  bufferRecords?: number;
  /** …or once the oldest buffered record has waited this long. @default 1 */
  bufferSeconds?: number;
  /** Pause between polls of a shard with nothing new. */
  pollIntervalMs: number;
  /** First delay before a failed write is retried (doubling up to 5 s, without limit, as Firehose keeps retrying S3). */
  retryBaseDelayMs: number;
  /** Invokes a function of the template (the local Lambda host): needed when the delivery stream has a Lambda processor. */
  invokeFunction?: (functionId: string, event: FirehoseTransformationEvent) => Promise<InvokeOutcome>;
  log: (message: string) => void;
}

/** The checkpoint key (mapping id) of the lake writer of a delivery stream. */
export const lakeWriterIdOf = (deliveryStreamId: string) => `LakeWriter/${deliveryStreamId}`;

/** A Lambda processor of a delivery stream, as the writer runs it. */
export interface LakeProcessor {
  deliveryStreamArn: string;
  /** Written into processing-failed records, as Firehose does. */
  functionArn: string;
  invoke: (event: FirehoseTransformationEvent) => Promise<InvokeOutcome>;
}

/**
 * A stream consumer that delivers every record to the lake, one object per batch of a shard, each written
 * atomically (temporary file, fsync, rename) before the batch is checkpointed: a crash never loses a record nor
 * leaves half an object. It is a Kinesis event source with Firehose's settings instead of a Lambda's: retries
 * without limit (a write that keeps failing blocks the shard and is logged), no record age limit, and on stop it
 * drains every shard and writes what it read.
 *
 * Delivery is at least once. An object's name comes from its first record, so a batch delivered again after a
 * crash between the rename and the checkpoint replaces the same object rather than adding a copy; but the stream
 * itself can hold the same event twice (a client resending after a 503 or a timeout), so readers must
 * de-duplicate by `messageId`, as `readLakeEvents` does and training must.
 */
export function createLakeWriter(options: LakeWriterOptions): KinesisEventSource {
  const processor = processorOf(options);
  const mapping: LocalEventSourceMapping = {
    logicalId: lakeWriterIdOf(options.deliveryStream.logicalId),
    functionId: 'LakeWriter',
    streamId: options.stream.logicalId,
    batchSize: options.bufferRecords ?? 500,
    maxBatchingWindowSeconds: options.bufferSeconds ?? 1,
    bisectOnError: false,
    maxRetryAttempts: -1,
    maxRecordAgeSeconds: -1,
    reportBatchItemFailures: false,
    startingPosition: 'TRIM_HORIZON',
  };
  return new KinesisEventSource({
    mapping,
    stream: options.stream,
    kinesis: options.kinesis,
    invoke: (event) => writeLakeBatch(options.lakeDir, event, processor),
    checkpoints: options.checkpoints,
    functionArn: options.deliveryStream.arn,
    pollIntervalMs: options.pollIntervalMs,
    retryBaseDelayMs: options.retryBaseDelayMs,
    drainOnStop: true,
    log: options.log,
  });
}

/** The delivery stream's Lambda processor, run through `invokeFunction`; undefined when it has none. */
function processorOf({ deliveryStream, invokeFunction }: LakeWriterOptions): LakeProcessor | undefined {
  const { processor } = deliveryStream;
  if (!processor) return undefined;
  if (!invokeFunction) throw new Error(`Delivery stream ${deliveryStream.name} has a Lambda processor (${processor.functionId}): the lake writer needs invokeFunction`);
  return { deliveryStreamArn: deliveryStream.arn, functionArn: processor.functionArn, invoke: (event) => invokeFunction(processor.functionId, event) };
}

/** One line of the lake: the record it comes from, where it goes, and the time that partitions it. */
interface LakeLine {
  record: KinesisStreamRecord;
  prefix: typeof LAKE_EVENTS_PREFIX | typeof LAKE_ERRORS_PREFIX;
  at: number;
  text: string;
}

/** An object about to be written: its path under the lake directory and its lines. */
interface PendingObject {
  key: string;
  lines: string[];
}

/**
 * Writes one batch of one shard as one object per partition (a batch can span an hour boundary), through the
 * processor if there is one; also used, without one, to build lakes in tests and benchmarks.
 */
export async function writeLakeBatch(lakeDir: string, event: KinesisStreamEvent, processor?: LakeProcessor): Promise<InvokeOutcome> {
  try {
    const lines = processor ? await processedLines(event.Records, processor) : event.Records.map(lakeLineOf);
    for (const object of objectsOf(lines).values()) await writeAtomically(path.join(lakeDir, object.key), object.lines);
    return { ok: true, result: null };
  } catch (error) {
    return { ok: false, error: { errorType: (error as Error).name, errorMessage: (error as Error).message } };
  }
}

/** Groups a batch's lines by prefix and partition, each object named after its first record. */
function objectsOf(lines: LakeLine[]): Map<string, PendingObject> {
  const objects = new Map<string, PendingObject>();
  for (const line of lines) {
    const { record } = line;
    const partition = `${line.prefix}/${partitionOf(line.at)}`;
    let object = objects.get(partition);
    if (!object) {
      // eventID is `<shardId>:<sequenceNumber>`, as Lambda sets it.
      const shardId = record.eventID.split(':')[0];
      const name = `${line.prefix}-${compactUtc(line.at)}-${shardId}-${record.kinesis.sequenceNumber}.json.gz`;
      object = { key: `${partition}/${name}`, lines: [] };
      objects.set(partition, object);
    }
    object.lines.push(line.text);
  }
  return objects;
}

/**
 * A record as a lake line. A stream event is written as the ingest function wrote it (re-serialized, which
 * leaves `JSON.stringify` output unchanged and guarantees one line); anything else becomes an error line.
 */
function lakeLineOf(record: KinesisStreamRecord): LakeLine {
  const data = Buffer.from(record.kinesis.data, 'base64').toString('utf8');
  const json = parseJson(data);
  const parsed = StreamEventSchema.safeParse(json);
  if (parsed.success) {
    return { record, prefix: LAKE_EVENTS_PREFIX, at: parseIsoTimestamp(parsed.data.receivedAt) as number, text: JSON.stringify(json) };
  }
  const arrivedAt = arrivalOf(record);
  const reason = json === undefined ? 'Record data is not JSON' : `Not a stream event: ${describeIssues(parsed.error)}`;
  return {
    record,
    prefix: LAKE_ERRORS_PREFIX,
    at: arrivedAt,
    text: JSON.stringify({
      errorCode: 'InvalidStreamEvent',
      errorMessage: reason,
      rawData: record.kinesis.data,
      arrivalTimestamp: arrivedAt,
      partitionKey: record.kinesis.partitionKey,
      sequenceNumber: record.kinesis.sequenceNumber,
    }),
  };
}

/** Runs the processor on a batch, as Firehose does, and turns its results into lake lines (none for a dropped record). */
async function processedLines(records: KinesisStreamRecord[], processor: LakeProcessor): Promise<LakeLine[]> {
  const results = resultsOf(records, await processor.invoke(transformationEvent(records, processor)), processor);
  return records.flatMap((record): LakeLine[] => {
    const result = results.get(record.eventID) as FirehoseTransformationResultRecord;
    if (result.result === 'Dropped') return [];
    if (result.result === 'ProcessingFailed') return [processingFailedLine(record, processor)];
    // As the function returned it: one stream event and its newline, which the object writer adds back.
    const text = Buffer.from(result.data as string, 'base64').toString('utf8').replace(/\n$/, '');
    const event = lakeEventOf(text);
    return [{ record, prefix: LAKE_EVENTS_PREFIX, at: event ? (parseIsoTimestamp(event.receivedAt) as number) : arrivalOf(record), text }];
  });
}

/** The Firehose transformation event for a batch of Kinesis records; each record's id is its `eventID`. */
function transformationEvent(records: KinesisStreamRecord[], processor: LakeProcessor): FirehoseTransformationEvent {
  return {
    invocationId: randomUUID(),
    deliveryStreamArn: processor.deliveryStreamArn,
    sourceKinesisStreamArn: records[0]?.eventSourceARN,
    region: LOCAL_REGION,
    records: records.map((record) => ({
      recordId: record.eventID,
      approximateArrivalTimestamp: arrivalOf(record),
      data: record.kinesis.data,
      kinesisRecordMetadata: {
        shardId: record.eventID.split(':')[0],
        partitionKey: record.kinesis.partitionKey,
        approximateArrivalTimestamp: arrivalOf(record),
        sequenceNumber: record.kinesis.sequenceNumber,
        subsequenceNumber: '0',
      },
    })),
  };
}

const TRANSFORMATION_RESULTS = new Set(['Ok', 'Dropped', 'ProcessingFailed']);

/**
 * The processor's result for each record, by record id. A failed invocation, or a response that does not give
 * every record exactly one valid result (and data when `Ok`), throws, so that the batch is retried.
 */
function resultsOf(records: KinesisStreamRecord[], outcome: InvokeOutcome, processor: LakeProcessor): Map<string, FirehoseTransformationResultRecord> {
  const fail = (problem: string) => new Error(`The lake processor ${processor.functionArn} ${problem}; the batch will be retried`);
  if (!outcome.ok) throw fail(`failed: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
  const returned = (outcome.result as FirehoseTransformationResult | null)?.records;
  if (!Array.isArray(returned) || returned.length !== records.length) throw fail(`returned ${Array.isArray(returned) ? returned.length : 'no'} records for ${records.length}`);
  const results = new Map(returned.map((r) => [r?.recordId, r]));
  for (const { eventID } of records) {
    const result = results.get(eventID);
    if (!result || !TRANSFORMATION_RESULTS.has(result.result) || (result.result === 'Ok' && typeof result.data !== 'string')) {
      throw fail(`returned no valid result for record ${eventID}`);
    }
  }
  return results;
}

/**
 * A record the processor failed, as Firehose writes it to its `processing-failed` error output: the documented
 * fields, with the error code and message Firehose uses for a `ProcessingFailed` result.
 */
function processingFailedLine(record: KinesisStreamRecord, processor: LakeProcessor): LakeLine {
  const arrivedAt = arrivalOf(record);
  return {
    record,
    prefix: LAKE_ERRORS_PREFIX,
    at: arrivedAt,
    text: JSON.stringify({
      attemptsMade: 1,
      arrivalTimestamp: arrivedAt,
      errorCode: 'Lambda.ProcessingFailedStatus',
      errorMessage: 'ProcessingFailed status set for record',
      attemptEndingTimestamp: Date.now(),
      rawData: record.kinesis.data,
      lambdaArn: processor.functionArn,
    }),
  };
}

/** When the record reached the stream, epoch ms. */
const arrivalOf = (record: KinesisStreamRecord) => Math.round(record.kinesis.approximateArrivalTimestamp * 1000);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Two-digit zero padding of date fields. */
export const pad = (n: number) => String(n).padStart(2, '0');

/** `dt=YYYY-MM-DD/hour=HH` of an epoch-ms time, in UTC. */
function partitionOf(ms: number): string {
  const d = new Date(ms);
  return `dt=${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}/hour=${pad(d.getUTCHours())}`;
}

/** `yyyyMMddHHmmss` in UTC: sorts as the time does. */
export function compactUtc(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

const gzip = promisify(zlib.gzip);

/** Writes `lines` as a gzip object, each line newline-terminated (see `writeGzipAtomically`). */
function writeAtomically(file: string, lines: string[]): Promise<void> {
  return writeGzipAtomically(file, Buffer.from(`${lines.join('\n')}\n`));
}

/** Writes `data` gzip-compressed as `file`: to a temporary file, flushed to disk, then renamed into place. */
export async function writeGzipAtomically(file: string, data: Buffer): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const body = await gzip(data);
  const tmp = `${file}.tmp`;
  const handle = await fs.promises.open(tmp, 'w');
  try {
    await handle.writeFile(body);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(tmp, file);
}

/** What one pass of `readLakeEvents` read, filled in as it goes. */
export interface LakeReadStats {
  /** Objects opened. */
  objects: number;
  /** Events returned. */
  events: number;
  /** Events skipped because an event with the same `messageId` was returned before. */
  duplicates: number;
  /** Lines that are not a JSON object with a `messageId` and a `receivedAt` (skipped). */
  skippedLines: number;
  /** Objects that could not be read to the end (not gzip, truncated); the lines before the damage are returned. */
  unreadableObjects: number;
}

/** The events of the lake, and what reading them met (`stats` is complete once the iteration ends). */
export interface LakeEvents extends AsyncIterable<StreamEvent> {
  readonly stats: LakeReadStats;
}

/**
 * Every event in the lake's `events/` table, in time order (partition by partition, object by object in name
 * order, lines in order), each `messageId` once: the first occurrence wins. Objects are streamed, one line at a
 * time; a damaged line or object is counted in `stats` and skipped, never thrown. With `since` (epoch ms) only
 * events received at or after it are returned, and older partitions are not opened.
 *
 * The set of `messageId`s seen is kept in memory (a few tens of bytes per event: fine for a local lake).
 */
export function readLakeEvents(lakeDir: string, options: { since?: number } = {}): LakeEvents {
  const stats: LakeReadStats = { objects: 0, events: 0, duplicates: 0, skippedLines: 0, unreadableObjects: 0 };
  return {
    stats,
    [Symbol.asyncIterator]: () => eventsOf(path.join(lakeDir, LAKE_EVENTS_PREFIX), options.since, stats),
  };
}

async function* eventsOf(eventsDir: string, since: number | undefined, stats: LakeReadStats): AsyncGenerator<StreamEvent> {
  Object.assign(stats, { objects: 0, events: 0, duplicates: 0, skippedLines: 0, unreadableObjects: 0 });
  const seen = new Set<string>();
  for (const file of await objectsInTimeOrder(eventsDir, since)) {
    stats.objects += 1;
    try {
      for await (const line of gunzippedLines(file)) {
        if (line.trim() === '') continue;
        const event = lakeEventOf(line);
        if (!event) {
          stats.skippedLines += 1;
          continue;
        }
        if (since !== undefined && (parseIsoTimestamp(event.receivedAt) as number) < since) continue;
        if (seen.has(event.messageId)) {
          stats.duplicates += 1;
          continue;
        }
        seen.add(event.messageId);
        stats.events += 1;
        yield event;
      }
    } catch {
      stats.unreadableObjects += 1;
    }
  }
}

/** A lake line as an event, or undefined when it is not a JSON object with a `messageId` and a valid `receivedAt`. */
function lakeEventOf(line: string): StreamEvent | undefined {
  const json = parseJson(line);
  if (!isPlainObject(json) || typeof json.messageId !== 'string' || typeof json.receivedAt !== 'string') return undefined;
  return parseIsoTimestamp(json.receivedAt) === undefined ? undefined : (json as StreamEvent);
}

/** The objects of the events table, oldest partition first, skipping partitions that end before `since`. */
async function objectsInTimeOrder(eventsDir: string, since: number | undefined): Promise<string[]> {
  const files: string[] = [];
  for (const dt of await sortedEntries(eventsDir, /^dt=\d{4}-\d{2}-\d{2}$/)) {
    for (const hour of await sortedEntries(path.join(eventsDir, dt), /^hour=\d{2}$/)) {
      if (since !== undefined && partitionEnd(dt, hour) <= since) continue;
      const dir = path.join(eventsDir, dt, hour);
      files.push(...(await sortedEntries(dir, /\.json\.gz$/)).map((name) => path.join(dir, name)));
    }
  }
  return files;
}

/** Names in a directory that match `pattern`, sorted; none when the directory does not exist. */
async function sortedEntries(dir: string, pattern: RegExp): Promise<string[]> {
  const names = await fs.promises.readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  return names.filter((name) => pattern.test(name)).sort();
}

/** Epoch ms at which the partition `dt=YYYY-MM-DD`/`hour=HH` ends. */
function partitionEnd(dt: string, hour: string): number {
  return (parseIsoTimestamp(`${dt.slice(3)}T${hour.slice(5)}:00:00Z`) as number) + 3_600_000;
}

/**
 * The lines of a gzip file, streamed. Written by hand rather than with `readline`: piping into `readline` loses
 * the gunzip stream's errors, so a truncated object would look like a short one.
 */
async function* gunzippedLines(file: string): AsyncGenerator<string> {
  const source = fs.createReadStream(file);
  const gunzip = zlib.createGunzip();
  source.on('error', (error) => gunzip.destroy(error));
  source.pipe(gunzip).setEncoding('utf8');
  let rest = '';
  try {
    for await (const chunk of gunzip as AsyncIterable<string>) {
      const lines = `${rest}${chunk}`.split('\n');
      rest = lines.pop() as string;
      yield* lines;
    }
    if (rest !== '') yield rest;
  } finally {
    source.destroy();
    gunzip.destroy();
  }
}
