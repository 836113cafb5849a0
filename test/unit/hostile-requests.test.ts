import { createHash } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { LIMITS } from '../../lambdas/shared/domain/event-schema';
import { RequestError } from '../../lambdas/shared/domain/errors';
import { IngestOutcome, ingestMessages, ROUTES } from '../../lambdas/shared/domain/ingestion';
import { isPlainObject } from '../../lambdas/shared/domain/json';
import { basicAuthUser } from '../../lambdas/shared/http';
import { HOSTILE_CATEGORIES, HostileRequest, hostileRequests, sendRequest } from '../reliability/hostile-requests';

const WRITE_KEY = 'unit-write-key';
const PREFIX = 'hq';
const requests = hostileRequests({ writeKey: WRITE_KEY, seed: 1, prefix: PREFIX });

/** What the platform sees of a request. */
interface Seen {
  method: string;
  /** `track` for `/v1/track`; empty for a path that is no ingestion route. */
  route: string;
  /** Lower-case names; a repeated header keeps its last value, as in API Gateway's `headers`. */
  headers: Map<string, string>;
  /** Content-decoded; undefined when it cannot be decoded or inflates past the batch limit. */
  body: Buffer | undefined;
  /** The body as the ingest function parses it; undefined when it refuses it first (empty, too large, not UTF-8, not JSON). */
  json: unknown;
}

const views = new Map<HostileRequest, Seen>();

function seen(request: HostileRequest): Seen {
  const cached = views.get(request);
  if (cached) return cached;
  const { method, target, headers, body } = request.raw
    ? parseRaw(request.raw)
    : { method: request.method, target: request.path, headers: lowerCased(Object.entries(request.headers)), body: request.body ?? Buffer.alloc(0) };
  const route = /^\/v1\/([a-z]+)$/.exec(new URL(target, 'http://local').pathname)?.[1] ?? '';
  const content = decoded(body, headers.get('content-encoding'));
  const view = { method, route: ROUTES[route] ? route : '', headers, body: content, json: parsed(content) };
  views.set(request, view);
  return view;
}

const lowerCased = (entries: Array<[string, string]>) => new Map(entries.map(([name, value]) => [name.toLowerCase(), value]));

/** A raw request's parts (lines ended by CRLF or LF), its body delimited by Content-Length (chunked bodies are left framed: they never carry valid events). */
function parseRaw(raw: Buffer): { method: string; target: string; headers: Map<string, string>; body: Buffer } {
  const text = raw.toString('latin1');
  const headEnd = /\r?\n\r?\n/.exec(text);
  const [requestLine, ...lines] = text.slice(0, headEnd?.index).split(/\r?\n/);
  const [method, target = '/'] = requestLine.split(' ');
  const headers = lowerCased(lines.map((line) => [line.slice(0, line.indexOf(':')).trim(), line.slice(line.indexOf(':') + 1).trim()]));
  const body = headEnd ? raw.subarray(headEnd.index + headEnd[0].length) : Buffer.alloc(0);
  const length = Number(headers.get('content-length'));
  return { method, target, headers, body: Number.isInteger(length) && length >= 0 ? body.subarray(0, length) : body };
}

