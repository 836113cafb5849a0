#!/usr/bin/env node
/**
 * `npm run train`: trains the recommendation model on every event the running local runtime has seen (its
 * lake) and switches serving to the new version.
 *
 *   npm run train                          the runtime of .local-data/
 *   npm run train -- --data-dir /tmp/p     or PERSONALIZATION_DATA_DIR
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dataDirOf } from '../local/clients';
import { findRuntime } from '../local/runtime-info';
import { trainLocal } from '../local/train';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } } });
  if (values.help) {
    console.log('Usage: npm run train -- [--data-dir .local-data]   (with `npm start` running on the same data directory)');
    return;
  }
  const dataDir = dataDirOf(values['data-dir']);
  const runtime = findRuntime(dataDir);
  const dynamodb = new DynamoDBClient({ region: 'us-east-1', endpoint: runtime.dynamodb, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const result = await trainLocal({ dynamodb, itemsTable: runtime.itemsTable, lakeDir: runtime.lakeDir, log: (m) => console.log(m) });
    const s = result.seconds;
    console.log(
      `Model ${result.version} (${result.algorithm}) serves now: ${result.stats.interactions} interactions, ${result.stats.subjects} people, ${result.stats.items} items ` +
        `(read ${s.read.toFixed(1)} s, train ${s.train.toFixed(1)} s, write ${s.write.toFixed(1)} s)`,
    );
  } finally {
    dynamodb.destroy();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
