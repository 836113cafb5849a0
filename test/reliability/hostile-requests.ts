import * as net from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import { EVENT_TYPES, EventType, LIMITS } from '../../lambdas/shared/domain/event-schema';
import { basicAuthorization as basic } from '../../local/clients';
import { mulberry32, Random } from '../../local/random';

/**
 * Malformed and hostile requests to the ingestion API (the Segment HTTP Tracking API), for the reliability suite:
 * it sends them between valid traffic and checks that each is refused with a 4xx and a reason, that nothing
 * crashes, and that the valid events some of them carry are accepted. Every request is built to be refused: where
 * a hostile detail alone is legal (a query string, a huge unrelated header, a password after the key), the body is
 * a batch with one invalid event beside valid ones, so the request still gets a 400 and its valid events must
 * still get through.
 */

export interface ValidEvent {
  messageId: string;
  userId: string;
  type: EventType;
  /** The track call's event name. */
  event?: string;
}

export const HOSTILE_CATEGORIES = ['bad-json', 'wrong-types', 'huge', 'deep', 'invalid-utf8', 'headers', 'credentials', 'protocol'] as const;
export type HostileCategory = (typeof HOSTILE_CATEGORIES)[number];

export interface HostileRequest {
  /** What makes it hostile, `<category>/<what>`: 'bad-json/truncated', 'huge/batch-over-500KB', 'protocol/header-too-large'. */
  name: string;
  category: HostileCategory;
  /** For a `raw` request, what its request line names (its headers and body are in `raw` only). */
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** For 'protocol' requests: the whole raw HTTP/1.1 request bytes, sent on a raw socket (things fetch refuses to send). */
  raw?: Buffer;
  /** Valid events carried inside this request (a batch mixing valid and invalid events): the platform must accept exactly these. Empty for most. */
  valid: ValidEvent[];
  /**
   * Whether the request carries the valid write key where its route reads it: HTTP Basic on every route, or, on a
   * one-letter route without an Authorization header, the `writeKey` of a body that decodes to a JSON object. Only
   * such a request's rejected events can be recorded in the bad-events store; one that is not authenticated must
   * leave no trace there (one that is may still be refused before its body is read, and then leaves none either).
   */
  authenticated: boolean;
}

export interface HostileOptions {
  writeKey: string;
  seed: number;
  /** Starts every id and messageId, so the suite can tell its users apart. */
  prefix: string;
}

/**
 * At least 200 requests, deterministic for a seed, spread over all categories (at least 15 per category). Every id
 * and messageId is unique per call and starts with `prefix`.
 */
