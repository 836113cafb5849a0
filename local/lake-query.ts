import * as fs from 'node:fs';
import * as path from 'node:path';
import { DuckDBConnection, DuckDBInstance, DuckDBTypeId } from '@duckdb/node-api';
import { SEGMENT_EVENT_DETAIL_FIELDS } from '../lambdas/shared/domain/segment-events';
import { LAKE_EVENTS_PREFIX } from './lake-writer';

/**
 * The local Athena: DuckDB (embedded, `@duckdb/node-api`) over the local lake, with the tables and functions the
 * analyses use under the names they have in Athena, so the same Trino SQL (`analytics/*.sql`, the training query)
 * runs unchanged in both places.
 *
 * Tables (views), as the Glue tables define them (column names in lower case, as Glue stores them):
 * - `events`: every object under `<lakeDir>/events/`, one row per line, with the partition columns `dt` and `hour`
 *   read from the Hive-style paths (`dt=YYYY-MM-DD/hour=HH`), as the Glue table's partition projection gives them.
 *   The Segment fields are text columns; `properties`, `traits` and `context` hold JSON text.
 * - `bad_events`: every object under `<lakeDir>/bad-events/` (rejected events: id, source, reason, payload,
 *   truncated, partitionKey, sourceId, arrivedAt, detectedAt), with `dt` and `hour` the same way.
 * - `segment_events`: every object under `<lakeDir>/segment-events/` (the segment bus's events as EventBridge
 *   delivers them: id, `detail-type` as `detail_type`, source, time, and `detail` as a struct with its keys in lower
 *   case, as Glue's struct type names them), with `dt` and `hour` the same way.
 * Each is an empty view with the same columns when there is no object yet.
 *
 * Where Trino (Athena engine 3) and DuckDB differ, and how the difference is bridged:
 * 1. Functions DuckDB lacks are macros with Trino's name, arguments and meaning (`TRINO_MACROS`):
 *    `from_iso8601_timestamp`, `json_extract_scalar`, `json_parse`, `to_unixtime`, `normal_cdf`, `sequence` (of
 *    dates only); and `count_if`, which DuckDB has but which gives NULL instead of 0 over no rows (or only NULLs).
 * 2. Integer division: `7 / 2` is 3 in Trino, 3.5 in DuckDB by default; the session sets
 *    `integer_division = true`, which truncates towards zero like Trino.
 * 3. Array types: Trino writes `ARRAY(JSON)`, DuckDB `JSON[]` and cannot parse the former; `toDuckDb` rewrites the
 *    type (the only text translation, applied by `run`; see there).
 * 4. Time zone: the session is UTC, as Athena's is, so `current_date`, dates of timestamps and `date_trunc` agree.
 *    (Trino keeps the offset an ISO string was written with; the lake's timestamps are all UTC, `…Z`.)
 * Differences the SQL itself must respect (not bridged; the analyses follow these rules):
 * - `current_date - INTERVAL '30' DAY` is a DATE in Trino and a TIMESTAMP in DuckDB: cast it to DATE.
 * - `date_trunc` of a DATE is a DATE in Trino and a TIMESTAMP in DuckDB: cast it to DATE.
 * - `date_diff` agrees on DATE arguments only (Trino counts whole units elapsed, DuckDB unit boundaries crossed):
 *   use it on dates, and `to_unixtime(a) - to_unixtime(b)` for durations.
 * - Division by zero is an error in Trino for integers and NULL in DuckDB: divide by `NULLIF(x, 0)`.
 * - `json_array_length` of a non-array is NULL in Trino, 0 in DuckDB: only compare it after `coalesce(…, 0)`.
 * - The JSON columns are varchar in Athena and JSON here: to mix them with JSON values (UNION, arrays), wrap
 *   them in `json_parse(…)`.
 * - `at` is a keyword in DuckDB (`AT TIME ZONE`): do not use it as a bare alias.
 * Results come back as Athena shows them: column names as the query (or the lower-case table) gives them, counts
 * as numbers, dates as `YYYY-MM-DD`, timestamps as ISO-8601 UTC text.
 */

/**
 * A column of a lake view: the JSON key it is read from, its name (Glue's: lower case), its DuckDB type, and, when
 * the JSON must be read as another type (a struct, whose keys DuckDB matches case-sensitively), that type.
 */
interface ViewColumn {
  key: string;
  name: string;
  type: string;
  readAs?: string;
}

/** Columns read from the key of the same name, lowercased: `[key, type]` pairs. */
const sameNamed = (pairs: ReadonlyArray<readonly [string, string]>): ViewColumn[] => pairs.map(([key, type]) => ({ key, name: key.toLowerCase(), type }));

