import * as fs from 'node:fs';
import * as path from 'node:path';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { LAKE_EVENTS_PREFIX } from './lake-writer';

/**
 * The local Athena: DuckDB (embedded, `@duckdb/node-api`) over the local lake, with the table and functions the
 * analyses use under the names they have in Athena, so the same SQL runs in both places.
 *
 * - `events`: every object under `<lakeDir>/events/`, one row per line, with the partition columns `dt` and `hour`
 *   read from the Hive-style paths (`dt=YYYY-MM-DD/hour=HH`), as the Glue table's partition projection gives them.
 *   The Segment fields are text columns; `properties`, `traits` and `context` hold JSON text.
 * - Trino functions DuckDB does not have, as macros with Trino's meaning (the dialect translation, see
 *   `TRINO_MACROS`).
 */

/** The events table's columns, in order, with their DuckDB types (all text; JSON for the nested objects). */
const EVENT_COLUMNS: ReadonlyArray<readonly [string, string]> = [
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
];

/**
 * Trino (Athena engine 3) functions used by the analyses, defined in DuckDB with the same arguments and results:
 * - `from_iso8601_timestamp(text)`: the instant an ISO-8601 string names, as a timestamp with time zone;
 * - `json_extract_scalar(json, path)`: the scalar at a JSONPath as text (NULL for objects and arrays).
 */
const TRINO_MACROS: readonly string[] = [
  'CREATE OR REPLACE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)',
  `CREATE OR REPLACE MACRO json_extract_scalar(j, p) AS
     CASE WHEN json_type(CAST(j AS JSON), p) IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(CAST(j AS JSON), p) END`,
];

/** Rows as plain objects, column name → value (numbers, strings, booleans; BIGINTs as numbers when exact). */
export type Row = Record<string, unknown>;

export interface LakeQuery {
  run(sql: string): Promise<Row[]>;
  close(): void;
}

/** Opens DuckDB in memory over the lake under `lakeDir` (which may be empty or absent: `events` is then empty). */
export async function openLake(lakeDir: string): Promise<LakeQuery> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  // Days and hours are UTC, as in Athena and in the lake's partitions.
  await connection.run("SET TimeZone = 'UTC'");
  for (const macro of TRINO_MACROS) await connection.run(macro);
  await connection.run(eventsViewSql(lakeDir));
  return {
    run: async (sql) => rowsOf(connection, sql),
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

function eventsViewSql(lakeDir: string): string {
  const columns = EVENT_COLUMNS.map(([name, type]) => `${quoteIdentifier(name)}: '${type}'`).join(', ');
  const glob = path.join(lakeDir, LAKE_EVENTS_PREFIX, 'dt=*', 'hour=*', '*.json.gz');
  if (!hasObjects(path.join(lakeDir, LAKE_EVENTS_PREFIX))) {
    // read_json refuses a pattern that matches nothing: an empty lake is an empty table with the same columns.
    const empty = EVENT_COLUMNS.map(([name, type]) => `CAST(NULL AS ${type}) AS ${quoteIdentifier(name)}`).join(', ');
    return `CREATE OR REPLACE VIEW events AS SELECT ${empty}, CAST(NULL AS VARCHAR) AS dt, CAST(NULL AS VARCHAR) AS hour WHERE false`;
  }
  return (
    `CREATE OR REPLACE VIEW events AS SELECT * FROM read_json(${quoteLiteral(glob)}, format = 'newline_delimited', ` +
    `compression = 'gzip', hive_partitioning = true, hive_types = {'dt': 'VARCHAR', 'hour': 'VARCHAR'}, columns = {${columns}})`
  );
}

function hasObjects(dir: string): boolean {
  if (!fs.existsSync(dir)) return false;
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).some((file) => file.endsWith('.json.gz'));
}

async function rowsOf(connection: DuckDBConnection, sql: string): Promise<Row[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjectsJS().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)])));
}

/** BIGINTs become numbers when exact (counts), so results compare and print simply. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}

const quoteIdentifier = (name: string) => `"${name.replace(/"/g, '""')}"`;
const quoteLiteral = (text: string) => `'${text.replace(/'/g, "''")}'`;
