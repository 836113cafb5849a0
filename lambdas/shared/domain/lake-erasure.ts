import { isPlainObject } from './json';

/**
 * Erasure and export in the event lake (docs/lake-design.md, "Erasure"): which lines of a lake object belong to a
 * person, and the queries that find the objects holding such lines. Pure; the I/O is in
 * `store/lake-eraser.ts`.
 *
 * A person is a set of ids: every userId and anonymousId linked to their canonical profile. A line is theirs when
 * it carries one of them where the platform keeps ids:
 * - `events/`: a stream event's `userId` or `anonymousId`, or an alias's `previousId`. (In AWS, Firehose writes
 *   whatever was on the stream, so a line may also be a record that did not come through ingest: it is read like a
 *   rejected payload, below.)
 * - `bad-events/`: a rejected event (`BadEventLine`); its `partitionKey`, or its `payload` (text): when the payload
 *   is JSON, every message in it (a batch holds many); when it is not (cut at 64 Ki characters, or never JSON), any
 *   id written as a JSON string literal (`"<id>"`, JSON-escaped). The literal test misses ids a client escaped
 *   differently (`\u00e9` for `é`), and can match an id that is a value of another field: erasure errs on the side
 *   of removing.
 * - `errors/`: Firehose's error output, the record in base64 `rawData`: decoded, a stream record (read like a
 *   rejected payload) or, for the bad-events delivery stream, a bad-event line.
 * - `segment-events/`: a segment entry or exit as EventBridge delivered it: its `detail.userId`, or the id inside
 *   its `detail.profileId` (`user#<id>`, `anon#<id>`).
 * A line that is not JSON at all (a damaged line) is the person's only if it holds one of their ids as a JSON string
 * literal, directly or escaped once more (inside a bad event's payload); otherwise it is kept.
 */

/** Top-level prefixes of the lake bucket (the same as `LAKE_PREFIXES` in lib/constructs/event-lake.ts). */
export const LAKE_OBJECT_PREFIXES = { events: 'events/', badEvents: 'bad-events/', errors: 'errors/', segmentEvents: 'segment-events/' } as const;
export type LakeObjectKind = keyof typeof LAKE_OBJECT_PREFIXES;

/** The kind of lake object a key names, from its top-level prefix. */
export function lakeObjectKindOf(key: string): LakeObjectKind {
  const kind = (Object.keys(LAKE_OBJECT_PREFIXES) as LakeObjectKind[]).find((k) => key.startsWith(LAKE_OBJECT_PREFIXES[k]));
  if (!kind) throw new Error(`Not a lake object: ${key} (expected a key under ${Object.values(LAKE_OBJECT_PREFIXES).join(', ')})`);
  return kind;
}

/** Whether one line (without its newline) of a lake object of this kind belongs to the person with these ids. */
export function lakeLineMatches(kind: LakeObjectKind, line: string, ids: ReadonlySet<string>): boolean {
  switch (kind) {
    case 'events':
      return payloadMatches(line, ids);
    case 'badEvents':
      return parsedLineMatches(line, ids, badEventMatches);
    case 'errors':
      return parsedLineMatches(line, ids, errorRecordMatches);
    case 'segmentEvents':
      return parsedLineMatches(line, ids, segmentEventMatches);
  }
}

/** A segment event: the person's userId, or their profile id (`user#…`, `anon#…`), in its detail. */
function segmentEventMatches(line: unknown, ids: ReadonlySet<string>): boolean {
  const detail = isPlainObject(line) ? line.detail : undefined;
  if (!isPlainObject(detail)) return false;
  const profileId = typeof detail.profileId === 'string' ? detail.profileId : '';
  return isOneOf(detail.userId, ids) || ids.has(profileId.slice(profileId.indexOf('#') + 1));
}

/** Whether a message (an event, as sent or as streamed) names one of the ids. */
export function messageMatches(message: unknown, ids: ReadonlySet<string>): boolean {
  if (!isPlainObject(message)) return false;
  return isOneOf(message.userId, ids) || isOneOf(message.anonymousId, ids) || (message.type === 'alias' && isOneOf(message.previousId, ids));
}

/** A lake line parsed and tested with `matches`; a line that is not JSON is tested for the ids' literals. */
function parsedLineMatches(line: string, ids: ReadonlySet<string>, matches: (json: unknown, ids: ReadonlySet<string>) => boolean): boolean {
  const json = parseJson(line);
  return json === undefined ? mentionsId(line, ids) : matches(json, ids);
}

/** Raw event text (a stream record, a rejected payload): every message of its JSON, or the ids' literals when it is not JSON. */
function payloadMatches(text: string, ids: ReadonlySet<string>): boolean {
  const json = parseJson(text);
  return json === undefined ? mentionsId(text, ids) : messagesOf(json).some((message) => messageMatches(message, ids));
}

function badEventMatches(line: unknown, ids: ReadonlySet<string>): boolean {
  if (!isPlainObject(line)) return false;
  return isOneOf(line.partitionKey, ids) || (typeof line.payload === 'string' && payloadMatches(line.payload, ids));
}