/** The body as the ingest function decodes it: identity, gzip or deflate (bounded), nothing else. */
function decoded(body: Buffer, encoding = 'identity'): Buffer | undefined {
  const name = encoding.trim().toLowerCase();
  if (name === 'identity') return body;
  const inflate = { gzip: gunzipSync, deflate: inflateSync }[name];
  try {
    return inflate?.(body, { maxOutputLength: LIMITS.maxBatchBytes + 1 });
  } catch {
    return undefined;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parsed(body: Buffer | undefined): unknown {
  if (body === undefined || body.length === 0 || body.length > LIMITS.maxBatchBytes) return undefined;
  try {
    return JSON.parse(utf8.decode(body));
  } catch {
    return undefined;
  }
}

/** Whether the request carries the valid key where its route reads it (the rule `authenticated` documents). */
function carriesKey({ route, headers, json }: Seen): boolean {
  if (route === '') return false;
  const authorization = headers.get('authorization');
  if (authorization) {
    try {
      return basicAuthUser(authorization) === WRITE_KEY;
    } catch {
      return false;
    }
  }
  return route.length === 1 && isPlainObject(json) && json.writeKey === WRITE_KEY;
}

/** Whether the ingest function would validate the request's events: nothing before (method, key, media type, size, parsing) refuses it. */
function reachesValidation(request: HostileRequest): boolean {
  const { method, route, headers, json } = seen(request);
  const mediaType = headers.get('content-type')?.split(';')[0].trim().toLowerCase();
  return method === 'POST' && route !== '' && request.authenticated && [undefined, 'application/json', 'text/plain'].includes(mediaType) && json !== undefined;
}

/** What the platform's own validation makes of the request's body; a request-level refusal rejects everything. */
function outcomeOf(request: HostileRequest): Pick<IngestOutcome, 'accepted'> & { rejectedCount: number } {
  const { route, json } = seen(request);
  try {
    const { accepted, rejected } = ingestMessages(ROUTES[route], json, { receivedAt: Date.now(), sourceId: 'src_unit' });
    return { accepted, rejectedCount: rejected.length };
  } catch (error) {
    if (error instanceof RequestError) return { accepted: [], rejectedCount: 1 };
    throw error;
  }
}

/**
 * Every id-like string field in the request's bytes (JSON-unescaped), read as Latin-1 so that invalid UTF-8 does
 * not hide any; compressed bodies too large to inflate are not searched.
 */
function idsIn(request: HostileRequest): Array<{ field: string; value: string }> {
  const text = (request.raw ?? seen(request).body ?? Buffer.alloc(0)).toString('latin1');
  return [...text.matchAll(/"(messageId|userId|anonymousId|previousId|groupId)"\s*:\s*"((?:[^"\\]|\\.)*)"/g)].map(([, field, value]) => ({
    field,
    value: JSON.parse(`"${value}"`) as string,
  }));
}

function digest(list: HostileRequest[]): string {
  const hash = createHash('sha256');
  for (const r of list) {
    hash.update(JSON.stringify([r.name, r.category, r.method, r.path, r.headers, r.valid, r.authenticated]));
    hash.update(r.body ?? '').update('|').update(r.raw ?? '').update('\n');
  }
  return hash.digest('hex');
}

