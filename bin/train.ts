#!/usr/bin/env node
/**
 * `npm run train`: the scheduled training job on this machine. The aggregate query runs on DuckDB over the running
 * local runtime's lake (Athena's place in AWS), the model is trained, written to the local items table, and serving
 * switches to it.
 *
 *   npm run train                          the runtime of .local-data/, the last 90 days
 *   npm run train -- --data-dir /tmp/p     or PERSONALIZATION_DATA_DIR
 *   npm run train -- --window-days 30      the days of events to train on
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dataDirOf } from '../local/clients';
import { findRuntime } from '../local/runtime-info';
import { trainLocal } from '../local/train';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'data-dir': { type: 'string' }, 'window-days': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    console.log('Usage: npm run train -- [--data-dir .local-data] [--window-days 90]   (with `npm start` running on the same data directory)');
    return;
  }
  const windowDays = values['window-days'] === undefined ? undefined : Number(values['window-days']);
  if (windowDays !== undefined && !(windowDays > 0)) throw new Error(`--window-days must be a positive number, got ${values['window-days']}`);
  const dataDir = dataDirOf(values['data-dir']);
  const runtime = findRuntime(dataDir);
  const dynamodb = new DynamoDBClient({ region: 'us-east-1', endpoint: runtime.dynamodb, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const result = await trainLocal({ dynamodb, itemsTable: runtime.itemsTable, lakeDir: runtime.lakeDir, ...(windowDays ? { windowDays } : {}), log: (m) => console.log(m) });
    const s = result.seconds;
    console.log(
      `Model ${result.version} (${result.algorithm}) serves now: ${result.stats.interactions} interactions (${result.aggregateRows} aggregate rows), ` +
        `${result.stats.subjects} people, ${result.stats.items} items ` +
        `(query ${result.querySeconds.toFixed(1)} s, read ${s.read.toFixed(1)} s, train ${s.train.toFixed(1)} s, write ${s.write.toFixed(1)} s)`,
    );
  } finally {
    dynamodb.destroy();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
