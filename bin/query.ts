#!/usr/bin/env node
/**
 * `npm run query`: Trino SQL over the local lake on DuckDB, with the `events`, `bad_events` and `segment_events`
 * tables and the Trino functions the Athena analyses use (see local/lake-query.ts). The runtime does not need to be
 * running.
 *
 *   npm run query -- "SELECT event, count(*) AS n FROM events GROUP BY event ORDER BY n DESC"
 *   npm run query -- --list                          the saved analyses (analytics/*.sql): name, title, description
 *   npm run query -- --named daily-active-users      run a saved analysis
 *   npm run query -- --data-dir /tmp/p "<SQL>"       or PERSONALIZATION_DATA_DIR
 *   npm run query -- --json "<SQL>"                  one JSON object per row instead of a table
 */
import { parseArgs } from 'node:util';
import { Analysis, findAnalysis, loadAnalyses } from '../analytics';
import { dataDirOf } from '../local/clients';
import { openLake, Row } from '../local/lake-query';
import { lakeDirOf } from '../local/runtime';

const USAGE = [
  'Usage: npm run query -- [--data-dir .local-data] [--json] "<SQL>"',
  '       npm run query -- [--data-dir .local-data] [--json] --named <analysis>',
  '       npm run query -- --list',
].join('\n');

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
      named: { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.list && positionals.length === 0 && values.named === undefined) {
    printList(loadAnalyses(), values.json);
    return;
  }
  const named = values.named !== undefined;
  if (values.help || values.list || positionals.length !== (named ? 0 : 1)) {
    console.log(USAGE);
    if (!values.help) process.exitCode = 2;
    return;
  }
  // Resolve the analysis before opening the lake, so a wrong name fails fast with the list of names.
  const sql = named ? findAnalysis(values.named as string).sql : positionals[0];
  const lake = await openLake(lakeDirOf(dataDirOf(values['data-dir'])));
  try {
    const rows = await lake.run(sql);
    if (values.json) for (const row of rows) console.log(JSON.stringify(row));
    else printTable(rows);
  } finally {
    lake.close();
  }
}

function printList(analyses: Analysis[], json: boolean): void {
  if (json) {
    for (const { name, title, description } of analyses) console.log(JSON.stringify({ name, title, description }));
    return;
  }
  for (const { name, title, description } of analyses) console.log(`${name}\n  ${title}\n  ${description}\n`);
  console.log(`Run one with: npm run query -- --named <name>`);
}

/** Rows as an aligned text table, then the row count. */
function printTable(rows: Row[]): void {
  const columns = rows.length > 0 ? Object.keys(rows[0]) : [];
  const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  if (columns.length > 0) {
    console.log(line(columns));
    console.log(line(widths.map((w) => '-'.repeat(w))));
    for (const r of rows) console.log(line(columns.map((c) => cell(r[c]))));
  }
  console.log(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
