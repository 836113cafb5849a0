import * as fs from 'node:fs';
import * as path from 'node:path';
import { isAlive } from './clients';

/**
 * What a running `npm start` publishes in its data directory, so command-line tools (`npm run train`) can find
 * its emulators and tables. Removed when the runtime stops; a file left by a crash names a dead process.
 */
export interface RuntimeInfo {
  pid: number;
  url: string;
  dynamodb: string;
  kinesis: string;
  itemsTable: string;
  lakeDir: string;
}

const fileIn = (dataDir: string) => path.join(dataDir, 'runtime.json');

export function publishRuntimeInfo(dataDir: string, info: RuntimeInfo): () => void {
  fs.writeFileSync(fileIn(dataDir), JSON.stringify(info, null, 2));
  return () => fs.rmSync(fileIn(dataDir), { force: true });
}

/** The running runtime of `dataDir`, or an error saying how to start one. */
export function findRuntime(dataDir: string): RuntimeInfo {
  const file = fileIn(dataDir);
  const notRunning = new Error(`No local runtime is running on ${dataDir}: start one with \`npm start\` (same --data-dir) and run this again`);
  if (!fs.existsSync(file)) throw notRunning;
  const info = JSON.parse(fs.readFileSync(file, 'utf8')) as RuntimeInfo;
  if (!isAlive(info.pid)) throw notRunning;
  return info;
}