/** The events table's columns, in order, with their DuckDB types (all text; JSON for the nested objects). */
const EVENT_COLUMNS = sameNamed([
  ['messageId', 'VARCHAR'],
  ['type', 'VARCHAR'],
  ['event', 'VARCHAR'],
  ['name', 'VARCHAR'],
  ['category', 'VARCHAR'],
  ['userId', 'VARCHAR'],
  ['anonymousId', 'VARCHAR'],
  ['previousId', 'VARCHAR'],
  ['groupId', 'VARCHAR'],
  ['timestamp', 'VARCHAR'],
  ['sentAt', 'VARCHAR'],
  ['originalTimestamp', 'VARCHAR'],
  ['receivedAt', 'VARCHAR'],
  ['sourceId', 'VARCHAR'],
  ['properties', 'JSON'],
  ['traits', 'JSON'],
  ['context', 'JSON'],
]);

/** Rejected events under `bad-events/`. A payload written as a JSON object is read as its JSON text. */
export const LAKE_BAD_EVENTS_PREFIX = 'bad-events';
const BAD_EVENT_COLUMNS = sameNamed([
  ['id', 'VARCHAR'],
  ['source', 'VARCHAR'],
  ['reason', 'VARCHAR'],
  ['payload', 'VARCHAR'],
  ['truncated', 'BOOLEAN'],
  ['partitionKey', 'VARCHAR'],
  ['sourceId', 'VARCHAR'],
  ['arrivedAt', 'VARCHAR'],
  ['detectedAt', 'VARCHAR'],
]);

/** Segment events under `segment-events/`: the Glue table's columns (`lib/constructs/analytics.ts`), the same names and types. */
export const LAKE_SEGMENT_EVENTS_PREFIX = 'segment-events';
const detailStruct = (fieldName: (field: string) => string) =>
  `STRUCT(${SEGMENT_EVENT_DETAIL_FIELDS.map((field) => `${quoteIdentifier(fieldName(field))} VARCHAR`).join(', ')})`;
const SEGMENT_EVENT_COLUMNS: readonly ViewColumn[] = [
  { key: 'id', name: 'id', type: 'VARCHAR' },
  { key: 'detail-type', name: 'detail_type', type: 'VARCHAR' },
  { key: 'source', name: 'source', type: 'VARCHAR' },
  { key: 'time', name: 'time', type: 'VARCHAR' },
  { key: 'detail', name: 'detail', type: detailStruct((field) => field.toLowerCase()), readAs: detailStruct((field) => field) },
];

/**
 * Trino (Athena engine 3) functions used by the analyses, defined in DuckDB with the same arguments and results:
 * - `from_iso8601_timestamp(text)`: the instant an ISO-8601 string names, as a timestamp with time zone;
 * - `json_extract_scalar(json, path)`: the scalar at a JSONPath as text (NULL for objects and arrays);
 * - `json_parse(text)`: the JSON value of a text;
 * - `count_if(condition)`: the rows where it is true, 0 over no rows (DuckDB's built-in gives NULL there);
 * - `to_unixtime(timestamp)`: seconds since the epoch, as a double (fractions of a second kept);
 * - `sequence(start, stop)` of two DATEs: every day from `start` to `stop`, both included, as an array of DATEs
 *   (Trino's other forms, of integers and timestamps or with a step, are not defined);
 * - `normal_cdf(mean, sd, v)`: P(X ≤ v) for X ~ N(mean, sd²). DuckDB has no `erf`: this is Hart's (1968)
 *   double-precision rational approximation as published by West (2005), "Better approximations to cumulative
 *   normal functions", Wilmott. Checked against an exact (BigInt) reference in test/unit/lake-query.test.ts: absolute
 *   error below 1e-15 everywhere; relative error in the tails below 1e-12 within 4 sd, below 1e-8 within 10 sd.
 *   (Trino computes 0.5 · (1 + erf), which is as accurate in absolute terms and has no relative accuracy in the
 *   lower tail.) `trino_normal_lower_tail(a)` is its helper: P(Z ≤ -a) for a ≥ 0.
 * Every argument that feeds a division is cast to DOUBLE first: the session divides integers as Trino does.
 */
