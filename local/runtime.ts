import * as fs from 'node:fs';
import type { Server } from 'node:http';
import * as path from 'node:path';
import { ENV } from '../lambdas/shared/env';
import { createApiServer } from './api-gateway';
import { FaultProxy } from './fault-proxy';
import { LOCAL_CREDENTIALS, localDynamoDb, localKinesis } from './clients';
import { Emulators, listen, startEmulators } from './emulators';
import { CheckpointStore, KinesisEventSource, OnFailureRecord } from './kinesis-event-source';
import { createLakeWriter, LAKE_EVENTS_PREFIX } from './lake-writer';
import { LambdaHost } from './lambda-host';
import { standInPrivacyFunctions } from './privacy';
import { provision } from './provision';
import { LocalScheduler } from './scheduler';
import { synthesizeForLocal } from './synth';
import { LOCAL_ACCOUNT, LOCAL_REGION, LocalModel } from './template-model';
import { TtlSweeper } from './ttl-sweeper';

export interface LocalRuntimeOptions {
  /** Where tables, streams, checkpoints and failure records persist. */
  dataDir: string;
  /** Start with an empty `dataDir`. */
  fresh?: boolean;
  /** API port; 0 picks a free one. @default 3000 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** The ingestion write key the local Secrets Manager serves to the functions (the admin API takes SigV4 with `LOCAL_CREDENTIALS`). */
  writeKey: string;
  /** The recommendation API's read key. */
  readKey: string;
  /** Shards of each local stream (on-demand streams have no shard count in the template). @default 2 */
  shardCount?: number;
  /** @default 200 */
  pollIntervalMs?: number;
  /** First delay before an event source mapping retries a failed batch. @default 500 */
  retryBaseDelayMs?: number;
  /** How often expired items are deleted. @default 60000 */
  ttlSweepIntervalMs?: number;
  /** Run every schedule (of up to an hour) this often instead of at its rate. @default - the rule's rate */
  schedulePeriodMs?: number;
  /** Seconds an erasure waits before its lake step (the local lake is written within seconds). @default 5 */
  erasureSettleSeconds?: number;
  /** Powertools log level of the functions. @default 'INFO' */
  logLevel?: string;
  /**
   * Put a fault-injection proxy between the functions and the DynamoDB and Kinesis emulators (`LocalRuntime.faults`):
   * the reliability suite's throttling, outages and partial failures. The runtime's own readers (event sources, lake
   * writers) reach the emulators directly. @default false
   */
  faultInjection?: boolean;
  /** CDK context values, as `cdk deploy -c key=value` would pass them. */
  context?: Record<string, unknown>;
  log?: (message: string) => void;
}

export interface LocalRuntime {
  url: string;
  endpoints: Emulators['endpoints'];
  model: LocalModel;
  template: Record<string, unknown>;
  lambdas: LambdaHost;
  /** With `faultInjection`: the proxies the functions call DynamoDB and Kinesis through; set a `rule` to inject faults. */
  faults?: { dynamodb: FaultProxy; kinesis: FaultProxy };
  ttl: TtlSweeper;
  /** On-failure destinations: one JSON-lines file per queue of the template. */
  failureFile(queueLogicalId: string): string;
  /**
   * The local lake (`<dataDir>/lake`), as Firehose delivers it to S3: every event of the stream under `events/`
   * (see `readLakeEvents`), rejected events under `bad-events/` (the bad-events delivery stream's prefix), segment
   * events under `segment-events/` (delivered by the segment bus's rule).
   */
  lakeDir: string;
  /** What was put on the event buses: `<dir>/<bus name>.jsonl` (see `recordedEvents`); their rules deliver to the lake. */
  eventBusDir: string;
  /** The template's schedules (the segment clock): `run` one now, as its rule would. */
  scheduler: LocalScheduler;
  stop(): Promise<void>;
}

/** The credential (`write` or `read`) a function's environment variable names the secret of. */
function credentialOf(env: Record<string, string>, name: string): 'write' | 'read' | undefined {
  if (name === ENV.writeKeySecret) return 'write';
  if (name === ENV.keySecret && (env[ENV.credential] === 'write' || env[ENV.credential] === 'read')) return env[ENV.credential] as 'write' | 'read';
  return undefined;
}

