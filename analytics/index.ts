import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The saved analyses: one Trino (Athena engine 3) SQL file per analysis in this directory, deployed as Athena
 * named queries (`lib/constructs/analytics.ts`) and run locally on DuckDB (`npm run query -- --named <name>`).
 *
 * Each file opens with two comment lines, then the query:
 *
 *   -- title: Daily active users and events by type
 *   -- description: One row per day of the last 30 days: distinct people, events, and events of each type.
 *   SELECT …
 */
export interface Analysis {
  /** The file name without `.sql`: what `--named` takes. */
  name: string;
  /** The named query's name in Athena. */
  title: string;
  description: string;
  /** The whole file, comments included. */
  sql: string;
}

export const ANALYSES_DIR = __dirname;

/** Every analysis of the directory, by name. Throws on a file without its title or description. */
export function loadAnalyses(dir: string = ANALYSES_DIR): Analysis[] {
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => analysisOf(file.slice(0, -'.sql'.length), fs.readFileSync(path.join(dir, file), 'utf8')));
}

/** The analysis called `name`, or an error that lists the ones there are. */
export function findAnalysis(name: string, dir: string = ANALYSES_DIR): Analysis {
  const analyses = loadAnalyses(dir);
  const found = analyses.find((a) => a.name === name);
  if (!found) throw new Error(`No saved analysis "${name}"; there are: ${analyses.map((a) => a.name).join(', ')}`);
  return found;
}

function analysisOf(name: string, sql: string): Analysis {
  const header = (key: string): string => {
    const match = new RegExp(`^--\\s*${key}:\\s*(.+)$`, 'm').exec(sql);
    if (!match) throw new Error(`analytics/${name}.sql has no "-- ${key}:" line`);
    return match[1].trim();
  };
  return { name, title: header('title'), description: header('description'), sql };
}