export const TRINO_MACROS: readonly string[] = [
  'CREATE OR REPLACE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)',
  `CREATE OR REPLACE MACRO json_extract_scalar(j, p) AS
     CASE WHEN json_type(CAST(j AS JSON), p) IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(CAST(j AS JSON), p) END`,
  'CREATE OR REPLACE MACRO json_parse(s) AS CAST(s AS JSON)',
  // DuckDB's own count_if is NULL over no rows (or only NULLs); Trino's is 0.
  'CREATE OR REPLACE MACRO count_if(x) AS count(CASE WHEN x THEN 1 END)',
  'CREATE OR REPLACE MACRO to_unixtime(t) AS epoch(t)',
  `CREATE OR REPLACE MACRO sequence(start_day, stop_day) AS
     list_transform(range(0, date_diff('day', CAST(start_day AS DATE), CAST(stop_day AS DATE)) + 1), lambda i: CAST(start_day AS DATE) + CAST(i AS INTEGER))`,
  `CREATE OR REPLACE MACRO trino_normal_lower_tail(a) AS
     CASE
       WHEN a > 37 THEN 0.0
       WHEN a < 7.07106781186547 THEN
         exp(-a * a / 2)
         * ((((((0.0352624965998911 * a + 0.700383064443688) * a + 6.37396220353165) * a + 33.912866078383) * a
              + 112.079291497871) * a + 221.213596169931) * a + 220.206867912376)
         / (((((((0.0883883476483184 * a + 1.75566716318264) * a + 16.064177579207) * a + 86.7807322029461) * a
              + 296.564248779674) * a + 637.333633378831) * a + 793.826512519948) * a + 440.413735824752)
       ELSE exp(-a * a / 2) / (a + 1 / (a + 2 / (a + 3 / (a + 4 / (a + 0.65))))) / 2.506628274631
     END`,
  `CREATE OR REPLACE MACRO normal_cdf(mean, sd, v) AS
     CASE
       WHEN CAST(v AS DOUBLE) > CAST(mean AS DOUBLE)
         THEN 1 - trino_normal_lower_tail((CAST(v AS DOUBLE) - CAST(mean AS DOUBLE)) / CAST(sd AS DOUBLE))
       ELSE trino_normal_lower_tail((CAST(mean AS DOUBLE) - CAST(v AS DOUBLE)) / CAST(sd AS DOUBLE))
     END`,
];

/**
 * Trino SQL → DuckDB SQL, for what macros cannot express (types are syntax, not functions). One rule:
 * - `ARRAY(t)` (Trino's array type, as in `CAST(j AS ARRAY(JSON))`) → `t[]`, innermost first, so
 *   `ARRAY(ARRAY(JSON))` → `JSON[][]`; `t` is a type name without parameters (`ARRAY(VARCHAR(3))` is left alone).
 *   Array values (`ARRAY[…]`) are the same in both dialects and are not touched.
 * String literals, quoted identifiers and comments are never rewritten.
 */
export function toDuckDb(sql: string): string {
  return codeSegments(sql)
    .map(({ text, code }) => (code ? rewriteArrayTypes(text) : text))
    .join('');
}

function rewriteArrayTypes(code: string): string {
  const arrayType = /\bARRAY\s*\(\s*([A-Za-z_][A-Za-z0-9_]*(?:\[\])*)\s*\)/gi;
  let previous: string;
  let current = code;
  do {
    previous = current;
    current = current.replace(arrayType, '$1[]');
  } while (current !== previous);
  return current;
}

/** The SQL cut into code and non-code (quoted text, comments), in order. */
function codeSegments(sql: string): Array<{ text: string; code: boolean }> {
  const segments: Array<{ text: string; code: boolean }> = [];
  // A quoted literal or identifier (doubled quotes escape), a line comment, or a block comment; unterminated ones run to the end.
  const nonCode = /'(?:[^']|'')*(?:'|$)|"(?:[^"]|"")*(?:"|$)|--[^\n]*|\/\*[\s\S]*?(?:\*\/|$)/g;
  let at = 0;
  for (const match of sql.matchAll(nonCode)) {
    if (match.index > at) segments.push({ text: sql.slice(at, match.index), code: true });
    segments.push({ text: match[0], code: false });
    at = match.index + match[0].length;
  }
  if (at < sql.length) segments.push({ text: sql.slice(at), code: true });
  return segments;
}

/** Rows as plain objects, column name → value (numbers, strings, booleans; BIGINTs as numbers when exact). */
export type Row = Record<string, unknown>;

export interface LakeQuery {
  /** Runs Trino SQL (translated by `toDuckDb`). */
  run(sql: string): Promise<Row[]>;
  /** Runs Trino SQL and streams its rows, chunk by chunk, for results too large to hold at once (training). */
  stream(sql: string): AsyncIterable<Row>;
  /** Sets DuckDB's memory limit (e.g. '1GB') and worker threads, as a Lambda function's size would. */
  limit(options: { memory?: string; threads?: number }): Promise<void>;
  close(): void;
}

export interface OpenLakeOptions {
  /**
   * Give each table Athena's hidden `"$path"` column (the object's file path), so that queries locating objects
   * (`SELECT DISTINCT "$path" …`, erasure) run unchanged. DuckDB has no hidden view columns: `SELECT *` then shows
   * it too, which Athena's does not, hence off by default.
   * @default false
   */
  paths?: boolean;
}