/** A Firehose error record: its partition key (the local lake writer keeps it), or the record it could not deliver. */
function errorRecordMatches(line: unknown, ids: ReadonlySet<string>): boolean {
  if (!isPlainObject(line)) return false;
  if (isOneOf(line.partitionKey, ids)) return true;
  if (typeof line.rawData !== 'string') return false;
  const data = Buffer.from(line.rawData, 'base64').toString('utf8');
  const record = parseJson(data);
  return isBadEventLine(record) ? badEventMatches(record, ids) : payloadMatches(data, ids);
}

const isBadEventLine = (value: unknown) => isPlainObject(value) && typeof value.payload === 'string' && typeof value.reason === 'string';

/** The messages of a JSON payload: an array's elements, a batch's messages (and the batch itself), or the value. */
function messagesOf(json: unknown): unknown[] {
  if (Array.isArray(json)) return json;
  if (isPlainObject(json) && Array.isArray(json.batch)) return [json, ...json.batch];
  return [json];
}

/**
 * Whether a field holds one of the ids, read as ingest reads ids: a string trimmed, or a number as its text (a
 * rejected payload was never normalized).
 */
function isOneOf(value: unknown, ids: ReadonlySet<string>): boolean {
  if (typeof value === 'string') return ids.has(value.trim());
  return typeof value === 'number' && Number.isFinite(value) && ids.has(String(value));
}

/** Whether text holds one of the ids as a JSON string literal, or as one escaped inside another JSON string. */
function mentionsId(text: string, ids: ReadonlySet<string>): boolean {
  for (const id of ids) {
    const literal = JSON.stringify(id);
    if (text.includes(literal) || text.includes(JSON.stringify(literal).slice(1, -1))) return true;
  }
  return false;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The lake's Glue tables that locating queries read (`errors/` is not catalogued: it is listed instead). */
export type LakeTableName = 'events' | 'bad_events' | 'segment_events';

/** Column of every locating query's result: the object's path (`s3://bucket/key` in Athena, a file path in DuckDB). */
export const OBJECT_PATH_COLUMN = 'object_path';

/**
 * Ids per locating query. An id is at most 256 characters; quoted for SQL and JSON-escaped (at worst 6 characters
 * each, then quotes doubled) it takes at most ~3.6 KB in a query, so 50 of them stay well under Athena's 256 KB.
 */
const IDS_PER_QUERY = 50;

/**
 * Trino SQL (Athena, and DuckDB through `openLake(…, { paths: true })`) that finds the objects of `table` that may
 * hold a line of the ids: `SELECT DISTINCT "$path"`, one query per table per 50 ids. Every id is a SQL string
 * literal (quotes doubled; neither engine treats backslashes specially), never SQL text.
 *
 * The queries do not filter by partition: the person may have been active years ago, so each query scans its whole
 * table, and an erasure costs one full scan of the lake (at $5/TB, about $1-1.50 per billion events; see
 * docs/lake-design.md), which the workgroup's bytes-scanned cutoff must allow.
 *
 * They find a superset of the objects `lakeLineMatches` rewrites, except: a rejected payload that holds an id only
 * as a number, or escaped differently from `JSON.stringify`, is matched by the line filter but not found here;
 * and a line Athena cannot read (its JSON SerDe ignores malformed JSON) is found only if another line of its
 * object is.
 */
export function lakeObjectQueries(ids: ReadonlySet<string>, tables: readonly LakeTableName[]): string[] {
  const queries: string[] = [];
  const all = [...ids];
  for (let start = 0; start < all.length; start += IDS_PER_QUERY) {
    const chunk = all.slice(start, start + IDS_PER_QUERY);
    for (const table of tables) queries.push(`SELECT DISTINCT "$path" AS ${OBJECT_PATH_COLUMN} FROM ${table} WHERE ${tableCondition(table, chunk)}`);
  }
  return queries;
}

function tableCondition(table: LakeTableName, ids: readonly string[]): string {
  const list = ids.map(sqlString).join(', ');
  if (table === 'events') return `userid IN (${list}) OR anonymousid IN (${list}) OR previousid IN (${list})`;
  if (table === 'segment_events') {
    const profileIds = ids.flatMap((id) => [`user#${id}`, `anon#${id}`]).map(sqlString).join(', ');
    return `detail.userid IN (${list}) OR detail.profileid IN (${profileIds})`;
  }
  // A payload that names an id as a JSON value holds its JSON string literal (strpos: no LIKE wildcards to escape).
  const literals = ids.map((id) => `strpos(payload, ${sqlString(JSON.stringify(id))}) > 0`);
  return [`partitionkey IN (${list})`, ...literals].join(' OR ');
}

/** A SQL string literal (Trino and DuckDB: quotes doubled, nothing else special). */
export const sqlString = (text: string) => `'${text.replace(/'/g, "''")}'`;