describe('hostileRequests', () => {
  it('makes at least 200 requests, at least 15 in every category, each named after its category', () => {
    expect(requests.length).toBeGreaterThanOrEqual(200);
    const counts = Object.fromEntries(HOSTILE_CATEGORIES.map((category) => [category, requests.filter((r) => r.category === category).length]));
    expect(Object.values(counts).every((count) => count >= 15)).toBe(true);
    expect(requests.filter((r) => !r.name.startsWith(`${r.category}/`))).toEqual([]);
    expect(new Set(requests.map((r) => r.name)).size).toBe(requests.length);
  });

  it('sends raw bytes for protocol requests only, and no body with a GET', () => {
    expect(requests.filter((r) => (r.raw !== undefined) !== (r.category === 'protocol')).map((r) => r.name)).toEqual([]);
    expect(requests.filter((r) => r.method === 'GET' && r.body !== undefined).map((r) => r.name)).toEqual([]);
  });

  it('is deterministic for a seed, and differs between seeds', () => {
    expect(digest(hostileRequests({ writeKey: WRITE_KEY, seed: 1, prefix: PREFIX }))).toBe(digest(requests));
    expect(digest(hostileRequests({ writeKey: WRITE_KEY, seed: 2, prefix: PREFIX }))).not.toBe(digest(requests));
  });

  it('starts every id with the prefix, and never repeats a messageId', () => {
    const found = requests.flatMap((r) => idsIn(r).map((id) => ({ ...id, name: r.name })));
    const valid = requests.flatMap((r) => r.valid.flatMap((event) => [event.messageId, event.userId]));
    expect(found.filter(({ value }) => value.trim() !== '' && !value.startsWith(`${PREFIX}-`)).map(({ name, field, value }) => `${name} ${field}: ${value.slice(0, 40)}`)).toEqual([]);
    expect(valid.filter((id) => !id.startsWith(`${PREFIX}-`))).toEqual([]);
    const messageIds = found.filter(({ field }) => field === 'messageId').map(({ value }) => value);
    expect(messageIds.length).toBeGreaterThan(2500);
    const counts = new Map<string, number>();
    for (const id of messageIds) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts].filter(([, count]) => count > 1)).toEqual([]);
  });

  it('says which requests carry the valid write key where their route reads it', () => {
    expect(requests.filter((r) => carriesKey(seen(r)) !== r.authenticated).map((r) => r.name)).toEqual([]);
  });

  it('lists exactly the events the platform validation accepts from requests that reach validation, and none in the others', () => {
    const listed = (r: HostileRequest) => r.valid.map((event) => event.messageId).sort();
    const accepted = (r: HostileRequest) => outcomeOf(r).accepted.map((event) => event.messageId).sort();
    const reaching = requests.filter(reachesValidation);
    expect(requests.filter((r) => !reachesValidation(r) && r.valid.length > 0).map((r) => r.name)).toEqual([]);
    expect(reaching.filter((r) => accepted(r).join() !== listed(r).join()).map((r) => r.name)).toEqual([]);
    expect(reaching.filter((r) => r.valid.length > 0).length).toBeGreaterThanOrEqual(30);
  });

  it('builds every request to be refused: one that reaches validation has something the platform rejects', () => {
    expect(requests.filter((r) => reachesValidation(r) && outcomeOf(r).rejectedCount === 0).map((r) => r.name)).toEqual([]);
  });

  it('describes each valid event as the platform accepts it: type, user and event name', () => {
    const mismatched = requests
      .filter((r) => r.valid.length > 0)
      .flatMap((r) => {
        const byId = new Map(outcomeOf(r).accepted.map((event) => [event.messageId, event]));
        return r.valid.filter((v) => {
          const event = byId.get(v.messageId);
          return event?.type !== v.type || event.userId !== v.userId || event.event !== v.event;
        });
      });
    expect(mismatched).toEqual([]);
  });
});

describe('sendRequest', () => {
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/hang-up') return void req.socket.destroy();
      req.resume();
      req.on('end', () => {
        res.writeHead(418, { 'Content-Type': 'application/json', 'X-Seen': req.headers['x-trace'] ?? '' });
        res.end(JSON.stringify({ message: `${req.method} ${req.url}` }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const base: HostileRequest = { name: 'headers/test', category: 'headers', method: 'POST', path: '/x', headers: {}, valid: [], authenticated: false };

  it('returns the status, headers and body of a fetched request', async () => {
    const response = await sendRequest(baseUrl, { ...base, headers: { 'X-Trace': 't1' }, body: Buffer.from('{}') });
    expect(response).toMatchObject({ status: 418, body: '{"message":"POST /x"}' });
    expect(response.headers['x-seen']).toBe('t1');
  });

  it('reads the final response of a raw request, after a 100 Continue', async () => {
    const raw = Buffer.from('POST /raw HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}');
    expect(await sendRequest(baseUrl, { ...base, raw })).toMatchObject({ status: 418, body: '{"message":"POST /raw"}' });
  });

  it('reports a connection closed without a response as status 0, by fetch or on a raw socket', async () => {
    expect((await sendRequest(baseUrl, { ...base, path: '/hang-up', body: Buffer.from('{}') })).status).toBe(0);
    expect((await sendRequest(baseUrl, { ...base, raw: Buffer.from('POST /hang-up HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n') })).status).toBe(0);
  });

  it('closes its side at once when a raw request announces more body than it sends, so the server stops waiting', async () => {
    const started = Date.now();
    const response = await sendRequest(baseUrl, { ...base, raw: Buffer.from('POST /short HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{}') });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(response.status).toBe(400);
  });
});
