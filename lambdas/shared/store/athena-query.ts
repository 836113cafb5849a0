import { AthenaClient, GetQueryExecutionCommand, StartQueryExecutionCommand, StopQueryExecutionCommand } from '@aws-sdk/client-athena';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sleep } from './retry';

/**
 * Runs one Athena query and streams its result. Results are read from the CSV file Athena writes to the
 * workgroup's output location rather than page by page through GetQueryResults (1,000 rows a call): an
 * aggregate of a million rows is then one streamed S3 read instead of a thousand calls.
 */

export interface AthenaQuery {
  sql: string;
  workGroup: string;
  database: string;
}

export interface AthenaQueryOptions {
  /** Give up (and stop the query) after this long. @default 10 minutes */
  timeoutMs?: number;
  /** First wait between status checks, doubling up to 5 s. @default 500 */
  pollMs?: number;
  log?: (message: string) => void;
}

/** What a finished query cost, from Athena's statistics. */
export interface AthenaQueryStats {
  queryExecutionId: string;
  dataScannedBytes: number;
  engineMs: number;
}

/** Starts the query, waits for it, and returns its statistics and its rows (column name → text; NULL is ''). */
export async function runAthenaQuery(
  clients: { athena: AthenaClient; s3: S3Client },
  query: AthenaQuery,
  options: AthenaQueryOptions = {},
): Promise<{ stats: AthenaQueryStats; rows: AsyncIterable<Record<string, string>> }> {
  const { QueryExecutionId: id } = await clients.athena.send(
    new StartQueryExecutionCommand({ QueryString: query.sql, WorkGroup: query.workGroup, QueryExecutionContext: { Database: query.database } }),
  );
  if (!id) throw new Error('Athena returned no query execution id');
  options.log?.(`Athena query ${id} started in workgroup ${query.workGroup}`);

  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  for (let wait = options.pollMs ?? 500; ; wait = Math.min(wait * 2, 5000)) {
    const { QueryExecution: execution } = await clients.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = execution?.Status?.State;
    if (state === 'SUCCEEDED') {
      const location = execution?.ResultConfiguration?.OutputLocation;
      if (!location) throw new Error(`Athena query ${id} succeeded without an output location`);
      const stats = {
        queryExecutionId: id,
        dataScannedBytes: execution?.Statistics?.DataScannedInBytes ?? 0,
        engineMs: execution?.Statistics?.EngineExecutionTimeInMillis ?? 0,
      };
      return { stats, rows: csvRowsAt(clients.s3, location) };
    }
    if (state === 'FAILED' || state === 'CANCELLED') {
      throw new Error(`Athena query ${id} ${state.toLowerCase()}: ${execution?.Status?.StateChangeReason ?? 'no reason given'}`);
    }
    if (Date.now() + wait > deadline) {
      await clients.athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => undefined);
      throw new Error(`Athena query ${id} did not finish within ${Math.round((options.timeoutMs ?? 600_000) / 1000)} s; it was stopped`);
    }
    await sleep(wait);
  }
}

/** The rows of the CSV result at `s3://bucket/key`, streamed. */
async function* csvRowsAt(s3: S3Client, location: string): AsyncGenerator<Record<string, string>> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (!match) throw new Error(`Not an S3 location: ${location}`);
  const { Body } = await s3.send(new GetObjectCommand({ Bucket: match[1], Key: match[2] }));
  if (!Body) throw new Error(`Empty result object ${location}`);
  yield* csvRecords(Body as AsyncIterable<Uint8Array>);
}

/**
 * Rows of CSV as Athena writes it (RFC 4180: a header line, every field quoted, quotes doubled inside fields,
 * fields may span lines), streamed chunk by chunk, as objects keyed by the header's column names.
 */
export async function* csvRecords(chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): AsyncGenerator<Record<string, string>> {
  let header: string[] | undefined;
  for await (const fields of csvFields(chunks)) {
    if (!header) {
      header = fields;
      continue;
    }
    const row: Record<string, string> = {};
    header.forEach((name, i) => (row[name] = fields[i] ?? ''));
    yield row;
  }
}

async function* csvFields(chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): AsyncGenerator<string[]> {
  const decoder = new TextDecoder();
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  /** The previous character was a quote inside a quoted field: either an escaped quote or the field's end. */
  let quoteSeen = false;
  let rowStarted = false;
  for await (const chunk of chunks) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    for (let k = 0; k < text.length; k++) {
      const c = text[k];
      if (quoted) {
        if (quoteSeen) {
          quoteSeen = false;
          if (c === '"') {
            field += '"';
            continue;
          }
          quoted = false; // the quote closed the field; `c` is handled below
        } else if (c === '"') {
          quoteSeen = true;
          continue;
        } else {
          field += c;
          continue;
        }
      }
      if (c === '"' && field === '') {
        quoted = true;
        rowStarted = true;
      } else if (c === ',') {
        fields.push(field);
        field = '';
        rowStarted = true;
      } else if (c === '\n') {
        fields.push(field);
        yield fields;
        fields = [];
        field = '';
        rowStarted = false;
      } else if (c !== '\r') {
        field += c;
        rowStarted = true;
      }
    }
  }
  if (rowStarted || field !== '' || fields.length > 0) {
    fields.push(field);
    yield fields;
  }
}
