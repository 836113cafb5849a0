import { createHash, createHmac } from 'node:crypto';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOCAL_REGION } from './template-model';

/** Clients of the local emulators and the credentials the local API takes: one definition for the runtime, the commands and the tests. */

/**
 * The local runtime's AWS credentials: the emulators are called with them, and they are the only ones the local API
 * Gateway takes on its IAM-authorized (SigV4) routes, the admin API (profiles, consent, erasure and export, segments,
 * the catalog). Sign as for the deployed API, service `execute-api`, region `us-east-1`: with `signedFetch`, or
 * `curl --aws-sigv4 aws:amz:us-east-1:execute-api --user local:local …` (curl 7.88 signs a percent-encoded path as it
 * is, where API Gateway and the AWS SDKs encode it once more: fine for ids without reserved characters).
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
const credentials = LOCAL_CREDENTIALS;

export const localDynamoDb = (endpoint: string) => new DynamoDBClient({ region: LOCAL_REGION, endpoint, credentials });

export const localEventBridge = (endpoint: string) => new EventBridgeClient({ region: LOCAL_REGION, endpoint, credentials });

export const localKinesis = (endpoint: string) => new KinesisClient({ region: LOCAL_REGION, endpoint, credentials, requestHandler: new NodeHttpHandler() });

export interface SignedRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/**
 * The headers that sign a request with SigV4 for API Gateway (`execute-api`), as an IAM-authorized caller of the
 * deployed API signs it: the request's own headers plus `authorization` and `x-amz-date`. Signed: the method, the
 * path as it goes on the wire (SigV4 URI-encodes each of its segments once more, as API Gateway expects), the query
 * parameters (`queryParameters`), `host`, the given headers and the body's SHA-256. With the local credentials
 * unless others are given.
 */
export async function signedHeaders(
  url: string | URL,
  request: SignedRequest = {},
  signWith: { accessKeyId: string; secretAccessKey: string } = LOCAL_CREDENTIALS,
  signingDate = new Date(),
): Promise<Record<string, string>> {
  const target = new URL(url);
  // applyChecksum: false: no `x-amz-content-sha256` header (an S3 header); the body's hash is signed all the same.
  const signer = new SignatureV4({ service: 'execute-api', region: LOCAL_REGION, credentials: signWith, sha256: Sha256, applyChecksum: false });
  const signed = await signer.sign(
    {
      method: (request.method ?? 'GET').toUpperCase(),
      protocol: target.protocol,
      hostname: target.hostname,
      ...(target.port ? { port: Number(target.port) } : {}),
      path: target.pathname,
      query: queryParameters(target.search),
      headers: { ...request.headers, host: target.host },
      ...(request.body !== undefined ? { body: request.body } : {}),
    },
    { signingDate },
  );
  const { host: _host, ...headers } = signed.headers; // fetch sends the same Host itself
  return headers;
}

/** `fetch`, signed with SigV4 for the local API's IAM-authorized routes (the admin API): see `signedHeaders`. */
export async function signedFetch(url: string | URL, request: SignedRequest = {}, signWith?: { accessKeyId: string; secretAccessKey: string }): Promise<Response> {
  const headers = await signedHeaders(url, request, signWith);
  return fetch(url, { method: (request.method ?? 'GET').toUpperCase(), headers, ...(request.body !== undefined ? { body: request.body } : {}) });
}

/** A URL query as SigV4 signs it (`?a=1&a=2&b` → `{ a: ['1', '2'], b: '' }`): names and values percent-decoded, a `+` stays a `+`. */
export function queryParameters(search: string): Record<string, string | string[]> {
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text; // malformed escapes are signed as they are
    }
  };
  const query: Record<string, string | string[]> = {};
  for (const pair of search.replace(/^\?/, '').split('&').filter(Boolean)) {
    const equals = pair.indexOf('=');
    const [name, value] = (equals === -1 ? [pair, ''] : [pair.slice(0, equals), pair.slice(equals + 1)]).map(decode);
    const before = query[name];
    query[name] = before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
  }
  return query;
}

/** SHA-256 (and HMAC-SHA-256 with a secret) from node:crypto, in the shape the SigV4 signer takes. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

const bytes = (data: string | ArrayBuffer | ArrayBufferView): Buffer =>
  typeof data === 'string' ? Buffer.from(data, 'utf8') : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);

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

/** The local API's keys: the environment's, else the development defaults. (The admin API takes SigV4 with `LOCAL_CREDENTIALS`.) */
export const DEV_KEYS = { write: 'dev-write-key', read: 'dev-read-key' } as const;
export const localKeys = () => ({
  write: process.env.PERSONALIZATION_WRITE_KEY || DEV_KEYS.write,
  read: process.env.PERSONALIZATION_READ_KEY || DEV_KEYS.read,
});
