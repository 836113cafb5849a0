import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalRuntime, LocalRuntimeOptions, startLocalRuntime } from '../../local/runtime';

export const WRITE_KEY = 'test-write-key';
export const READ_KEY = 'test-read-key';

/** A local runtime on a free port with a temporary data directory, quick to retry; what it logs is kept in `logs` (the last 200 lines), for a failing test to show. */
export async function startTestRuntime(overrides: Partial<LocalRuntimeOptions> = {}): Promise<LocalRuntime & { dataDir: string; logs: string[] }> {
  const logs: string[] = [];
  const dataDir = overrides.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'personalization-it-'));
  const runtime = await startLocalRuntime({
    dataDir,
    port: 0,
    writeKey: WRITE_KEY,
    readKey: READ_KEY,
    pollIntervalMs: 50,
    retryBaseDelayMs: 20,
    logLevel: 'CRITICAL',
    log: (message) => {
      logs.push(message);
      if (logs.length > 200) logs.shift();
    },
    ...overrides,
  });
  return { ...runtime, dataDir, logs };
}

import { basicAuthorization as basic, signedFetch } from '../../local/clients';

export { localDynamoDb as dynamoDbAt, localKinesis as kinesisAt } from '../../local/clients';
export { basic, signedFetch };

/** POSTs JSON (or a raw body) to the runtime. */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: basic(WRITE_KEY), ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Calls an admin route (IAM authorization: signed with SigV4 with the local credentials), with a JSON body when one is given. */
export function adminRequest(baseUrl: string, method: string, path: string, body?: unknown): Promise<Response> {
  return signedFetch(`${baseUrl}${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
}

export async function getProfile(baseUrl: string, id: string, query = ''): Promise<{ status: number; body: any }> {
  const response = await adminRequest(baseUrl, 'GET', `/v1/profiles/${encodeURIComponent(id)}${query}`);
  return { status: response.status, body: await response.json() };
}

/** Polls `check` until it returns a value (not undefined) or the timeout passes; `what` names what was awaited in the error (a function: read at the timeout). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, what: string | (() => string) = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Timed out waiting for ${typeof what === 'function' ? what() : what}${last ? `: ${last}` : ''}`);
}