export function hostileRequests(options: HostileOptions): HostileRequest[] {
  const forge = new Forge(mulberry32(options.seed), options.writeKey, options.prefix);
  return [
    ...badJson(forge),
    ...wrongTypes(forge),
    ...huge(forge),
    ...deep(forge),
    ...invalidUtf8(forge),
    ...headerAbuse(forge),
    ...credentials(forge),
    ...protocol(forge),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Building blocks

const EVENT_NAMES = ['Product Viewed', 'Product Added', 'Product Removed', 'Checkout Started', 'Order Completed', 'Products Searched'];
const PAGE_NAMES = ['Home', 'Search', 'Product', 'Cart', 'Checkout'];
const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY'];

/** A message as a client sends it. */
type Message = Record<string, unknown>;

/** Builds the requests of one call: every id comes from one counter, every random choice from one seeded PRNG. */
class Forge {
  private counter = 0;

  constructor(
    private readonly random: Random,
    readonly writeKey: string,
    private readonly prefix: string,
  ) {}

  /** A fresh id, `<prefix>-<kind><n>`: never repeated within one call. */
  id(kind: 'm' | 'u' | 'a' | 'g'): string {
    this.counter += 1;
    return `${this.prefix}-${kind}${this.counter}`;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  pick<T>(values: readonly T[]): T {
    return values[Math.floor(this.random() * values.length)];
  }

  bytes(length: number): Buffer {
    return Buffer.from(Array.from({ length }, () => Math.floor(this.random() * 256)));
  }

  /** `values` with `inserted` spliced in at random positions. */
  interleave<T>(values: T[], inserted: T[]): T[] {
    const out = [...values];
    for (const value of inserted) out.splice(this.int(0, out.length), 0, value);
    return out;
  }

  /** A valid message of `type` (random when not given), as analytics-node sends it, and its record for `valid`. */
  valid(type: EventType = this.pick(EVENT_TYPES)): { message: Message; valid: ValidEvent } {
    const messageId = this.id('m');
    const userId = this.id('u');
    const message: Message = { type, userId, messageId, ...this.fieldsOf(type) };
    return { message, valid: { messageId, userId, type, ...(type === 'track' ? { event: message.event as string } : {}) } };
  }

  /** The type-specific fields of a valid message: what a shop's tracking plan would send. */
  private fieldsOf(type: EventType): Message {
    switch (type) {
      case 'track':
        return { event: this.pick(EVENT_NAMES), properties: { product_id: `sku-${this.int(1, 9999)}`, price: this.int(100, 99999) / 100, currency: this.pick(CURRENCIES) } };
      case 'page':
      case 'screen':
        return { name: this.pick(PAGE_NAMES), properties: { path: `/${this.pick(PAGE_NAMES).toLowerCase()}` } };
      case 'identify':
        return { traits: { plan: this.pick(['free', 'pro', 'team']), logins: this.int(1, 500) } };
      case 'group':
        return { groupId: this.id('g'), traits: { employees: this.int(1, 5000) } };
      case 'alias':
        return { previousId: this.id('a') };
    }
  }

  /** A track message with fresh ids, `fields` replacing or adding to its own: the base of an invalid event. */
  track(fields: Message = {}): Message {
    return { type: 'track', event: this.pick(EVENT_NAMES), userId: this.id('u'), messageId: this.id('m'), ...fields };
  }

  /** `invalid` entries spliced at random positions into a batch of 1 to 5 valid events. */
  mixed(invalid: unknown[]): { batch: unknown[]; valid: ValidEvent[] } {
    const events = Array.from({ length: this.int(1, 5) }, () => this.valid());
    return { batch: this.interleave<unknown>(events.map((e) => e.message), invalid), valid: events.map((e) => e.valid) };
  }
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** `leaf` wrapped in `depth` levels: objects of one key, or arrays of one element. */
function nested(depth: number, leaf: unknown, as: 'object' | 'array' = 'object'): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = as === 'object' ? { n: value } : [value];
  return value;
}

/** JSON text of `depth` nested arrays around a number, built as text: `JSON.stringify` would overflow the stack. */
const deepArrayText = (depth: number): string => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

/** The headers of a server-side caller (analytics-node): JSON, the write key as the HTTP Basic user name. */
function serverHeaders(writeKey: string): Record<string, string> {
  return { 'Content-Type': 'application/json', Authorization: basic(writeKey) };
}

type Draft = Pick<HostileRequest, 'name'> & Partial<Omit<HostileRequest, 'name' | 'category'>>;

/**
 * A POST with the valid key over HTTP Basic on `/v1/batch` unless the draft says otherwise; `authenticated`
 * follows the default headers only when the draft keeps them.
 */
function post(forge: Forge, category: HostileCategory, draft: Draft): HostileRequest {
  return {
    method: 'POST',
    path: '/v1/batch',
    headers: serverHeaders(forge.writeKey),
    valid: [],
    authenticated: draft.headers === undefined,
    ...draft,
    name: `${category}/${draft.name}`,
    category,
  };
}

/** A batch of valid events with `invalid` among them: a 400 whose valid events are accepted. */
function mixedPost(forge: Forge, category: HostileCategory, name: string, invalid: unknown[], draft: Partial<Draft> = {}): HostileRequest {
  const { batch, valid } = forge.mixed(invalid);
  return post(forge, category, { name, body: json({ batch }), valid, ...draft });
}

/** Raw HTTP/1.1 request bytes: the request line and header lines as given (CRLF), a blank line, the body. */
function rawHttp(head: string[], body: Buffer | string = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1')]);
}

// ---------------------------------------------------------------------------------------------------------------
// Categories

/** Bodies that are not JSON, or JSON that is not an ingestion request, or JSON whose parse is a trap. */
function badJson(forge: Forge): HostileRequest[] {
  const request = (name: string, body: string | Buffer, draft: Partial<Draft> = {}) =>
    post(forge, 'bad-json', { name, body: Buffer.isBuffer(body) ? body : Buffer.from(body), ...draft });
  const batchText = () => JSON.stringify({ batch: forge.mixed([]).batch });
  const eventText = () => JSON.stringify(forge.track());
  const truncated = batchText();
  const protoTrick = forge.valid('track');
  const bigNumber = forge.valid('track');
  return [
    request('truncated', truncated.slice(0, forge.int(10, truncated.length - 2))),
    request('truncated-after-colon', `{"batch":[{"type":"track","messageId":"${forge.id('m')}","userId":`),
    request('unterminated-string', `{"batch":[{"type":"track","event":"Order Completed,"userId":"${forge.id('u')}"}]}`),
    request('trailing-garbage', `${batchText()} trailing`),
    request('trailing-comma', `${eventText().slice(0, -1)},}`, { path: '/v1/track' }),
    request('single-quotes', eventText().replace(/"/g, "'"), { path: '/v1/track' }),
    request('unquoted-keys', eventText().replace(/"(\w+)":/g, '$1:'), { path: '/v1/track' }),
    request('nan', `${eventText().slice(0, -1)},"properties":{"price":NaN}}`, { path: '/v1/track' }),
    request('infinity', `${eventText().slice(0, -1)},"properties":{"price":-Infinity}}`, { path: '/v1/track' }),
    request('line-comment', `// analytics\n${eventText()}`, { path: '/v1/track' }),
    request('block-comment', `{"batch":[/* none */${eventText()}]}`),
    request('hex-number', `${eventText().slice(0, -1)},"properties":{"quantity":0x1F}}`, { path: '/v1/track' }),
    request('leading-zeros', `${eventText().slice(0, -1)},"properties":{"quantity":007}}`, { path: '/v1/track' }),
    request('raw-control-character', `${eventText().slice(0, -1)},"properties":{"note":"line\nbreak\ttab"}}`, { path: '/v1/track' }),
    request('invalid-escape', `${eventText().slice(0, -1)},"properties":{"note":"\\x41\\u12"}}`, { path: '/v1/track' }),
    request('empty-body', Buffer.alloc(0)),
    request('whitespace-only', ' \n\t\r\n '),
    request('null', 'null'),
    request('bare-string', '"track"', { path: '/v1/track' }),
    request('bare-number', '42', { path: '/v1/identify' }),
    request('bare-true', 'true', { path: '/v1/page' }),
    request('bare-array-of-events', `[${eventText()},${eventText()}]`),
    request('double-encoded', JSON.stringify(batchText())),
    request('ndjson', `${eventText()}\n${eventText()}\n`, { path: '/v1/track' }),
    request('bom-then-garbage', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('garbage')])),
    request('two-boms', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]), Buffer.from(batchText())])),
    request('random-bytes', forge.bytes(forge.int(256, 2048)), { path: '/v1/t' }),
    // The last of duplicate keys wins: here `batch` ends up a string, so the events of the first `batch` must not be accepted.
    request('duplicate-batch-key', `{"batch":${JSON.stringify(forge.mixed([]).batch)},"batch":"none"}`),
    // An own `__proto__` key (JSON.parse makes it a plain property) must neither pollute nor break anything.
    request('proto-key-holding-batch', `{"__proto__":${batchText()}}`),
    duplicateKeyBatch(forge),
    {
      ...request(
        'proto-key-and-1e999-in-valid-events',
        `{"batch":[${JSON.stringify(protoTrick.message).slice(0, -1)},"properties":{"__proto__":{"admin":true},"constructor":"x","toString":"y"}},` +
          `${JSON.stringify(bigNumber.message).slice(0, -1)},"properties":{"price":1e999,"quantity":-1e-999}},${JSON.stringify(forge.track({ event: 7 }))}]}`,
      ),
      valid: [protoTrick.valid, bigNumber.valid],
    },
    request('not-json-on-one-letter-route-with-header-key', `writeKey=${forge.writeKey}&event=Order+Completed`, {
      path: '/v1/t',
      headers: { 'Content-Type': 'text/plain', Authorization: basic(forge.writeKey) },
      authenticated: true,
    }),
  ];
}

/**
 * A batch whose events repeat keys: the last value counts, so an event whose last `type` is unknown is rejected
 * and one whose last `userId` is a string is accepted, whatever came first.
 */
function duplicateKeyBatch(forge: Forge): HostileRequest {
  const lastWins = forge.valid('track');
  const { userId, ...rest } = lastWins.message;
  const accepted = `${JSON.stringify({ userId: { id: 1 }, ...rest }).slice(0, -1)},"userId":${JSON.stringify(userId)}}`;
  const rejected = `${JSON.stringify(forge.track()).slice(0, -1)},"type":"purchase"}`;
  const { batch, valid } = forge.mixed([]);
  const entries = forge.interleave([...batch.map((m) => JSON.stringify(m)), accepted], [rejected]);
  return post(forge, 'bad-json', { name: 'duplicate-keys-last-wins', body: Buffer.from(`{"batch":[${entries.join(',')}]}`), valid: [...valid, lastWins.valid] });
}

