import * as fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import { awsJsonServer } from './aws-json';
import { eventBusStub } from './event-bus';
import { deliverRecords, firehoseStub } from './firehose';
import type { LocalBusRule, LocalDeliveryStream, LocalEventBus } from './template-model';

/**
 * The AWS services the functions use, emulated in-process on loopback: DynamoDB (dynalite) and Kinesis
 * (kinesalite) speak the real wire protocols and persist under `dataDir`; Secrets Manager is a minimal
 * GetSecretValue endpoint serving the local credentials; Firehose is a minimal PutRecordBatch/PutRecord endpoint
 * writing the Direct PUT delivery streams into the local lake (see `firehose.ts`); EventBridge is a minimal PutEvents
 * endpoint recording what is put on the template's buses and delivering it to the Firehose targets of the buses'
 * rules, through the same Direct PUT delivery (see `event-bus.ts`).
 */
export interface Emulators {
  endpoints: { dynamodb: string; kinesis: string; secretsManager: string; firehose: string; eventBridge: string };
  close(): Promise<void>;
}

/** Secret values by id (name or ARN). */
export type SecretValues = Map<string, string>;

/** What the local Firehose serves: the template's delivery streams, written under `lakeDir`. */
export interface FirehoseOptions {
  deliveryStreams: readonly LocalDeliveryStream[];
  lakeDir: string;
}

/** What the local EventBridge serves: the template's buses, recorded under `dir`, and the rules on them. */
export interface EventBusOptions {
  buses: readonly LocalEventBus[];
  dir: string;
  rules: readonly LocalBusRule[];
}

export async function startEmulators(dataDir: string, secrets: SecretValues, firehose: FirehoseOptions, eventBus: EventBusOptions): Promise<Emulators> {
  const dynamoDir = path.join(dataDir, 'dynamodb');
  const kinesisDir = path.join(dataDir, 'kinesis');
  fs.mkdirSync(dynamoDir, { recursive: true });
  fs.mkdirSync(kinesisDir, { recursive: true });

  const servers = [
    dynalite({ path: dynamoDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }),
    kinesalite({ path: kinesisDir, createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 }),
    secretsManagerStub(secrets),
    firehoseStub(firehose.deliveryStreams, firehose.lakeDir),
    eventBusStub(eventBus.buses, eventBus.dir, { rules: eventBus.rules, deliver: (rule, records) => deliverToStream(firehose, rule.deliveryStreamName, records) }),
  ];
  const [dynamodb, kinesis, secretsManager, firehoseUrl, eventBridge] = await Promise.all(servers.map((server) => listen(server)));
  return {
    endpoints: { dynamodb, kinesis, secretsManager, firehose: firehoseUrl, eventBridge },
    close: async () => {
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    },
  };
}

/** Puts records on a Direct PUT delivery stream of the local Firehose, as a rule's target (EventBridge calls Firehose). */
async function deliverToStream(firehose: FirehoseOptions, name: string, records: Buffer[]): Promise<void> {
  const stream = firehose.deliveryStreams.find((d) => d.name === name);
  if (!stream) throw new Error(`No delivery stream ${name} in the local Firehose`);
  await deliverRecords(stream, firehose.lakeDir, records, Date.now());
}

/** Starts `server` on a free loopback port and returns its URL. */
export function listen(server: Server, port = 0, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`));
  });
}

/** Secrets Manager's GetSecretValue (AWS JSON 1.1 protocol); every other action is refused. */
function secretsManagerStub(secrets: SecretValues): Server {
  return awsJsonServer((target, body, reply) => {
    if (target !== 'secretsmanager.GetSecretValue') {
      return reply(400, { __type: 'InvalidRequestException', message: `The local Secrets Manager only supports GetSecretValue, not ${target}` });
    }
    let secretId = '';
    try {
      secretId = JSON.parse(body.toString('utf8')).SecretId ?? '';
    } catch {
      return reply(400, { __type: 'InvalidRequestException', message: 'Malformed request body' });
    }
    const value = secrets.get(secretId);
    if (value === undefined) return reply(400, { __type: 'ResourceNotFoundException', message: `Secrets Manager can't find the specified secret: ${secretId}` });
    return reply(200, { ARN: secretId, Name: secretId.split(':').pop(), SecretString: value, VersionId: 'local', VersionStages: ['AWSCURRENT'], CreatedDate: 0 });
  });
}
