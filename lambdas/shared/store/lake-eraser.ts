import { pipeline, Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import { forEachLimited } from '../concurrency';
import { parseIsoTimestamp, StreamEvent } from '../domain/event-schema';
import { isPlainObject } from '../domain/json';
import {
  LAKE_OBJECT_PREFIXES,
  lakeLineMatches,
  lakeObjectKindOf,
  lakeObjectQueries,
  LakeTableName,
  messageMatches,
  OBJECT_PATH_COLUMN,
} from '../domain/lake-erasure';
import { AthenaQueryOptions, runAthenaQuery } from './athena-query';
import type { LakeObjectStore } from './lake-objects';

/**
 * The lake part of a GDPR erasure and export (docs/lake-design.md, "Erasure"): find the objects that may hold a
 * person's lines, then rewrite each one without them (gunzip → drop the person's lines → gzip, streamed), or read
 * their events from them. The same code runs in a Lambda function (Athena + S3) and locally (DuckDB + files:
 * local/lake-objects.ts).
 *
 * Each object is an independent, idempotent step: a rewritten object no longer holds the person's lines, so doing
 * it again (a retry, a second erasure) changes nothing. Two erasures must not rewrite the same object at the same
 * time (the later write would bring back the lines the other removed): run erasures one after another.
 * Events still on their way (in the stream, or in Firehose's buffer) reach the lake after an erasure; erasing again
 * once they have landed removes them.
 */

/** Where the person's objects are found (a query engine) and read and written (an object store). */
export interface LakeAccess {
  finder: LakeObjectFinder;
  objects: LakeObjectStore;
}

export interface LakeObjectFinder {
  /** Keys of the objects of `tables` that may hold a line of one of `ids` (at least those that do; see `lakeObjectQueries`). */
  objectsHolding(ids: ReadonlySet<string>, tables: readonly LakeTableName[]): Promise<string[]>;
}

export interface AthenaLakeObjectFinderOptions {
  workGroup: string;
  /** The lake's Glue database. */
  database: string;
  /** The lake bucket: Athena gives objects as `s3://<bucket>/<key>`. */
  bucket: string;
  /** Timeout, polling and log of each query. */
  query?: AthenaQueryOptions;
}

/** Finds the objects with Athena: one query per table (per 50 ids), each a full scan of its table. */
export class AthenaLakeObjectFinder implements LakeObjectFinder {
  constructor(
    private readonly clients: { athena: AthenaClient; s3: S3Client },
    private readonly options: AthenaLakeObjectFinderOptions,
  ) {}

  async objectsHolding(ids: ReadonlySet<string>, tables: readonly LakeTableName[]): Promise<string[]> {
    const { workGroup, database, query } = this.options;
    const keys = new Set<string>();
    for (const sql of lakeObjectQueries(ids, tables)) {
      const { stats, rows } = await runAthenaQuery(this.clients, { sql, workGroup, database }, query);
      for await (const row of rows) keys.add(this.keyOf(row[OBJECT_PATH_COLUMN]));
      query?.log?.(`Athena query ${stats.queryExecutionId} scanned ${stats.dataScannedBytes} bytes to find a person's lake objects`);
    }
    return [...keys];
  }

  private keyOf(objectPath: string): string {
    const prefix = `s3://${this.options.bucket}/`;
    if (!objectPath.startsWith(prefix)) throw new Error(`Athena gave ${objectPath}, which is not an object of the lake bucket ${this.options.bucket}`);
    return objectPath.slice(prefix.length);
  }
}

/** What an erasure did to the lake. */
export interface LakeErasure {
  /** Objects read (every candidate object that still existed). */
  objectsScanned: number;
  /** Objects written again without the person's lines. */
  objectsRewritten: number;
  /** Objects deleted because every line was the person's. */
  objectsDeleted: number;
  linesRemoved: number;
}

/** What erasing from one object did. */
export interface ObjectErasure {
  key: string;
  /** `absent`: no such object (already deleted, or expired); `unchanged`: none of its lines were the person's. */
  outcome: 'absent' | 'unchanged' | 'rewritten' | 'deleted';
  linesKept: number;
  linesRemoved: number;
}

export interface EraseOptions {
  /** Objects erased at the same time. @default 4 */
  concurrency?: number;
}

/**
 * Removes every line of the person (`ids`: all their userIds and anonymousIds) from the lake: the objects the
 * finder gives for `events`, `bad_events` and `segment_events`, and every object under `errors/` (not catalogued). Every object is
 * tried; if some fail (a damaged object, a failed write), the others are still erased and an `AggregateError`
 * naming the failed keys is thrown at the end, so a retry has only those left to do.
 */
export async function eraseFromLake(ids: ReadonlySet<string>, lake: LakeAccess, options: EraseOptions = {}): Promise<LakeErasure> {
  const result: LakeErasure = { objectsScanned: 0, objectsRewritten: 0, objectsDeleted: 0, linesRemoved: 0 };
  const failures: Array<{ key: string; error: Error }> = [];
  await forEachLimited(await lakeObjectsToErase(ids, lake), options.concurrency ?? 4, async (key) => {
    try {
      const erased = await eraseFromObject(lake.objects, key, ids);
      if (erased.outcome !== 'absent') result.objectsScanned += 1;
      if (erased.outcome === 'rewritten') result.objectsRewritten += 1;
      if (erased.outcome === 'deleted') result.objectsDeleted += 1;
      result.linesRemoved += erased.linesRemoved;
    } catch (error) {
      failures.push({ key, error: error as Error });
    }
  });
  if (failures.length > 0) {
    const details = failures.map(({ key, error }) => `${key}: ${error.message}`).join('; ');
    throw new AggregateError(
      failures.map((f) => f.error),
      `Erasure failed for ${failures.length} lake object(s) (the other objects were erased): ${details}`,
    );
  }
  return result;
}

/** The keys `eraseFromLake` erases from, sorted, each once (to distribute the work, e.g. one object per task). */
export async function lakeObjectsToErase(ids: ReadonlySet<string>, lake: LakeAccess): Promise<string[]> {
  if (!hasIds(ids)) return [];
  const keys = new Set(await lake.finder.objectsHolding(ids, ['events', 'bad_events', 'segment_events']));
  for await (const key of lake.objects.list(LAKE_OBJECT_PREFIXES.errors)) keys.add(key);
  return [...keys].sort();
}

/**
 * Removes the person's lines from one object: read it through once to count their lines (a damaged object fails
 * here, before anything is written), then leave it as it is if none are theirs, delete it if all are, or else
 * stream it again through gunzip → filter → gzip into a write of the same key. Blank lines are not lines: they are
 * not counted, and not written back. Memory stays at a few chunks and the longest line.
 */
export async function eraseFromObject(objects: LakeObjectStore, key: string, ids: ReadonlySet<string>): Promise<ObjectErasure> {
  const kind = lakeObjectKindOf(key);
  const isTheirs = (line: Buffer) => lakeLineMatches(kind, line.toString('utf8'), ids);
  const counts = await countLines(objects, key, isTheirs);
  if (!counts) return { key, outcome: 'absent', linesKept: 0, linesRemoved: 0 };
  const { kept, removed } = counts;
  if (removed === 0) return { key, outcome: 'unchanged', linesKept: kept, linesRemoved: 0 };
  if (kept === 0) {
    await objects.delete(key);
    return { key, outcome: 'deleted', linesKept: 0, linesRemoved: removed };
  }
  const source = await objects.read(key);
  if (!source) return { key, outcome: 'absent', linesKept: 0, linesRemoved: 0 };
  const body = gzipped(keptLines(key, source, isTheirs));
  try {
    await objects.write(key, body);
  } finally {
    // A write that failed may have left the body unread: release the source it streams from.
    body.destroy();
  }
  return { key, outcome: 'rewritten', linesKept: kept, linesRemoved: removed };
}

/** Lines of the object kept and removed, or undefined when there is no such object. */
async function countLines(objects: LakeObjectStore, key: string, isTheirs: (line: Buffer) => boolean): Promise<{ kept: number; removed: number } | undefined> {
  const source = await objects.read(key);
  if (!source) return undefined;
  const counts = { kept: 0, removed: 0 };
  for await (const line of gunzippedLines(key, source)) {
    if (line.length === 0) continue;
    if (isTheirs(line)) counts.removed += 1;
    else counts.kept += 1;
  }
  return counts;
}

const NEWLINE = Buffer.from('\n');

/** The object's lines that are not the person's, each with its newline, byte for byte as they were. */
async function* keptLines(key: string, source: Readable, isTheirs: (line: Buffer) => boolean): AsyncGenerator<Buffer> {
  for await (const line of gunzippedLines(key, source)) {
    if (line.length === 0 || isTheirs(line)) continue;
    yield line;
    yield NEWLINE;
  }
}

/** `chunks` gzip-compressed, streamed; an error of `chunks` fails the stream. */
function gzipped(chunks: AsyncIterable<Buffer>): zlib.Gzip {
  return pipeline(Readable.from(chunks), zlib.createGzip(), () => undefined);
}

/**
 * The lines of a gzip stream as bytes (without their newline), streamed: split on `\n` bytes, never decoded, so a
 * line is written back exactly as it was read. A stream that ends early (a truncated object) or is not gzip fails
 * with an error naming the object, rather than ending as if the object were shorter.
 */
async function* gunzippedLines(key: string, source: Readable): AsyncGenerator<Buffer> {
  const gunzip = pipeline(source, zlib.createGunzip(), () => undefined);
  // The start of the line being read, from earlier chunks.
  let pieces: Buffer[] = [];
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      let start = 0;
      for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
        yield pieces.length === 0 ? chunk.subarray(start, end) : Buffer.concat([...pieces, chunk.subarray(start, end)]);
        pieces = [];
        start = end + 1;
      }
      if (start < chunk.length) pieces.push(chunk.subarray(start));
    }
  } catch (error) {
    throw new Error(`Lake object ${key} could not be read to the end (${(error as Error).message}); it was left as it is`, { cause: error });
  } finally {
    gunzip.destroy();
  }
  if (pieces.length > 0) yield Buffer.concat(pieces);
}