/** Well-formed JSON with fields of the wrong type or out of range, alone or inside batches beside valid events. */
function wrongTypes(forge: Forge): HostileRequest[] {
  const single = (name: string, path: string, fields: Message) => post(forge, 'wrong-types', { name, path, body: json(forge.track(fields)) });
  const inBatch = (name: string, ...invalid: unknown[]) => mixedPost(forge, 'wrong-types', name, invalid);
  const identify = (fields: Message) => ({ type: 'identify', userId: forge.id('u'), messageId: forge.id('m'), ...fields });
  return [
    single('userId-object', '/v1/track', { userId: { id: forge.id('u') } }),
    single('userId-array', '/v1/identify', { userId: [forge.id('u')] }),
    single('userId-boolean', '/v1/page', { userId: true }),
    single('userId-empty-string', '/v1/track', { userId: '' }),
    single('userId-over-256-chars', '/v1/track', { userId: `${forge.id('u')}-${'x'.repeat(LIMITS.maxIdLength)}` }),
    single('anonymousId-object-without-userId', '/v1/screen', { userId: undefined, anonymousId: { device: 1 } }),
    single('event-number', '/v1/track', { event: 404 }),
    single('event-blank', '/v1/track', { event: '   ' }),
    single('event-over-200-chars', '/v1/track', { event: 'Order Completed '.repeat(20) }),
    single('properties-string', '/v1/track', { properties: 'price=10' }),
    single('properties-array', '/v1/track', { properties: [{ price: 10 }] }),
    single('traits-array', '/v1/identify', { traits: ['vip'] }),
    single('context-string', '/v1/track', { context: 'ios' }),
    single('timestamp-garbage', '/v1/track', { timestamp: 'yesterday' }),
    single('timestamp-far-future', '/v1/track', { timestamp: '2999-01-01T00:00:00.000Z' }),
    single('timestamp-before-2000', '/v1/track', { timestamp: '1970-01-01T00:00:00.000Z' }),
    single('timestamp-number', '/v1/track', { timestamp: 1714550400000 }),
    single('timestamp-31-february', '/v1/track', { timestamp: '2024-02-31T10:00:00Z' }),
    single('messageId-object', '/v1/track', { messageId: { id: forge.id('m') } }),
    single('group-without-groupId', '/v1/group', {}),
    single('alias-without-previousId', '/v1/alias', {}),
    post(forge, 'wrong-types', { name: 'batch-not-an-array', body: json({ batch: forge.mixed([]).batch[0] }) }),
    post(forge, 'wrong-types', { name: 'batch-string', body: json({ batch: JSON.stringify(forge.mixed([]).batch) }) }),
    post(forge, 'wrong-types', { name: 'batch-empty', body: json({ batch: [] }) }),
    post(forge, 'wrong-types', { name: 'batch-missing', body: json({ events: forge.mixed([]).batch }) }),
    // A batch-level sentAt applies to every event without its own: all of them are rejected.
    post(forge, 'wrong-types', { name: 'batch-sentAt-garbage', body: json({ batch: forge.mixed([]).batch, sentAt: 'now' }) }),
    inBatch('batch-entries-not-objects', null, 42, 'track', [], true),
    inBatch('type-unknown', forge.track({ type: 'purchase' })),
    inBatch('type-upper-case', forge.track({ type: 'TRACK' })),
    inBatch('type-missing', forge.track({ type: undefined })),
    inBatch('userId-whitespace', forge.track({ userId: '   ' })),
    inBatch('messageId-over-256-chars', forge.track({ messageId: `${forge.id('m')}-${'x'.repeat(300)}` })),
    inBatch('properties-null', forge.track({ properties: null })),
    inBatch('event-null', forge.track({ event: null })),
    inBatch('timestamp-offset-plus-15h', forge.track({ timestamp: '2024-05-01T12:00:00+15:00' })),
    inBatch('integrations-array', forge.track({ integrations: ['All'] })),
    inBatch('traits-number', identify({ traits: 3 })),
    inBatch('groupId-object', { type: 'group', userId: forge.id('u'), messageId: forge.id('m'), groupId: { id: forge.id('g') } }),
  ];
}

/** Events and bodies past Segment's limits (32 KB per event, 500 KB per batch, API Gateway's 10 MB), and some just within them. */
function huge(forge: Forge): HostileRequest[] {
  const request = (name: string, draft: Partial<Draft>) => post(forge, 'huge', { name, ...draft });
  const padded = (bytes: number) => forge.track({ properties: { description: 'x'.repeat(bytes) } });
  const wholeBatch = (count: number) => ({ batch: Array.from({ length: count }, () => forge.track({ properties: { note: 'y'.repeat(200) } })) });
  return [
    request('event-over-32KB', { path: '/v1/track', body: json(padded(40 * 1024)) }),
    request('userId-40KB', { path: '/v1/identify', body: json(forge.track({ type: 'identify', userId: `${forge.id('u')}${'u'.repeat(40 * 1024)}` })) }),
    request('properties-5000-keys', { path: '/v1/track', body: json(forge.track({ properties: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])) })) }),
    mixedPost(forge, 'huge', 'batch-with-one-event-over-32KB', [padded(36 * 1024)]),
    eventSizeBoundary(forge),
    batchSizeBoundary(forge, LIMITS.maxBatchBytes, 'batch-exactly-500KB'),
    { ...batchSizeBoundary(forge, LIMITS.maxBatchBytes + 1, 'batch-500KB-plus-1-byte'), valid: [] },
    request('batch-over-500KB', { body: json(wholeBatch(2500)) }),
    request('whitespace-padding-2MB', { path: '/v1/track', body: Buffer.concat([json(forge.track()), Buffer.alloc(2 * 1024 * 1024, 0x20)]) }),
    request('body-9MB', { body: json({ batch: [padded(9 * 1024 * 1024)] }) }),
    request('body-11MB-over-api-gateway-limit', { body: json({ batch: [padded(11 * 1024 * 1024)] }) }),
    request('gzip-bomb-100MB', {
      body: gzipBomb(forge.track(), 100),
      headers: { ...serverHeaders(forge.writeKey), 'Content-Encoding': 'gzip' },
      authenticated: true,
    }),
    request('deflate-bomb-10MB', {
      body: deflateSync(Buffer.concat([Buffer.from('{"batch":['), Buffer.alloc(10 * 1024 * 1024, '{},'), Buffer.from('{}]}')]), { level: 9 }),
      headers: { ...serverHeaders(forge.writeKey), 'Content-Encoding': 'deflate' },
      authenticated: true,
    }),
    request('gzip-inside-gzip', {
      body: gzipSync(gzipSync(json({ batch: forge.mixed([]).batch }))),
      headers: { ...serverHeaders(forge.writeKey), 'Content-Encoding': 'gzip' },
      authenticated: true,
    }),
    gzippedMixedBatch(forge),
    tinyEventsBatch(forge),
    // Each entry is rejected on its own: 250 KB make 50,000 rejections to report and to record as bad events.
    request('batch-50000-nulls', { body: Buffer.from(`{"batch":[${Array(50_000).fill('null').join(',')}]}`) }),
  ];
}

/**
 * A gzip body of about 100 KB that inflates to `megabytes` MB: `message` with a `properties.description` of that
 * size. Made of gzip members (a decoder reads them one after another, RFC 1952), the 1 MB middle one compressed once
 * and repeated, so building it costs no more than compressing 1 MB.
 */
function gzipBomb(message: Message, megabytes: number): Buffer {
  const [head, tail] = JSON.stringify({ batch: [{ ...message, properties: { description: '\u0000' } }] }).split('\\u0000');
  const megabyte = gzipSync(Buffer.alloc(1024 * 1024, 'x'), { level: 9 });
  return Buffer.concat([gzipSync(head), ...Array<Buffer>(megabytes).fill(megabyte), gzipSync(tail)]);
}

