import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { BadEventLine } from '../../lambdas/shared/store/bad-event-store';

/** Every object under a prefix of a local lake (`events` by default), with its path relative to the prefix, sorted by path. */
export function lakeObjects(lakeDir: string, prefix = 'events'): Array<{ key: string; mtimeMs: number; lines: string[] }> {
  const root = path.join(lakeDir, prefix);
  const keys = fs.existsSync(root) ? (fs.readdirSync(root, { recursive: true }) as string[]).filter((key) => key.endsWith('.json.gz')) : [];
  return keys.sort().map((key) => ({
    key,
    mtimeMs: fs.statSync(path.join(root, key)).mtimeMs,
    lines: gunzipSync(fs.readFileSync(path.join(root, key))).toString('utf8').split('\n').filter((line) => line !== ''),
  }));
}

/** The bad events in a local lake's `bad-events/` objects. */
export const lakeBadEvents = (lakeDir: string): BadEventLine[] => lakeObjects(lakeDir, 'bad-events').flatMap((o) => o.lines.map((line) => JSON.parse(line)));