/**
 * The person's events in the lake (`events/` only), each `messageId` once (the copy received first), in the order
 * they happened (`timestamp`, then `receivedAt`, then `messageId`). Lines that are not events are left out. A
 * damaged object fails the export rather than leaving its events out. The events are held in memory to be
 * de-duplicated and sorted: one person's history.
 */
export async function exportFromLake(ids: ReadonlySet<string>, lake: LakeAccess): Promise<StreamEvent[]> {
  if (!hasIds(ids)) return [];
  const events = new Map<string, StreamEvent>();
  for (const key of (await lake.finder.objectsHolding(ids, ['events'])).sort()) {
    const source = await lake.objects.read(key);
    if (!source) continue;
    for await (const line of gunzippedLines(key, source)) {
      const event = lakeEventOf(line.toString('utf8'));
      if (!event || !messageMatches(event, ids)) continue;
      const first = events.get(event.messageId);
      if (!first || msOf(event.receivedAt) < msOf(first.receivedAt)) events.set(event.messageId, event);
    }
  }
  return [...events.values()].sort(byTime);
}

/** When it happened, then when it was received, then by `messageId` (so equal times still sort the same way every time). */
function byTime(a: StreamEvent, b: StreamEvent): number {
  return msOf(a.timestamp) - msOf(b.timestamp) || msOf(a.receivedAt) - msOf(b.receivedAt) || (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0);
}

/** A lake line as an event: a JSON object with a `messageId` and valid `timestamp` and `receivedAt`; else undefined. */
function lakeEventOf(line: string): StreamEvent | undefined {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isPlainObject(json) || typeof json.messageId !== 'string') return undefined;
  const { timestamp, receivedAt } = json;
  if (typeof timestamp !== 'string' || typeof receivedAt !== 'string') return undefined;
  return parseIsoTimestamp(timestamp) === undefined || parseIsoTimestamp(receivedAt) === undefined ? undefined : (json as StreamEvent);
}

const msOf = (isoTime: string) => parseIsoTimestamp(isoTime) as number;

/** Whether there is any id to look for; a blank id is a caller's mistake (it would match every empty string), not a no-op. */
function hasIds(ids: ReadonlySet<string>): boolean {
  for (const id of ids) if (typeof id !== 'string' || id.trim() === '') throw new Error(`Erasure and export need non-empty ids, got ${JSON.stringify(id)}`);
  return ids.size > 0;
}