/** Opens DuckDB in memory over the lake under `lakeDir` (which may be empty or absent: the tables are then empty). */
export async function openLake(lakeDir: string, options: OpenLakeOptions = {}): Promise<LakeQuery> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  // Days and hours are UTC, as in Athena and in the lake's partitions.
  await connection.run("SET TimeZone = 'UTC'");
  // `/` on integers truncates, as in Trino.
  await connection.run('SET integer_division = true');
  for (const macro of TRINO_MACROS) await connection.run(macro);
  const paths = options.paths ?? false;
  await connection.run(tableViewSql('events', path.join(lakeDir, LAKE_EVENTS_PREFIX), EVENT_COLUMNS, paths));
  await connection.run(tableViewSql('bad_events', path.join(lakeDir, LAKE_BAD_EVENTS_PREFIX), BAD_EVENT_COLUMNS, paths));
  await connection.run(tableViewSql('segment_events', path.join(lakeDir, LAKE_SEGMENT_EVENTS_PREFIX), SEGMENT_EVENT_COLUMNS, paths));
  return {
    run: async (sql) => rowsOf(connection, toDuckDb(sql)),
    stream: (sql) => streamRows(connection, toDuckDb(sql)),
    limit: async ({ memory, threads }) => {
      if (memory !== undefined) await connection.run(`SET memory_limit = ${quoteLiteral(memory)}`);
      if (threads !== undefined) await connection.run(`SET threads = ${Math.max(1, Math.floor(threads))}`);
    },
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/**
 * A view over the gzip NDJSON objects of one Hive-partitioned table directory. Columns are named as Glue names them
 * (lower case, so `SELECT *` and `SELECT messageId` name their columns as Athena does); the JSON keys they are read
 * from keep their case. With `paths`, each row also has its object's path as `"$path"` (see `OpenLakeOptions`).
 */
function tableViewSql(view: string, tableDir: string, tableColumns: readonly ViewColumn[], paths: boolean): string {
  if (!hasObjects(tableDir)) {
    // read_json refuses a pattern that matches nothing: an empty table has the same columns and no rows.
    const empty = tableColumns.map(({ name, type }) => `CAST(NULL AS ${type}) AS ${quoteIdentifier(name)}`).join(', ');
    const partitions = `CAST(NULL AS VARCHAR) AS dt, CAST(NULL AS VARCHAR) AS hour${paths ? ', CAST(NULL AS VARCHAR) AS "$path"' : ''}`;
    return `CREATE OR REPLACE VIEW ${view} AS SELECT ${empty}, ${partitions} WHERE false`;
  }
  const columns = tableColumns.map(({ key, type, readAs }) => `${quoteIdentifier(key)}: ${quoteLiteral(readAs ?? type)}`).join(', ');
  const renamed = tableColumns
    .map(({ key, name, type, readAs }) => `${readAs ? `CAST(${quoteIdentifier(key)} AS ${type})` : quoteIdentifier(key)} AS ${quoteIdentifier(name)}`)
    .join(', ');
  const glob = path.join(tableDir, 'dt=*', 'hour=*', '*.json.gz');
  return (
    `CREATE OR REPLACE VIEW ${view} AS SELECT ${renamed}, dt, hour${paths ? ', filename AS "$path"' : ''} FROM read_json(${quoteLiteral(glob)}, format = 'newline_delimited', ` +
    `compression = 'gzip', hive_partitioning = true, hive_types = {'dt': 'VARCHAR', 'hour': 'VARCHAR'}, columns = {${columns}})`
  );
}

function hasObjects(dir: string): boolean {
  if (!fs.existsSync(dir)) return false;
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).some((file) => file.endsWith('.json.gz'));
}

async function rowsOf(connection: DuckDBConnection, sql: string): Promise<Row[]> {
  const reader = await connection.runAndReadAll(sql);
  const toRow = rowConverter(reader.columnNames(), (i) => reader.columnTypeId(i));
  return reader.getRowObjectsJS().map(toRow);
}

async function* streamRows(connection: DuckDBConnection, sql: string): AsyncGenerator<Row> {
  const result = await connection.stream(sql);
  const toRow = rowConverter(result.columnNames(), (i) => result.columnTypeId(i));
  for await (const chunk of result.yieldRowObjectJs()) for (const row of chunk) yield toRow(row);
}

function rowConverter(names: string[], typeOf: (column: number) => DuckDBTypeId): (row: Record<string, unknown>) => Row {
  const dateColumns = new Set(names.filter((_, i) => typeOf(i) === DuckDBTypeId.DATE));
  return (row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v, dateColumns.has(k))]));
}

/**
 * Values as Athena shows them, so results compare and print simply: BIGINTs as numbers when exact (counts),
 * dates as `YYYY-MM-DD`, timestamps as ISO-8601 UTC strings.
 */
function plain(value: unknown, isDate: boolean): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return isDate ? value.toISOString().slice(0, 10) : value.toISOString();
  return value;
}

// Declarations, not constants: the column definitions above use them when the module loads.
function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