/** Two events in one batch, one of exactly 32 KB (the limit: valid) and one a byte over it, beside valid events. */
function eventSizeBoundary(forge: Forge): HostileRequest {
  const sized = (bytes: number, event: Message) => {
    const properties = { description: '' };
    const message = { ...event, properties };
    properties.description = 'z'.repeat(bytes - Buffer.byteLength(JSON.stringify(message)));
    return message;
  };
  const atLimit = forge.valid('track');
  const { batch, valid } = forge.mixed([sized(LIMITS.maxEventBytes + 1, forge.track())]);
  const body = json({ batch: forge.interleave(batch, [sized(LIMITS.maxEventBytes, atLimit.message)]) });
  return post(forge, 'huge', { name: 'batch-events-of-32768-and-32769-bytes', body, valid: [...valid, atLimit.valid] });
}

/**
 * A batch body of exactly `bytes` bytes: about 30 KB valid events and one invalid event, padded with a top-level
 * field the platform ignores. Its valid events are accepted when it is within the limit.
 */
function batchSizeBoundary(forge: Forge, bytes: number, name: string): HostileRequest {
  const events = Array.from({ length: 15 }, () => {
    const event = forge.valid('track');
    (event.message.properties as Message).description = 'w'.repeat(30 * 1024);
    return event;
  });
  const batch = forge.interleave(
    events.map((e) => e.message),
    [forge.track({ event: '' })],
  );
  const body = { batch, padding: '' };
  body.padding = 'p'.repeat(bytes - Buffer.byteLength(JSON.stringify(body)));
  return post(forge, 'huge', { name, body: json(body), valid: events.map((e) => e.valid) });
}

/** A gzip body that inflates to about 450 KB: a legal size, compressed about a hundredfold; its valid events are accepted. */
function gzippedMixedBatch(forge: Forge): HostileRequest {
  const events = Array.from({ length: 15 }, () => {
    const event = forge.valid('track');
    (event.message.properties as Message).description = 'g'.repeat(29 * 1024);
    return event;
  });
  const batch = forge.interleave(
    events.map((e) => e.message),
    [forge.track({ properties: 'none' })],
  );
  return post(forge, 'huge', {
    name: 'gzip-inflating-to-450KB',
    body: gzipSync(json({ batch })),
    headers: { ...serverHeaders(forge.writeKey), 'Content-Encoding': 'gzip' },
    authenticated: true,
    valid: events.map((e) => e.valid),
  });
}

/** As many tiny events as a batch may carry (`LIMITS.maxBatchEvents`): all valid but one, so thousands must be accepted from a single request. */
function tinyEventsBatch(forge: Forge): HostileRequest {
  const events = Array.from({ length: LIMITS.maxBatchEvents - 1 }, () => {
    const messageId = forge.id('m');
    const userId = forge.id('u');
    return { message: { type: 'track', event: 'Tap', userId, messageId }, valid: { messageId, userId, type: 'track' as const, event: 'Tap' } };
  });
  const batch = forge.interleave<unknown>(
    events.map((e) => e.message),
    [{ type: 'track', event: 'Tap', messageId: forge.id('m') }],
  );
  return post(forge, 'huge', { name: 'batch-full-of-tiny-events-one-invalid', body: json({ batch }), valid: events.map((e) => e.valid) });
}

/** Nesting past the 32 levels an event may have: just past it, far past it (stack-overflow territory), and right at it. */
function deep(forge: Forge): HostileRequest[] {
  const request = (name: string, draft: Partial<Draft>) => post(forge, 'deep', { name, ...draft });
  /** A track event whose `field` holds `text` (a JSON value built as text, too deep for JSON.stringify). */
  const withText = (field: string, text: string, fields: Message = {}) => Buffer.from(`${JSON.stringify(forge.track(fields)).slice(0, -1)},${JSON.stringify(field)}:${text}}`);
  const deepObjectText = (depth: number) => `${'{"n":'.repeat(depth)}1${'}'.repeat(depth)}`;
  return [
    request('properties-depth-33', { path: '/v1/track', body: json(forge.track({ properties: nested(33, 1) })) }),
    request('properties-depth-100', { path: '/v1/track', body: json(forge.track({ properties: nested(100, 'leaf') })) }),
    request('traits-depth-1000', { path: '/v1/identify', body: withText('traits', deepObjectText(1000), { type: 'identify' }) }),
    request('context-depth-5000', { path: '/v1/page', body: withText('context', deepObjectText(5000), { type: 'page' }) }),
    request('properties-depth-50000-objects', { path: '/v1/track', body: withText('properties', deepObjectText(50_000)) }),
    request('properties-arrays-depth-100000', { path: '/v1/track', body: withText('properties', `{"list":${deepArrayText(100_000)}}`) }),
    request('properties-arrays-depth-40', { path: '/v1/track', body: json(forge.track({ properties: { list: nested(40, 1, 'array') } })) }),
    request('unknown-field-depth-200', { path: '/v1/screen', body: json(forge.track({ type: 'screen', extra: nested(200, null) })) }),
    request('wide-and-deep-properties', { path: '/v1/track', body: json(forge.track({ properties: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`branch${i}`, nested(40, i)])) })) }),
    request('body-arrays-depth-100000', { body: Buffer.from(deepArrayText(100_000)) }),
    request('body-objects-depth-80000', { body: Buffer.from(deepObjectText(80_000)) }),
    // The batch-level context is merged into every event: all of them are too deep.
    request('batch-context-depth-5000', { body: Buffer.from(`{"batch":${JSON.stringify(forge.mixed([]).batch)},"context":${deepObjectText(5000)}}`) }),
    depthBoundary(forge),
    mixedPost(forge, 'deep', 'batch-with-one-event-depth-1000', [forge.track({ properties: nested(1000, 1) })]),
    request('group-traits-depth-64', { path: '/v1/group', body: json(forge.track({ type: 'group', groupId: forge.id('g'), traits: nested(64, 1) })) }),
    request('gzip-properties-arrays-depth-200000', {
      path: '/v1/track',
      body: gzipSync(withText('properties', `{"list":${deepArrayText(200_000)}}`)),
      headers: { ...serverHeaders(forge.writeKey), 'Content-Encoding': 'gzip' },
      authenticated: true,
    }),
    request('one-letter-route-body-key-depth-5000', {
      path: '/v1/t',
      body: withText('properties', deepObjectText(5000), { writeKey: forge.writeKey }),
      headers: { 'Content-Type': 'text/plain' },
      authenticated: true,
    }),
  ];
}

/** One event nested exactly 32 levels deep (valid) and one 33 (rejected), beside valid events. */
function depthBoundary(forge: Forge): HostileRequest {
  // The event object is level 1: properties nested 31 deep make 32.
  const atLimit = forge.valid('track');
  atLimit.message.properties = nested(LIMITS.maxEventDepth - 1, 'leaf');
  const { batch, valid } = forge.mixed([forge.track({ properties: nested(LIMITS.maxEventDepth, 'leaf') })]);
  return post(forge, 'deep', { name: 'batch-events-of-depth-32-and-33', body: json({ batch: forge.interleave(batch, [atLimit.message]) }), valid: [...valid, atLimit.valid] });
}

