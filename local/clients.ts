import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { LOCAL_REGION } from './template-model';

/** Clients of the local emulators and the credentials the local API takes: one definition for the runtime, the commands and the tests. */

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export const localDynamoDb = (endpoint: string) => new DynamoDBClient({ region: LOCAL_REGION, endpoint, credentials });

export const localEventBridge = (endpoint: string) => new EventBridgeClient({ region: LOCAL_REGION, endpoint, credentials });

export const localSecretsManager = (endpoint: string) => new SecretsManagerClient({ region: LOCAL_REGION, endpoint, credentials });

export const localKinesis = (endpoint: string) => new KinesisClient({ region: LOCAL_REGION, endpoint, credentials, requestHandler: new NodeHttpHandler() });

/** `Authorization: Basic` with `user` as the user name and `password` (empty: how Segment sends a write key). */
export const basicAuthorization = (user: string, password = '') => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Whether a process exists (EPERM: it does, owned by someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The data directory a command works on: `--data-dir`, else PERSONALIZATION_DATA_DIR, else `.local-data`. */
export const dataDirOf = (flag: string | undefined) => path.resolve(flag ?? process.env.PERSONALIZATION_DATA_DIR ?? '.local-data');

/** The local API's keys: the environment's, else the development defaults. */
export const DEV_KEYS = { write: 'dev-write-key', admin: 'dev-admin-key', read: 'dev-read-key' } as const;
export const localKeys = () => ({
  write: process.env.PERSONALIZATION_WRITE_KEY || DEV_KEYS.write,
  admin: process.env.PERSONALIZATION_ADMIN_KEY || DEV_KEYS.admin,
  read: process.env.PERSONALIZATION_READ_KEY || DEV_KEYS.read,
});
