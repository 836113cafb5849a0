#!/usr/bin/env node
/**
 * `npm start`: the whole platform on this machine, no Docker and no AWS account.
 *
 *   npm start                      keep data from earlier runs (.local-data/)
 *   npm start -- --fresh           start empty
 *   npm start -- --port 4000       or PORT=4000
 *   npm start -- --data-dir /tmp/p or PERSONALIZATION_DATA_DIR
 *   npm start -- --demo            load a generated shop (catalog and events), train, print example requests
 *
 * Credentials: PERSONALIZATION_WRITE_KEY and PERSONALIZATION_READ_KEY (development defaults below); the admin API takes
 * SigV4-signed requests with the local AWS credentials (access key id `local`, secret `local`, region us-east-1).
 */
import { parseArgs } from 'node:util';
import { dataDirOf, DEV_KEYS, LOCAL_CREDENTIALS, localKeys } from '../local/clients';
import { loadDemo } from '../local/demo-run';
import { startLocalRuntime } from '../local/runtime';
import { publishRuntimeInfo } from '../local/runtime-info';
import { LOCAL_REGION } from '../local/template-model';
import { itemsTableOf } from '../local/train';

// The local tooling may run on Node 20; the functions target Node 22 in Lambda.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';


async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      fresh: { type: 'boolean', default: false },
      demo: { type: 'boolean', default: false },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('Usage: npm start -- [--fresh] [--demo] [--port 3000] [--data-dir .local-data]');
    return;
  }
  const port = Number(values.port ?? process.env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Invalid port "${values.port ?? process.env.PORT}"`);
  const dataDir = dataDirOf(values['data-dir']);
  const { write: writeKey, read: readKey } = localKeys();

  console.log('Synthesizing the stack and bundling the functions…');
  const runtime = await startLocalRuntime({ dataDir, fresh: values.fresh, port, writeKey, readKey, logLevel: process.env.LOG_LEVEL ?? 'INFO' });

  const unpublish = publishRuntimeInfo(dataDir, {
    pid: process.pid,
    url: runtime.url,
    dynamodb: runtime.endpoints.dynamodb,
    kinesis: runtime.endpoints.kinesis,
    itemsTable: itemsTableOf(runtime.model),
    lakeDir: runtime.lakeDir,
  });

  const note = (value: string, fallback: string) => (value === fallback ? ' (development default)' : '');
  console.log(`
Personalization platform running locally
  API            ${runtime.url}   (point Segment SDKs here: host=${runtime.url})
  write key      ${writeKey}${note(writeKey, DEV_KEYS.write)}   PERSONALIZATION_WRITE_KEY
  read key       ${readKey}${note(readKey, DEV_KEYS.read)}   PERSONALIZATION_READ_KEY
  admin API      SigV4 (IAM), access key id ${LOCAL_CREDENTIALS.accessKeyId}, secret ${LOCAL_CREDENTIALS.secretAccessKey}, region ${LOCAL_REGION}, service execute-api
  data           ${dataDir}${values.fresh ? ' (fresh)' : ''}
  event lake     ${runtime.lakeDir}   (npm run query -- --list)
  DynamoDB       ${runtime.endpoints.dynamodb}
  Kinesis        ${runtime.endpoints.kinesis}`);

  // curl signs with SigV4 itself (7.75 and later).
  const admin = (path: string) => `  curl --aws-sigv4 aws:amz:${LOCAL_REGION}:execute-api --user ${LOCAL_CREDENTIALS.accessKeyId}:${LOCAL_CREDENTIALS.secretAccessKey} ${runtime.url}${path}`;
  const recommend = (query: string) => `  curl -u ${readKey}: '${runtime.url}/v1/recommendations?${query}'`;
  if (values.demo) {
    console.log('\nLoading the demo shop…');
    const demo = await loadDemo(runtime, { writeKey }, (m) => console.log(`  ${m}`));
    const { userId, anonymousId, itemId } = demo.examples;
    console.log(`
Demo loaded: ${demo.items} items, ${demo.accepted} events, model ${demo.modelVersion}. Try:
  # a known user's recommendations
${recommend(`userId=${encodeURIComponent(userId)}`)}
  # an anonymous visitor's
${recommend(`anonymousId=${encodeURIComponent(anonymousId)}`)}
  # more like ${itemId}
${recommend(`anonymousId=new-visitor&itemId=${encodeURIComponent(itemId)}`)}
  # the known user's profile
${admin(`/v1/profiles/${encodeURIComponent(userId)}`)}
  # a saved analysis of the lake
  npm run query -- --named top-items`);
  } else {
    console.log(`
Try:
  curl -u ${writeKey}: -H 'Content-Type: application/json' ${runtime.url}/v1/track \\
    -d '{"userId":"u1","event":"Product Viewed","properties":{"product_id":"p1","category":"Shoes"}}'
${admin('/v1/profiles/u1')}
${recommend('userId=u1')}
  npm run train                          retrain on the lake's last 90 days
  npm run query -- --named top-items     a saved analysis of the lake (--list shows them all)
  npm start -- --demo                    a generated shop to try it with`);
  }
  console.log(`\nCtrl-C stops; data stays in ${dataDir}.`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    unpublish();
    await runtime.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