/** Byte sequences that are not UTF-8 (RFC 3629), each one placed inside a string of otherwise valid JSON. */
const INVALID_UTF8: Array<[string, number[]]> = [
  ['byte-ff', [0xff]],
  ['byte-fe', [0xfe]],
  ['lone-continuation-byte', [0x80]],
  ['overlong-slash-c0-af', [0xc0, 0xaf]],
  ['overlong-nul-c0-80', [0xc0, 0x80]],
  ['overlong-3-byte', [0xe0, 0x80, 0xaf]],
  ['overlong-4-byte', [0xf0, 0x80, 0x80, 0xaf]],
  ['lone-high-surrogate', [0xed, 0xa0, 0x80]],
  ['lone-low-surrogate', [0xed, 0xbf, 0xbf]],
  ['cesu-8-surrogate-pair', [0xed, 0xa0, 0xbd, 0xed, 0xb2, 0xa9]],
  ['truncated-2-byte', [0xc3]],
  ['truncated-3-byte', [0xe2, 0x82]],
  ['truncated-4-byte', [0xf0, 0x9f, 0x98]],
  ['above-u10ffff', [0xf4, 0x90, 0x80, 0x80]],
  ['five-byte-sequence', [0xf8, 0x88, 0x80, 0x80, 0x80]],
  ['latin-1-e-acute', [0x63, 0x61, 0x66, 0xe9]],
];

function invalidUtf8(forge: Forge): HostileRequest[] {
  /** A body whose `field` string ends with ` caf<bytes>!` after its own value. */
  const withBytes = (message: Message, field: string, bytes: number[]) => {
    const [before, after] = JSON.stringify({ ...message, [field]: `${String(message[field])} caf\u0000` }).split('\\u0000');
    return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from('!'), Buffer.from(after)]);
  };
  const placed = INVALID_UTF8.map(([name, bytes], i) => {
    const field = i % 3 === 0 ? 'userId' : 'event';
    const event = withBytes(forge.track(), field, bytes);
    const batch = i % 4 < 2;
    return post(forge, 'invalid-utf8', {
      name: `${name}-in-${field}`,
      path: batch ? '/v1/batch' : '/v1/track',
      headers: { ...serverHeaders(forge.writeKey), 'Content-Type': i % 2 === 0 ? 'application/json' : 'text/plain; charset=utf-8' },
      authenticated: true,
      body: batch ? Buffer.concat([Buffer.from('{"batch":['), event, Buffer.from(']}')]) : event,
    });
  });
  return [
    ...placed,
    post(forge, 'invalid-utf8', {
      name: 'in-key-name',
      path: '/v1/identify',
      body: Buffer.concat([Buffer.from(`{"userId":"${forge.id('u')}","messageId":"${forge.id('m')}","traits":{"`), Buffer.from([0xc0, 0xaf]), Buffer.from('":1}}')]),
    }),
    post(forge, 'invalid-utf8', {
      name: 'truncated-multibyte-at-end-of-body',
      path: '/v1/track',
      body: Buffer.concat([json(forge.track()), Buffer.from([0xe2, 0x82])]),
    }),
    post(forge, 'invalid-utf8', {
      name: 'utf-16le-body-with-bom',
      path: '/v1/track',
      headers: { ...serverHeaders(forge.writeKey), 'Content-Type': 'application/json; charset=utf-16' },
      authenticated: true,
      body: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify(forge.track()), 'utf16le')]),
    }),
    post(forge, 'invalid-utf8', {
      name: 'declared-iso-8859-1',
      path: '/v1/track',
      headers: { ...serverHeaders(forge.writeKey), 'Content-Type': 'text/plain; charset=iso-8859-1' },
      authenticated: true,
      body: Buffer.from(JSON.stringify(forge.track({ properties: { city: 'Zürich' } })), 'latin1'),
    }),
    post(forge, 'invalid-utf8', {
      name: 'gzip-of-invalid-utf8',
      headers: { ...serverHeaders(forge.writeKey), 'Content-Encoding': 'gzip' },
      authenticated: true,
      body: gzipSync(Buffer.concat([Buffer.from('{"batch":['), withBytes(forge.track(), 'event', [0xed, 0xa0, 0x80]), Buffer.from(']}')])),
    }),
    // The key is valid, but a body that is not UTF-8 is refused before its key is read.
    post(forge, 'invalid-utf8', {
      name: 'one-letter-route-body-key',
      path: '/v1/t',
      headers: { 'Content-Type': 'text/plain' },
      body: withBytes(forge.track({ writeKey: forge.writeKey }), 'event', [0xff, 0xfe]),
    }),
    escapedSurrogates(forge),
  ];
}

/** Escaped, lone surrogates are valid JSON and valid UTF-8: an event holding them is accepted (beside an invalid one). */
function escapedSurrogates(forge: Forge): HostileRequest {
  const escaped = forge.valid('track');
  escaped.message.properties = { lone: '\ud800', nul: '\u0000', reversedPair: '\udc00\ud800' };
  const { batch, valid } = forge.mixed([forge.track({ userId: null })]);
  return post(forge, 'invalid-utf8', { name: 'escaped-lone-surrogates-in-valid-event', body: json({ batch: forge.interleave(batch, [escaped.message]) }), valid: [...valid, escaped.valid] });
}