/**
 * Runs the synthesized stack on this machine: emulators for DynamoDB, Kinesis, Secrets Manager, Firehose
 * (Direct PUT delivery streams) and EventBridge (PutEvents, recorded and routed to its rules' delivery streams), the
 * functions' Lambda bundles in worker threads, the API on loopback (with its Lambda authorizers and SigV4 checks), one poller per event source mapping, a lake
 * writer per delivery stream reading a Kinesis stream (Firehose to S3, as local files), the schedules of up to an
 * hour (the segment clock) and a TTL sweeper. Handlers reach the emulators through `AWS_ENDPOINT_URL_*` only.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const log = options.log ?? ((message: string) => console.error(message));
  if (options.fresh) fs.rmSync(options.dataDir, { recursive: true, force: true });
  fs.mkdirSync(options.dataDir, { recursive: true });

  const { model, template, assemblyDir } = synthesizeForLocal(options.context);
  const secretValues = secretsFor(model, options);

  const cleanups: Array<() => Promise<void>> = [async () => fs.rmSync(assemblyDir, { recursive: true, force: true })];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => log(`Shutdown step failed: ${error}`));
    cleanups.length = 0;
  };
  try {
    const lakeDir = lakeDirOf(options.dataDir);
    const eventBusDir = path.join(options.dataDir, 'event-bus');
    const emulators = await startEmulators(options.dataDir, secretValues, { deliveryStreams: model.deliveryStreams, lakeDir }, { buses: model.buses, dir: eventBusDir, rules: model.rules });
    cleanups.push(() => emulators.close());
    const dynamodb = localDynamoDb(emulators.endpoints.dynamodb);
    const kinesis = localKinesis(emulators.endpoints.kinesis);
    cleanups.push(async () => {
      dynamodb.destroy();
      kinesis.destroy();
    });
    await provision(model, dynamodb, kinesis, options.shardCount ?? 2);

    const faults = options.faultInjection ? await startFaultProxies(emulators.endpoints, log) : undefined;
    if (faults) cleanups.push(async () => void (await Promise.all([faults.dynamodb.close(), faults.kinesis.close()])));
    const functionEndpoints = { ...emulators.endpoints, ...(faults ? { dynamodb: faults.dynamodb.url, kinesis: faults.kinesis.url } : {}) };

    const lambdas = new LambdaHost(model.functions, {
      PATH: process.env.PATH ?? '',
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: functionEndpoints.dynamodb,
      AWS_ENDPOINT_URL_KINESIS: functionEndpoints.kinesis,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: emulators.endpoints.secretsManager,
      AWS_ENDPOINT_URL_FIREHOSE: emulators.endpoints.firehose,
      AWS_ENDPOINT_URL_EVENTBRIDGE: emulators.endpoints.eventBridge,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'INFO',
      POWERTOOLS_TRACE_ENABLED: 'false',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    cleanups.push(() => lambdas.close());

    const failureFile = (queueId: string) => path.join(options.dataDir, 'failures', `${model.queues.find((q) => q.logicalId === queueId)?.name ?? queueId}.jsonl`);
    const checkpoints = new CheckpointStore(checkpointsFileOf(options.dataDir));
    for (const mapping of model.mappings) {
      const fn = model.functions.find((f) => f.logicalId === mapping.functionId);
      const source = new KinesisEventSource({
        mapping,
        stream: model.streams.find((s) => s.logicalId === mapping.streamId) as LocalModel['streams'][number],
        kinesis,
        invoke: (event) => lambdas.invoke(mapping.functionId, event),
        checkpoints,
        ...(mapping.onFailureId ? { onFailure: appendTo(failureFile(mapping.onFailureId)) } : {}),
        functionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${fn?.name}`,
        pollIntervalMs: options.pollIntervalMs ?? 200,
        retryBaseDelayMs: options.retryBaseDelayMs ?? 500,
        log,
      });
      await source.start();
      cleanups.push(() => source.stop());
    }

    // Firehose reading the stream into the lake: one writer per delivery stream with a Kinesis source.
    for (const deliveryStream of model.deliveryStreams.filter((d) => d.type === 'KinesisStreamAsSource')) {
      if (!deliveryStream.prefix.startsWith(`${LAKE_EVENTS_PREFIX}/`)) {
        log(`Delivery stream ${deliveryStream.name} has the prefix "${deliveryStream.prefix}"; the local lake writes it under ${LAKE_EVENTS_PREFIX}/ regardless`);
      }
      const lake = createLakeWriter({
        deliveryStream,
        stream: model.streams.find((s) => s.logicalId === deliveryStream.sourceStreamId) as LocalModel['streams'][number],
        kinesis,
        checkpoints,
        lakeDir,
        pollIntervalMs: options.pollIntervalMs ?? 200,
        retryBaseDelayMs: options.retryBaseDelayMs ?? 500,
        // Its processor (the consent filter) is the template's function, invoked as Firehose invokes it.
        invokeFunction: (functionId, event) => lambdas.invoke(functionId, event),
        log,
      });
      await lake.start();
      cleanups.push(() => lake.stop()); // drains the stream into the lake: the API has stopped taking events by then
    }

    standInPrivacyFunctions(model, lambdas, emulators.endpoints, lakeDir, { erasureSettleSeconds: options.erasureSettleSeconds ?? 5, logLevel: options.logLevel ?? 'INFO' });

    const scheduler = new LocalScheduler(model.schedules, (functionId, event) => lambdas.invoke(functionId, event), log);
    scheduler.start(options.schedulePeriodMs);
    cleanups.push(() => scheduler.stop());

    const ttl = new TtlSweeper(dynamodb, model.tables);
    ttl.start(options.ttlSweepIntervalMs ?? 60_000, log);
    cleanups.push(() => ttl.stop());

    let url = '';
    if (model.api) {
      const server = createApiServer(model.api, (functionId, event) => lambdas.invoke(functionId, event), { onError: log });
      url = await listen(server, options.port ?? 3000, options.host ?? '127.0.0.1').catch((error) => {
        throw error.code === 'EADDRINUSE' ? new Error(`Port ${options.port ?? 3000} is in use: set PORT or pass --port`) : error;
      });
      cleanups.push(() => closeServer(server));
    }

    return { url, endpoints: emulators.endpoints, model, template, lambdas, ...(faults ? { faults: { dynamodb: faults.dynamodb.proxy, kinesis: faults.kinesis.proxy } } : {}), ttl, failureFile, lakeDir, eventBusDir, scheduler, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A fault proxy in front of the DynamoDB and of the Kinesis emulator, each with its URL. */
async function startFaultProxies(endpoints: Emulators['endpoints'], log: (message: string) => void) {
  const start = async (service: 'dynamodb' | 'kinesis') => {
    const proxy = new FaultProxy(endpoints[service], service, { onError: (error) => log(`Fault proxy (${service}): ${error}`) });
    return { proxy, url: await proxy.start(), close: () => proxy.close() };
  };
  return { dynamodb: await start('dynamodb'), kinesis: await start('kinesis') };
}

/** The value of every secret some function reads, by ARN and by name. */
function secretsFor(model: LocalModel, options: LocalRuntimeOptions): Map<string, string> {
  const keys = { write: options.writeKey, read: options.readKey };
  const values = new Map<string, string>();
  for (const fn of model.functions) {
    for (const [name, value] of Object.entries(fn.environment)) {
      const secret = model.secrets.find((s) => s.arn === value);
      if (!secret) continue;
      const credential = credentialOf(fn.environment, name);
      if (credential === undefined) throw new Error(`The local runtime has no value for the secret ${secret.name} (read through ${name})`);
      const json = JSON.stringify({ key: keys[credential] });
      values.set(secret.arn, json).set(secret.name, json);
    }
  }
  return values;
}

function appendTo(file: string): (record: OnFailureRecord) => Promise<void> {
  return async (record) => {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await fs.promises.appendFile(file, `${JSON.stringify(record)}\n`);
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Where the stream consumers (event source mappings and lake writers) keep their positions: `<mapping id>/<shard id>` → sequence number. */
export function checkpointsFileOf(dataDir: string): string {
  return path.join(dataDir, 'checkpoints.json');
}

/** The local lake under a data directory: what `npm start` writes and `npm run query` reads. */
export function lakeDirOf(dataDir: string): string {
  return path.join(dataDir, 'lake');
}