/** Media types, encodings, methods, routes, query strings and header values the API must refuse or see through. */
function headerAbuse(forge: Forge): HostileRequest[] {
  const keyed = (extra: Record<string, string>) => ({ ...serverHeaders(forge.writeKey), ...extra });
  const request = (name: string, draft: Partial<Draft>) => post(forge, 'headers', { name, body: json({ batch: forge.mixed([]).batch }), ...draft });
  const authed = (name: string, headers: Record<string, string>, draft: Partial<Draft> = {}) => request(name, { headers, authenticated: true, ...draft });
  const mixed = (name: string, draft: Partial<Draft>) => mixedPost(forge, 'headers', name, [forge.track({ event: '' })], draft);
  const compressed = (encoding: 'gzip' | 'deflate') => {
    const plain = mixed(`content-encoding-${encoding}-valid`, { headers: keyed({ 'Content-Encoding': encoding }), authenticated: true });
    return { ...plain, body: (encoding === 'gzip' ? gzipSync : deflateSync)(plain.body as Buffer) };
  };
  const boundary = `----hostile${forge.int(100000, 999999)}`;
  return [
    authed('content-type-text-html', keyed({ 'Content-Type': 'text/html' })),
    authed('content-type-multipart-form-data', keyed({ 'Content-Type': `multipart/form-data; boundary=${boundary}` }), {
      body: Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="batch"\r\n\r\n${JSON.stringify({ batch: forge.mixed([]).batch })}\r\n--${boundary}--\r\n`),
    }),
    authed('content-type-form-urlencoded', keyed({ 'Content-Type': 'application/x-www-form-urlencoded' }), {
      body: Buffer.from(`data=${encodeURIComponent(JSON.stringify(forge.track()))}`),
    }),
    authed('content-type-list', keyed({ 'Content-Type': 'application/json, text/html' })),
    authed('content-type-application-jsonx', keyed({ 'Content-Type': 'application/jsonx' })),
    authed('content-type-empty-media-type', keyed({ 'Content-Type': '; charset=utf-8' })),
    // Without a Content-Type the body is read as JSON: the batch's valid events are accepted.
    mixed('content-type-absent', { headers: { Authorization: basic(forge.writeKey) }, authenticated: true }),
    mixed('content-type-12KB-parameter', { headers: keyed({ 'Content-Type': `application/json; x-padding=${'p'.repeat(12 * 1024)}` }), authenticated: true }),
    authed('content-encoding-gzip-not-gzip', keyed({ 'Content-Encoding': 'gzip' })),
    authed('content-encoding-deflate-of-gzip-data', keyed({ 'Content-Encoding': 'deflate' }), { body: gzipSync(json({ batch: forge.mixed([]).batch })) }),
    authed('content-encoding-gzip-truncated', keyed({ 'Content-Encoding': 'gzip' }), { body: gzipSync(json({ batch: forge.mixed([]).batch })).subarray(0, 40) }),
    authed('content-encoding-gzip-empty-body', keyed({ 'Content-Encoding': 'gzip' }), { body: Buffer.alloc(0) }),
    authed('content-encoding-br', keyed({ 'Content-Encoding': 'br' })),
    authed('content-encoding-compress', keyed({ 'Content-Encoding': 'compress' })),
    authed('content-encoding-gzip-then-br', keyed({ 'Content-Encoding': 'gzip, br' }), { body: gzipSync(json({ batch: forge.mixed([]).batch })) }),
    compressed('gzip'),
    compressed('deflate'),
    request('authorization-12KB', { headers: { 'Content-Type': 'application/json', Authorization: `Basic ${forge.bytes(9 * 1024).toString('base64')}` } }),
    mixed('unrelated-header-12KB', { headers: keyed({ 'X-Padding': 'h'.repeat(12 * 1024) }), authenticated: true }),
    // fetch joins repeated headers with ", ": the result is no Basic credential at all.
    request('authorization-duplicated', { headers: { 'Content-Type': 'application/json', Authorization: `${basic(forge.writeKey)}, ${basic('wrong-key')}` } }),
    request('authorization-bad-base64', { headers: { 'Content-Type': 'application/json', Authorization: 'Basic %%%not*base64%%%' } }),
    request('authorization-bearer', { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${forge.writeKey}` } }),
    request('authorization-scheme-only', { headers: { 'Content-Type': 'application/json', Authorization: 'Basic' } }),
    request('get-on-track', { method: 'GET', path: '/v1/track', body: undefined, headers: serverHeaders(forge.writeKey), authenticated: true }),
    request('delete-on-batch', { method: 'DELETE', headers: serverHeaders(forge.writeKey), authenticated: true }),
    request('put-on-one-letter-route', { method: 'PUT', path: '/v1/t', headers: serverHeaders(forge.writeKey), authenticated: true }),
    request('patch-on-identify', { method: 'PATCH', path: '/v1/identify', headers: serverHeaders(forge.writeKey), authenticated: true }),
    request('unknown-route-v1-tracks', { path: '/v1/tracks', headers: serverHeaders(forge.writeKey), authenticated: false }),
    request('unknown-route-v2-batch', { path: '/v2/batch', headers: serverHeaders(forge.writeKey), authenticated: false }),
    request('route-upper-case', { path: '/v1/BATCH', headers: serverHeaders(forge.writeKey), authenticated: false }),
    request('route-percent-encoded', { path: '/v1/%62atch', headers: serverHeaders(forge.writeKey), authenticated: false }),
    request('route-with-extra-segment', { path: '/v1/batch/extra', headers: serverHeaders(forge.writeKey), authenticated: false }),
    request('one-letter-route-key-in-query-only', { path: `/v1/b?writeKey=${encodeURIComponent(forge.writeKey)}`, headers: { 'Content-Type': 'application/json' } }),
    mixed('query-string-8KB', { path: `/v1/batch?${Array.from({ length: 800 }, (_, i) => `k${i}=v${i}`).join('&')}` }),
    mixed('query-string-malformed-and-repeated', { path: '/v1/batch?writeKey=wrong&writeKey=&%ZZ=%&a[b][c]=1&=empty-name&&' }),
    // Names that are also Object.prototype's: a map of them kept in a plain object finds the prototype's member instead.
    mixed('query-string-constructor-key', { path: '/v1/batch?constructor=x' }),
    mixed('query-string-proto-key', { path: '/v1/batch?__proto__=x' }),
    mixed('header-named-constructor', { headers: keyed({ constructor: 'x' }), authenticated: true }),
    mixed('method-override-header', { headers: keyed({ 'X-HTTP-Method-Override': 'DELETE', 'X-Forwarded-For': '127.0.0.1, 10.0.0.1' }), authenticated: true }),
  ];
}

/** Missing, wrong and misplaced write keys, on the Basic-authorized routes and on the one-letter routes that read the key from the body. */
function credentials(forge: Forge): HostileRequest[] {
  const jsonType = { 'Content-Type': 'application/json' };
  const withKey = (authorization: string, path = '/v1/batch') => ({ path, headers: { ...jsonType, Authorization: authorization } });
  const request = (name: string, draft: Partial<Draft>) => post(forge, 'credentials', { name, body: json({ batch: forge.mixed([]).batch }), ...draft });
  /** A one-letter route's body: a mixed batch with `writeKey` set to `key` (or without one for undefined). */
  const bodyKey = (name: string, key: unknown, draft: Partial<Draft> = {}) => {
    const { batch, valid } = forge.mixed([forge.track({ userId: undefined })]);
    const authenticated = key === forge.writeKey;
    return request(name, { path: '/v1/b', headers: { 'Content-Type': 'text/plain' }, body: json({ ...(key === undefined ? {} : { writeKey: key }), batch }), valid: authenticated ? valid : [], authenticated, ...draft });
  };
  const keyWithPassword = forge.mixed([forge.track({ event: 12 })]);
  return [
    request('no-key', { headers: jsonType }),
    request('wrong-key', withKey(basic(`${forge.writeKey}-wrong`))),
    request('empty-key', withKey(basic(''))),
    request('empty-authorization-header', withKey('')),
    request('key-upper-case', withKey(basic(forge.writeKey.toUpperCase() === forge.writeKey ? forge.writeKey.toLowerCase() : forge.writeKey.toUpperCase()))),
    request('key-with-trailing-space', withKey(basic(`${forge.writeKey} `))),
    request('key-with-trailing-newline', withKey(basic(`${forge.writeKey}\n`))),
    request('key-with-nul', withKey(basic(`${forge.writeKey}\u0000`))),
    request('key-as-password', withKey(basic('', forge.writeKey))),
    request('key-after-another-colon', withKey(basic(`x:${forge.writeKey}`))),
    request('key-10KB', withKey(basic('k'.repeat(10 * 1024)))),
    request('key-proto', withKey(basic('__proto__'))),
    request('key-in-body-on-basic-route', { path: '/v1/batch', headers: jsonType, body: json({ writeKey: forge.writeKey, batch: forge.mixed([]).batch }) }),
    // Segment ignores the password: the key is valid, and the batch's valid events are accepted.
    request('key-with-password', { ...withKey(basic(forge.writeKey, 'hunter2')), body: json({ batch: keyWithPassword.batch }), valid: keyWithPassword.valid, authenticated: true }),
    bodyKey('one-letter-body-key-wrong', `${forge.writeKey}x`),
    bodyKey('one-letter-body-key-absent', undefined),
    bodyKey('one-letter-body-key-empty', ''),
    bodyKey('one-letter-body-key-number', 12345),
    bodyKey('one-letter-body-key-array', [forge.writeKey]),
    bodyKey('one-letter-body-key-object', { key: forge.writeKey }),
    bodyKey('one-letter-body-key-padded', ` ${forge.writeKey} `),
    bodyKey('one-letter-body-key-valid-with-invalid-event', forge.writeKey),
    bodyKey('one-letter-wrong-header-valid-body-key', forge.writeKey, { headers: { 'Content-Type': 'text/plain', Authorization: basic('wrong-key') }, valid: [], authenticated: false }),
    request('one-letter-body-key-only-inside-events', {
      path: '/v1/b',
      headers: { 'Content-Type': 'text/plain' },
      body: json({ batch: forge.mixed([]).batch.map((event) => ({ ...(event as Message), writeKey: forge.writeKey })) }),
    }),
    request('one-letter-body-key-duplicated-wrong-last', {
      path: '/v1/t',
      headers: { 'Content-Type': 'text/plain' },
      body: Buffer.from(`{"writeKey":${JSON.stringify(forge.writeKey)},${JSON.stringify(forge.track()).slice(1, -1)},"writeKey":"wrong"}`),
    }),
    request('one-letter-valid-body-key-not-json', {
      path: '/v1/t',
      headers: { 'Content-Type': 'text/plain' },
      body: Buffer.from(`{"writeKey":${JSON.stringify(forge.writeKey)},"event":"Order Completed","userId":"${forge.id('u')}"`),
    }),
  ];
}

/** What fetch refuses to send: broken framing, oversized or malformed header blocks, odd request lines; on a raw socket. */
function protocol(forge: Forge): HostileRequest[] {
  const authorization = `Authorization: ${basic(forge.writeKey)}`;
  const track = ['Host: localhost', 'Content-Type: application/json', authorization];
  const request = (name: string, raw: Buffer, draft: Partial<Draft> = {}) =>
    post(forge, 'protocol', { name, method: 'POST', path: '/v1/track', headers: {}, body: undefined, raw, authenticated: true, ...draft });
  /**
   * A raw request: `requestLine`, `head` lines, the lines `framing` makes of its body and the body as `frame` sends
   * it. The body is a fresh event the platform refuses too (no `event`), should a parser let the request through.
   */
  const raw = (requestLine: string, head: string[], framing: (text: string) => string[] = contentLength, frame: (text: string) => string = (text) => text) => {
    const text = JSON.stringify(forge.track({ event: undefined }));
    return rawHttp([requestLine, ...head, ...framing(text)], frame(text));
  };
  const post11 = 'POST /v1/track HTTP/1.1';
  const chunked = (frame: (text: string) => string) => raw(post11, [...track, 'Transfer-Encoding: chunked'], () => [], frame);
  const mixed = (invalid: Message) => {
    const { batch, valid } = forge.mixed([invalid]);
    const text = JSON.stringify({ batch });
    return { text, valid };
  };
  const http10 = mixed(forge.track({ timestamp: 'soon' }));
  const absolute = mixed(forge.track({ properties: [] }));
  const protoHeader = mixed(forge.track({ event: '' }));
  return [
    request('header-too-large', raw(post11, [...track, `X-Padding: ${'a'.repeat(20 * 1024)}`])),
    request('header-count-3000', raw(post11, [...track, ...Array.from({ length: 3000 }, (_, i) => `X-H${i}: ${i}`)])),
    request('request-line-too-long', raw(`POST /v1/track?q=${'q'.repeat(20 * 1024)} HTTP/1.1`, track)),
    request('header-name-with-space', raw(post11, [...track, 'Bad Header: 1'])),
    request('header-name-non-token', raw(post11, [...track, 'X-\u00c4rger: 1', '{x}: 2'])),
    request('header-line-without-colon', raw(post11, [...track, 'NoColonHere'])),
    request('header-value-with-nul', raw(post11, [...track, 'X-Trace: a\u0000b'])),
    request('header-value-with-bare-cr', raw(post11, [...track, 'X-Trace: a\rb'])),
    request('header-obs-fold', raw(post11, [...track, 'X-Trace: first', '  folded continuation'])),
    request('content-length-non-numeric', raw(post11, track, () => ['Content-Length: abc'])),
    request('content-length-negative', raw(post11, track, () => ['Content-Length: -1'])),
    request('content-length-twice-different', raw(post11, track, (text) => ['Content-Length: 5', ...contentLength(text)])),
    // The server reads the first bytes as the body (not JSON: a 400) and the rest as a garbage second request.
    request('content-length-shorter-than-body', raw(post11, track, () => ['Content-Length: 10'])),
    // The client sends less than it announced and closes its side: the body never completes.
    request('content-length-longer-than-body', raw(post11, track, (text) => [`Content-Length: ${text.length + 1000}`])),
    request('content-length-and-chunked', raw(post11, track, (text) => [...contentLength(text), 'Transfer-Encoding: chunked'], (text) => `${chunk(text)}0\r\n\r\n`)),
    request('chunked-invalid-size', chunked((text) => `zz\r\n${text}\r\n0\r\n\r\n`)),
    request('chunked-size-overflow', chunked((text) => `ffffffffffffffffffff\r\n${text}\r\n0\r\n\r\n`)),
    request('chunked-size-larger-than-data', chunked((text) => `${(text.length + 500).toString(16)}\r\n${text}\r\n`)),
    request('chunked-without-last-chunk', chunked(chunk)),
    request('transfer-encoding-identity', raw(post11, track, () => ['Transfer-Encoding: identity'])),
    request('transfer-encoding-space-before-colon', raw(post11, track, () => ['Transfer-Encoding : chunked'], (text) => `${chunk(text)}0\r\n\r\n`)),
    request('http-0.9-request-line', Buffer.from('GET /v1/track\r\n\r\n'), { method: 'GET', authenticated: false }),
    request('http-version-2.0', raw('POST /v1/track HTTP/2.0', track)),
    request('http-version-1.7', raw('POST /v1/track HTTP/1.7', track)),
    request('absurd-method', raw('FROBNICATE /v1/track HTTP/1.1', track), { method: 'FROBNICATE' }),
    request('lower-case-method', raw('post /v1/track HTTP/1.1', track), { method: 'post' }),
    request('nul-in-request-target', raw('POST /v1/tr\u0000ack HTTP/1.1', track), { authenticated: false }),
    request('no-host-header', raw(post11, track.slice(1))),
    request('lf-only-line-endings', Buffer.from(raw(post11, track).toString('latin1').replace(/\r\n/g, '\n'), 'latin1')),
    // A later Authorization replaces an earlier one (as in API Gateway's `headers`): the wrong key is the one checked.
    request('authorization-twice-valid-then-wrong', raw(post11, [...track, `Authorization: ${basic('wrong-key')}`]), { authenticated: false }),
    request('expect-100-continue', raw(post11, [...track, 'Expect: 100-continue'])),
    request('upgrade-websocket', raw(post11, [...track, 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='])),
    // Legal HTTP, odd but not refused: their batches' valid events are accepted. (fetch drops a header named __proto__.)
    request('header-named-proto', rawHttp(['POST /v1/batch HTTP/1.1', ...track, '__proto__: x', ...contentLength(protoHeader.text)], protoHeader.text), {
      path: '/v1/batch',
      valid: protoHeader.valid,
    }),
    request('http-1.0-without-host', rawHttp(['POST /v1/batch HTTP/1.0', ...track.slice(1), ...contentLength(http10.text)], http10.text), { path: '/v1/batch', valid: http10.valid }),
    request('absolute-uri-request-target', rawHttp(['POST http://attacker.example/v1/batch HTTP/1.1', ...track, ...contentLength(absolute.text)], absolute.text), {
      path: '/v1/batch',
      valid: absolute.valid,
    }),
  ];
}

/** The Content-Length line of an ASCII body. */
const contentLength = (text: string): string[] => [`Content-Length: ${text.length}`];
/** `text` as one chunk of a chunked body (without the last chunk). */
const chunk = (text: string): string => `${text.length.toString(16)}\r\n${text}\r\n`;

// ---------------------------------------------------------------------------------------------------------------
// Sending

export interface HostileResponse {
  /** 0 when the connection closed, or the time ran out, without a response. */
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** The response body, or what happened instead of a response. */
  body: string;
}

/** How long one request may take, connection to last byte: a 9 MB body and a cold function fit well within it. */
export const SEND_TIMEOUT_MS = 30_000;
/** How long a raw request that looks complete may go unanswered before the client closes its side (the server may be waiting for bytes). */
const STALL_MS = 5_000;

/**
 * Sends one request to the API at `baseUrl` (fetch, or a raw socket for `raw`): its status, headers and body text.
 * A connection closed (or a timeout passed) without a response is status 0, never thrown; a request fetch cannot
 * even build is a mistake of the generator, and is thrown.
 */
export async function sendRequest(baseUrl: string, request: HostileRequest): Promise<HostileResponse> {
  return request.raw ? sendRaw(new URL(baseUrl), request.raw) : sendFetch(baseUrl, request);
}

async function sendFetch(baseUrl: string, request: HostileRequest): Promise<HostileResponse> {
  try {
    const response = await fetch(`${baseUrl.replace(/\/$/, '')}${request.path}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
  } catch (error) {
    const { name, message, cause } = error as Error & { cause?: { code?: string; message?: string } };
    if (name === 'TimeoutError') return noResponse(`timed out after ${SEND_TIMEOUT_MS} ms`);
    if (message === 'fetch failed') return noResponse(`connection failed: ${cause?.code ?? cause?.message ?? 'unknown'}`);
    throw error;
  }
}

const noResponse = (what: string): HostileResponse => ({ status: 0, headers: {}, body: what });

/**
 * Writes `raw` and reads the first final response (skipping 1xx), or reports status 0. The client closes its side
 * (the end of the bytes a server may be waiting for) at once when `raw` announces more than it carries, else only
 * once the server has been silent for a while: Node's server aborts a request still in progress when its client
 * closes its side.
 */
function sendRaw(url: URL, raw: Buffer): Promise<HostileResponse> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port || 80) });
    let received = Buffer.alloc(0);
    let problem = 'connection closed without a response';
    let stall: NodeJS.Timeout | undefined;
    const finish = (response: HostileResponse) => {
      clearTimeout(timer);
      clearTimeout(stall);
      socket.destroy();
      resolve(response);
    };
    const timer = setTimeout(() => finish(parseResponse(received, true) ?? noResponse(`timed out after ${SEND_TIMEOUT_MS} ms`)), SEND_TIMEOUT_MS);
    socket.on('connect', () => {
      socket.write(raw);
      if (isIncomplete(raw)) socket.end();
      else stall = setTimeout(() => socket.end(), STALL_MS);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const response = parseResponse(received, false);
      if (response) finish(response);
    });
    // A server that answers and closes before reading all of a large request resets the connection: what it sent still counts.
    socket.on('error', (error: NodeJS.ErrnoException) => (problem = `connection failed: ${error.code ?? error.message}`));
    socket.on('close', () => finish(parseResponse(received, true) ?? noResponse(problem)));
  });
}

/**
 * Whether `raw` announces a body longer than it carries (a Content-Length past its end, chunks without the last
 * one) or does not even end its header block: a server reading it waits for more.
 */
function isIncomplete(raw: Buffer): boolean {
  const headEnd = /\r?\n\r?\n/.exec(raw.toString('latin1'));
  if (!headEnd) return true;
  const head = raw.subarray(0, headEnd.index).toString('latin1');
  const body = raw.subarray(headEnd.index + headEnd[0].length);
  if (/^transfer-encoding:.*chunked/im.test(head)) return !body.toString('latin1').endsWith('0\r\n\r\n');
  const length = /^content-length:\s*(\d+)\s*$/im.exec(head);
  return length !== null && body.length < Number(length[1]);
}

/**
 * The first final response in `bytes`, once it is complete: its body delimited by Content-Length, chunked encoding,
 * or (when `closed`) the end of the connection. Undefined while more bytes are needed.
 */
function parseResponse(bytes: Buffer, closed: boolean): HostileResponse | undefined {
  let start = 0;
  for (;;) {
    const headEnd = bytes.indexOf('\r\n\r\n', start);
    if (headEnd === -1) return undefined;
    const [statusLine, ...lines] = bytes.subarray(start, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/\d(?:\.\d)? (\d{3})/.exec(statusLine)?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const rest = bytes.subarray(headEnd + 4);
    if (status >= 100 && status < 200) {
      start = headEnd + 4;
      continue;
    }
    const body = bodyOf(rest, headers, closed);
    return body === undefined ? undefined : { status, headers, body: body.toString('utf8') };
  }
}

function bodyOf(rest: Buffer, headers: Record<string, string>, closed: boolean): Buffer | undefined {
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) return dechunk(rest) ?? (closed ? rest : undefined);
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (rest.length >= length) return rest.subarray(0, length);
    return closed ? rest : undefined;
  }
  return closed ? rest : undefined;
}

/** A chunked body decoded, or undefined until its last chunk has arrived. */
function dechunk(bytes: Buffer): Buffer | undefined {
  const chunks: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd === -1) return undefined;
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return Buffer.concat(chunks);
    if (bytes.length < lineEnd + 2 + size + 2) return undefined;
    chunks.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
