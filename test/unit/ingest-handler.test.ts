import { gzipSync, deflateSync } from 'node:zlib';
import { FirehoseClient, PutRecordBatchCommand, PutRecordBatchCommandInput } from '@aws-sdk/client-firehose';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { handleIngest, IngestDeps } from '../../lambdas/ingest/ingest';
import { EVENT_TYPES, LIMITS, StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { sourceIdOf } from '../../lambdas/shared/domain/ingestion';
import { BadEventLine, FirehoseBadEventStore } from '../../lambdas/shared/store/bad-event-store';
import type { EventStream } from '../../lambdas/shared/store/event-stream';
import type { KeyStore } from '../../lambdas/shared/store/key-store';
import { apiEvent, basicAuth, jsonBody, RequestOptions } from '../support/http';
import { disabledMetrics, recordMetrics, recordSingleMetrics, silentLogger } from '../support/powertools';
import { iso, T0 } from '../support/events';

const WRITE_KEY = 'wk_live_1234';

class FakeStream implements EventStream {
  readonly written: StreamEvent[] = [];
  calls = 0;
  /** Events at these positions of a call are reported as not written. */
  failIndexes = new Set<number>();
  throwError?: Error;
  async put(events: readonly StreamEvent[]) {
    this.calls += 1;
    if (this.throwError) throw this.throwError;
    const failed = events.filter((_, i) => this.failIndexes.has(i));
    this.written.push(...events.filter((_, i) => !this.failIndexes.has(i)));
    return failed.length > 0 ? { failed, lastError: 'ProvisionedThroughputExceededException: Rate exceeded' } : { failed };
  }
}

class FakeKeys implements KeyStore {
  calls = 0;
  throwError?: Error;
  constructor(private readonly keys: string[] = [WRITE_KEY]) {}
  async matches(candidate: string) {
    this.calls += 1;
    if (this.throwError) throw this.throwError;
    return this.keys.includes(candidate);
  }
}

/** The bad-events store is the real one, over a mocked Firehose client: every PutRecordBatch succeeds unless a test says otherwise. */
const firehose = mockClient(FirehoseClient);
beforeEach(() => {
  firehose.reset();
  firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [] });
});
/** The bad-event lines sent to Firehose so far. */
const recorded = (): BadEventLine[] =>
  firehose
    .commandCalls(PutRecordBatchCommand)
    .flatMap((c) => (c.args[0].input as PutRecordBatchCommandInput).Records ?? [])
    .map((r) => JSON.parse(Buffer.from(r.Data as Uint8Array).toString('utf8')));

function setup() {
  const stream = new FakeStream();
  const writeKeys = new FakeKeys();
  const badEvents = new FirehoseBadEventStore(new FirehoseClient({ region: 'us-east-1' }), 'bad-events', () => T0 + 5, { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 });
  const deps: IngestDeps = { stream, badEvents, writeKeys, now: () => T0, logger: silentLogger(), metrics: disabledMetrics() };
  const call = (opts: RequestOptions) => handleIngest(apiEvent(opts), deps);
  return { stream, writeKeys, deps, call };
}

const authed = (body: unknown, opts: RequestOptions = {}): RequestOptions => ({
  body: jsonBody(body),
  ...opts,
  headers: { Authorization: basicAuth(WRITE_KEY), 'Content-Type': 'application/json', ...opts.headers },
});
const bodyOf = (response: APIGatewayProxyResult) => JSON.parse(response.body);
const trackBody = { event: 'Signed Up', userId: 'u1', messageId: 'm1' };

describe('handleIngest: authentication', () => {
  it('accepts the write key as the Basic user name with an empty password', async () => {
    const { call, stream } = setup();
    const response = await call(authed(trackBody));
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual({ success: true });
    expect(response.headers).toMatchObject({ 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' });
    expect(stream.written).toHaveLength(1);
    expect(stream.written[0]).toMatchObject({ type: 'track', event: 'Signed Up', userId: 'u1', messageId: 'm1', sourceId: sourceIdOf(WRITE_KEY), receivedAt: iso(T0) });
  });

  it('accepts the write key in the body (analytics.js, text/plain) and does not store it', async () => {
    const { call, stream } = setup();
    const response = await call({ resource: '/v1/t', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: jsonBody({ ...trackBody, writeKey: WRITE_KEY }) });
    expect(response.statusCode).toBe(200);
    expect(stream.written).toHaveLength(1);
    expect(stream.written[0]).not.toHaveProperty('writeKey');
    expect(stream.written[0].sourceId).toBe(sourceIdOf(WRITE_KEY));
  });

  it('reads header names case-insensitively', async () => {
    const { call } = setup();
    const response = await call({ body: jsonBody(trackBody), headers: { authorization: basicAuth(WRITE_KEY), 'CONTENT-TYPE': 'application/json' } });
    expect(response.statusCode).toBe(200);
  });

  it.each([
    ['no key at all', { body: jsonBody(trackBody) }],
    ['a wrong key in the header', { body: jsonBody(trackBody), headers: { Authorization: basicAuth('wrong') } }],
    ['a wrong key in the body', { body: jsonBody({ ...trackBody, writeKey: 'wrong' }) }],
    ['a Bearer token', { body: jsonBody(trackBody), headers: { Authorization: `Bearer ${WRITE_KEY}` } }],
    ['an empty user name', { body: jsonBody(trackBody), headers: { Authorization: basicAuth('', WRITE_KEY) } }],
    ['a non-string writeKey', { body: jsonBody({ ...trackBody, writeKey: 42 }) }],
  ])('answers 401 with a Basic challenge for %s', async (_label, opts) => {
    const { call, stream } = setup();
    const response = await call(opts as RequestOptions);
    expect(response.statusCode).toBe(401);
    expect(response.headers?.['WWW-Authenticate']).toBe('Basic realm="ingest"');
    expect(bodyOf(response).success).toBe(false);
    expect(stream.calls).toBe(0);
  });

  it('checks a header key before reading the body', async () => {
    const { call } = setup();
    const response = await call({ body: '{not json', headers: { Authorization: basicAuth('wrong') } });
    expect(response.statusCode).toBe(401);
  });

  it('prefers the header key over a body key', async () => {
    const { call, stream } = setup();
    const response = await call(authed({ ...trackBody, writeKey: 'some-other-key' }));
    expect(response.statusCode).toBe(200);
    expect(stream.written[0].sourceId).toBe(sourceIdOf(WRITE_KEY));
  });
  it("takes the source from the API's write-key authorizer without checking a key itself", async () => {
    const { deps, stream, writeKeys } = setup();
    const event = apiEvent({ body: jsonBody(trackBody), headers: { Authorization: basicAuth('checked-by-the-authorizer') } });
    event.requestContext = { authorizer: { sourceId: 'src_from_authorizer', principalId: 'src_from_authorizer' } } as unknown as typeof event.requestContext;
    const response = await handleIngest(event, deps);
    expect(response.statusCode).toBe(200);
    expect(writeKeys.calls).toBe(0);
    expect(stream.written.map((e) => e.sourceId)).toEqual(['src_from_authorizer']);
  });
});

describe('handleIngest: metrics', () => {
  it('counts rejected events by reason and refused requests by status', async () => {
    const { call, deps } = setup();
    const singles = recordSingleMetrics(deps.metrics);
    const batch = [{ type: 'track', userId: 'u1' }, 'not an event', { type: 'track', userId: 'u1', event: 'E' }, { type: 'identify' }];
    expect((await call(authed({ batch }, { resource: '/v1/batch' }))).statusCode).toBe(400);
    expect((await call({ ...authed({}), body: Buffer.from('{nope') })).statusCode).toBe(400);
    expect(singles).toEqual(['EventsRejectedByReason reason=invalid-field: 2', 'EventsRejectedByReason reason=not-an-object: 1', 'RequestsRejectedByStatus status=400: 1']);
  });
});

describe('handleIngest: request bodies', () => {
  it('answers 400 for malformed JSON', async () => {
    const { call } = setup();
    const response = await call({ ...authed(null), body: '{"event": "x",' });
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).message).toMatch(/^Malformed JSON/);
  });

  it('answers 400 for a body that is not valid UTF-8', async () => {
    const { call } = setup();
    const response = await call({ ...authed(null), body: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]) });
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).message).toBe('Request body is not valid UTF-8');
  });

  it.each([null, ''])('answers 400 for an empty body (%j)', async (body) => {
    const { call } = setup();
    const response = await call({ ...authed(null), body });
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).message).toBe('Request body is empty');
  });

  it('answers 400 for a body that is JSON but not an object', async () => {
    const { call } = setup();
    expect((await call(authed([trackBody]))).statusCode).toBe(400);
    expect((await call(authed('text'))).statusCode).toBe(400);
  });

  it.each(['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/html'])('answers 415 for Content-Type %s', async (type) => {
    const { call } = setup();
    const response = await call(authed(trackBody, { headers: { 'Content-Type': type } }));
    expect(response.statusCode).toBe(415);
  });

  it('accepts application/json with parameters, and a request without Content-Type', async () => {
    const { call } = setup();
    expect((await call(authed(trackBody, { headers: { 'Content-Type': 'Application/JSON; charset=utf-8' } }))).statusCode).toBe(200);
    const noType = { body: jsonBody(trackBody), headers: { Authorization: basicAuth(WRITE_KEY) } };
    expect((await call(noType)).statusCode).toBe(200);
  });

  it('accepts a body that API Gateway did not base64-encode', async () => {
    const { deps } = setup();
    const event: APIGatewayProxyEvent = { ...apiEvent(authed(trackBody)), body: JSON.stringify(trackBody), isBase64Encoded: false };
    expect((await handleIngest(event, deps)).statusCode).toBe(200);
  });

  it('answers 413 for a body over 500 KB, and accepts one of exactly 500 KB', async () => {
    const { call } = setup();
    const batchOf = (bytes: number) => {
      const skeleton = { batch: [{ type: 'track', event: 'E', userId: 'u1' }], pad: '' };
      return { ...skeleton, pad: 'x'.repeat(bytes - Buffer.byteLength(JSON.stringify(skeleton))) };
    };
    const exact = batchOf(LIMITS.maxBatchBytes);
    expect(jsonBody(exact).byteLength).toBe(LIMITS.maxBatchBytes);
    expect((await call(authed(exact, { resource: '/v1/batch' }))).statusCode).toBe(200);
    const over = await call(authed(batchOf(LIMITS.maxBatchBytes + 1), { resource: '/v1/batch' }));
    expect(over.statusCode).toBe(413);
  });

  it('decompresses gzip and deflate bodies', async () => {
    const { call, stream } = setup();
    const gz = await call(authed(null, { body: gzipSync(jsonBody(trackBody)), headers: { 'Content-Encoding': 'gzip' } }));
    expect(gz.statusCode).toBe(200);
    const df = await call(authed(null, { body: deflateSync(jsonBody({ ...trackBody, messageId: 'm2' })), headers: { 'content-encoding': 'Deflate' } }));
    expect(df.statusCode).toBe(200);
    expect(stream.written.map((e) => e.messageId)).toEqual(['m1', 'm2']);
  });

  it('answers 413 for a gzip bomb: a small body that expands beyond 500 KB', async () => {
    const { call, stream } = setup();
    const bomb = gzipSync(Buffer.from(`{"event":"E","userId":"u1","pad":"${' '.repeat(50 * 1024 * 1024)}"}`));
    expect(bomb.byteLength).toBeLessThan(100 * 1024);
    const response = await call(authed(null, { body: bomb, headers: { 'Content-Encoding': 'gzip' } }));
    expect(response.statusCode).toBe(413);
    expect(stream.calls).toBe(0);
  });

  it('answers 400 for a corrupt gzip body and 415 for an unsupported encoding', async () => {
    const { call } = setup();
    expect((await call(authed(trackBody, { headers: { 'Content-Encoding': 'gzip' } }))).statusCode).toBe(400);
    expect((await call(authed(trackBody, { headers: { 'Content-Encoding': 'br' } }))).statusCode).toBe(415);
  });

  it('answers 404 for a resource that is not an ingestion route', async () => {
    const { call } = setup();
    expect((await call(authed(trackBody, { resource: '/v1/purchase' }))).statusCode).toBe(404);
  });
});

describe('handleIngest: events', () => {
  it('maps every route, long and one-letter, to its call type', async () => {
    const { call, stream } = setup();
    const bodies: Record<string, object> = {
      track: trackBody,
      page: { userId: 'u1' },
      screen: { userId: 'u1' },
      identify: { userId: 'u1', traits: { a: 1 } },
      alias: { userId: 'u1', previousId: 'a1' },
      group: { userId: 'u1', groupId: 'g1' },
    };
    for (const type of EVENT_TYPES) {
      for (const route of [type, type.charAt(0)]) {
        const response = await call(authed(bodies[type], { resource: `/v1/${route}` }));
        expect(response.statusCode).toBe(200);
        expect(stream.written[stream.written.length - 1].type).toBe(type);
      }
    }
  });

  it('answers 400 for a batch with bad events, listing each with index and reason, and writes the good ones', async () => {
    const { call, stream } = setup();
    const batch = [
      { type: 'track', event: 'A', userId: 'u1', messageId: 'good-0' },
      { type: 'track', userId: 'u1', messageId: 'bad-1' },
      { type: 'identify', anonymousId: 'a1', messageId: 'good-2' },
      { type: 'group', userId: 'u1' },
    ];
    const response = await call(authed({ batch }, { resource: '/v1/batch' }));
    expect(response.statusCode).toBe(400);
    const body = bodyOf(response);
    expect(body).toEqual({
      success: false,
      message: '2 of 4 events were rejected; the other 2 were accepted and must not be resent',
      accepted: 2,
      rejected: [
        { index: 1, messageId: 'bad-1', reason: 'event: is required for track calls', kind: 'invalid-field' },
        { index: 3, reason: 'groupId: is required for group calls', kind: 'invalid-field' },
      ],
    });
    expect(stream.written.map((e) => e.messageId)).toEqual(['good-0', 'good-2']);
  });

  it('answers 400 without writing when every event is rejected', async () => {
    const { call, stream } = setup();
    const single = await call(authed({ userId: 'u1' }));
    expect(single.statusCode).toBe(400);
    expect(bodyOf(single).message).toBe('event: is required for track calls');
    const batch = await call(authed({ batch: [{ type: 'x' }, 5] }, { resource: '/v1/batch' }));
    expect(batch.statusCode).toBe(400);
    expect(bodyOf(batch).message).toBe('All 2 events were rejected');
    expect(stream.calls).toBe(0);
  });

  it('answers 503 with Retry-After, never 2xx, when the stream could not take every event', async () => {
    const { call, stream } = setup();
    stream.failIndexes = new Set([1]);
    const batch = [1, 2, 3].map((i) => ({ type: 'track', event: 'E', userId: 'u1', messageId: `m${i}` }));
    const response = await call(authed({ batch }, { resource: '/v1/batch' }));
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['Retry-After']).toBe('1');
    expect(bodyOf(response)).toEqual({ success: false, message: '1 of 3 events could not be written; retry the request' });
  });

  it('answers 503 (not 400) when a batch with rejected events also fails to write', async () => {
    const { call, stream } = setup();
    stream.failIndexes = new Set([0]);
    const response = await call(authed({ batch: [{ type: 'track', event: 'E', userId: 'u1' }, { type: 'bad' }] }, { resource: '/v1/batch' }));
    expect(response.statusCode).toBe(503);
  });

  it.each([
    ['the stream throws', (s: ReturnType<typeof setup>) => (s.stream.throwError = new Error('socket hang up'))],
    ['the key store throws', (s: ReturnType<typeof setup>) => (s.writeKeys.throwError = new Error('Secrets Manager unreachable'))],
  ])('answers 500 JSON, without throwing, when %s', async (_label, arrange) => {
    const s = setup();
    arrange(s);
    const response = await s.call(authed(trackBody));
    expect(response.statusCode).toBe(500);
    expect(bodyOf(response)).toEqual({ success: false, message: 'Internal error; retry the request' });
    expect(response.headers?.['Access-Control-Allow-Origin']).toBe('*');
  });
});

describe('handleIngest: recording rejected events', () => {
  const withRequestId = (opts: RequestOptions, requestId = 'req-1') => {
    const event = apiEvent(opts);
    return { ...event, requestContext: { ...event.requestContext, requestId } };
  };

  it('records nothing, and calls nothing, for a fully valid request', async () => {
    const { call } = setup();
    expect((await call(authed({ batch: [{ type: 'track', event: 'A', userId: 'u1' }] }, { resource: '/v1/batch' }))).statusCode).toBe(200);
    expect(firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(0);
  });

  it("records each rejected event of a batch with the reason, the event's JSON and the source", async () => {
    const { deps } = setup();
    const batch = [
      { type: 'track', event: 'A', userId: 'u1', messageId: 'good-0' },
      { type: 'track', userId: 'u1', messageId: 'bad-1', writeKey: 'leaked?' },
      'not an object',
    ];
    const response = await handleIngest(withRequestId(authed({ batch, context: { locale: 'fr' } }, { resource: '/v1/batch' })), deps);
    expect(response.statusCode).toBe(400);
    expect(recorded()).toEqual([
      {
        id: 'ingest/req-1/1',
        source: 'ingest',
        reason: 'event: is required for track calls',
        payload: JSON.stringify({ type: 'track', userId: 'u1', messageId: 'bad-1', context: { locale: 'fr' } }),
        truncated: false,
        sourceId: sourceIdOf(WRITE_KEY),
        arrivedAt: iso(T0),
        detectedAt: iso(T0 + 5),
      },
      expect.objectContaining({ id: 'ingest/req-1/2', source: 'ingest', reason: 'Event must be a JSON object', payload: '"not an object"' }),
    ]);
  });

  it('records a rejected single event, its write key (sent in the body) removed', async () => {
    const { deps } = setup();
    const response = await handleIngest(withRequestId({ resource: '/v1/t', body: jsonBody({ userId: 'u1', writeKey: WRITE_KEY }) }, 'req-2'), deps);
    expect(response.statusCode).toBe(400);
    expect(recorded()).toEqual([
      expect.objectContaining({ id: 'ingest/req-2/0', reason: 'event: is required for track calls', payload: JSON.stringify({ userId: 'u1', type: 'track' }), sourceId: sourceIdOf(WRITE_KEY) }),
    ]);
  });

  it('records a whole body that is not a valid request once authenticated: malformed JSON, not a batch', async () => {
    const { deps } = setup();
    const malformed = await handleIngest(withRequestId({ ...authed(null), body: '{"event": "x", "writeKey": "wk_other",' }, 'req-3'), deps);
    expect(malformed.statusCode).toBe(400);
    const noBatch = await handleIngest(withRequestId({ resource: '/v1/batch', body: jsonBody({ batch: {}, writeKey: WRITE_KEY }) }, 'req-4'), deps);
    expect(noBatch.statusCode).toBe(400);
    expect(recorded()).toEqual([
      expect.objectContaining({ id: 'ingest/req-3', source: 'ingest', reason: expect.stringMatching(/^Malformed JSON/), payload: '{"event": "x", "writeKey": "[redacted]",', sourceId: sourceIdOf(WRITE_KEY) }),
      expect.objectContaining({ id: 'ingest/req-4', reason: 'Batch requests need a "batch" array of events', payload: '{"batch":{},"writeKey":"[redacted]"}' }),
    ]);
  });

  it.each([
    ['no key', { body: jsonBody({ userId: 'u1' }) }],
    ['a wrong key', { body: jsonBody({ userId: 'u1' }), headers: { Authorization: basicAuth('wrong') } }],
    ['a wrong key in the body', { resource: '/v1/batch', body: jsonBody({ batch: [{ type: 'bogus' }], writeKey: 'wrong' }) }],
    ['malformed JSON with the key in the body', { body: `{"writeKey":"${WRITE_KEY}",` }],
  ])('never records an unauthenticated request (%s)', async (_label, opts) => {
    const { call } = setup();
    expect((await call(opts as RequestOptions)).statusCode).toBeGreaterThanOrEqual(400);
    expect(firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(0);
  });

  it('records nothing for refusals without a request body to keep (size, media type, encoding) or for a 503', async () => {
    const { call, stream } = setup();
    expect((await call(authed(trackBody, { headers: { 'Content-Type': 'text/html' } }))).statusCode).toBe(415);
    expect((await call(authed(trackBody, { headers: { 'Content-Encoding': 'gzip' } }))).statusCode).toBe(400);
    expect((await call(authed(null, { body: Buffer.from([0x7b, 0xff, 0x7d]) }))).statusCode).toBe(400);
    // The client resends a 503'd request whole: its rejected events are recorded then.
    stream.failIndexes = new Set([0]);
    expect((await call(authed({ batch: [{ type: 'track', event: 'E', userId: 'u1' }, { type: 'bad' }] }, { resource: '/v1/batch' }))).statusCode).toBe(503);
    expect(firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(0);
  });

  it('answers the same when the rejected events cannot be recorded, and logs and counts them', async () => {
    const { deps, call } = setup();
    const metrics = recordMetrics(deps.metrics);
    const errors: unknown[][] = [];
    deps.logger.error = (...args: unknown[]) => void errors.push(args);
    firehose.on(PutRecordBatchCommand).rejects(Object.assign(new Error('Firehose is down'), { name: 'ServiceUnavailableException' }));

    const body = { batch: [{ type: 'track', event: 'A', userId: 'u1' }, { type: 'bogus' }, { type: 'track' }] };
    const failing = await call(authed(body, { resource: '/v1/batch' }));
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [] });
    const working = await call(authed(body, { resource: '/v1/batch' }));
    expect(failing).toEqual(working);
    expect(failing.statusCode).toBe(400);
    expect(metrics.get('BadEventsNotRecorded')).toBe(2);
    expect(errors).toEqual([['Rejected events could not be recorded', expect.objectContaining({ count: 2 })]]);

    firehose.on(PutRecordBatchCommand).rejects(new Error('down'));
    expect((await call({ ...authed(null), body: '{' })).statusCode).toBe(400);
    expect(metrics.get('BadEventsNotRecorded')).toBe(3);
  });
});

describe('handleIngest: hostile input', () => {
  const validKeyHeader = basicAuth(WRITE_KEY);
  /** A field that is usually absent or valid, sometimes hostile. */
  const field = <T>(name: string, valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<unknown> = fc.jsonValue(), validWeight = 3) =>
    fc
      .oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: validWeight, arbitrary: valid }, { weight: 1, arbitrary: hostile })
      .map((v) => (v === undefined ? {} : { [name]: v }));
  const recentIso = fc.integer({ min: T0 - 30 * 86_400_000, max: T0 }).map(iso);
  const messageArb = fc
    .tuple(
      field('type', fc.constantFrom(...EVENT_TYPES)),
      field('event', fc.string({ minLength: 1, maxLength: 210 }), fc.jsonValue(), 6),
      field('userId', fc.oneof(fc.string({ minLength: 1, maxLength: 300 }), fc.integer()), fc.oneof(fc.constant(null), fc.constant(''), fc.jsonValue())),
      field('anonymousId', fc.string({ minLength: 1 })),
      field('messageId', fc.string({ maxLength: 300 })),
      field('timestamp', recentIso, fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.jsonValue())),
      field('sentAt', recentIso, fc.string()),
      field('groupId', fc.string()),
      field('previousId', fc.string()),
      field('properties', fc.dictionary(fc.constantFrom('product_id', 'price', 'category', '__proto__', 'constructor', 'products', 'revenue'), fc.jsonValue())),
      field('traits', fc.dictionary(fc.string(), fc.jsonValue())),
      field('context', fc.dictionary(fc.constantFrom('ip', 'locale', 'device', 'page', '__proto__'), fc.jsonValue())),
      field('writeKey', fc.constant(WRITE_KEY), fc.string()),
    )
    .map((parts) => Object.assign({}, ...parts) as Record<string, unknown>);
  const deep = fc.integer({ min: 30, max: 20_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`);
  const bodyArb: fc.Arbitrary<Buffer | string | null> = fc.oneof(
    { weight: 8, arbitrary: messageArb.map((m) => JSON.stringify(m)) },
    { weight: 8, arbitrary: fc.array(messageArb, { maxLength: 5 }).map((batch) => JSON.stringify({ batch, writeKey: WRITE_KEY, context: { a: 1 }, sentAt: iso(T0) })) },
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.string(),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
    messageArb.map((m) => gzipSync(Buffer.from(JSON.stringify(m)))),
    deep,
    deep.map((d) => `{"batch":[${d}],"writeKey":"${WRITE_KEY}"}`),
    fc.constantFrom('{"__proto__":{"userId":"x","timestamp":5}}', '{"batch":[{"__proto__":{"type":"track"}}]}', '\uFEFF{}', 'null', '[]', '{"batch":[]}', ''),
    fc.constant(null),
  );
  const optionalHeader = (name: string, likely: fc.Arbitrary<string | undefined>, hostile: fc.Arbitrary<string>) =>
    fc.oneof({ weight: 8, arbitrary: likely }, { weight: 1, arbitrary: hostile }).map((v) => (v === undefined ? {} : { [name]: v }));
  const headersArb = fc
    .tuple(
      optionalHeader(
        'Authorization',
        fc.constantFrom(validKeyHeader, validKeyHeader, validKeyHeader, undefined),
        fc.oneof(fc.string(), fc.constantFrom('Basic', 'Basic %%%', 'Basic Og=='), fc.string().map((s) => `Basic ${Buffer.from(s).toString('base64')}`)),
      ),
      optionalHeader('Content-Type', fc.constantFrom('application/json', 'text/plain', undefined), fc.oneof(fc.constantFrom(';', ''), fc.string())),
      optionalHeader('Content-Encoding', fc.constantFrom(undefined, undefined, 'identity'), fc.oneof(fc.constantFrom('gzip', 'deflate', ' GZIP ', ''), fc.string())),
    )
    .map((parts) => Object.assign({}, ...parts) as Record<string, string>);
  const resourceArb = fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom('/v1/track', '/v1/batch', '/v1/b', '/v1/identify', '/v1/alias', '/v1/group', '/v1/p', '/v1/t') },
    { weight: 1, arbitrary: fc.string() },
  );
  /** Status codes seen and events written, to check that the fuzzing reaches past authentication and parsing. */
  const seen = new Map<number, number>();
  let written = 0;

  it('never answers 5xx and never throws for bad input', async () => {
    await fc.assert(
      fc.asyncProperty(resourceArb, headersArb, bodyArb, fc.boolean(), async (resource, headers, body, base64) => {
        const { deps, stream } = setup();
        const event = apiEvent({ resource, headers, body });
        if (!base64 && typeof body === 'string') Object.assign(event, { body, isBase64Encoded: false });
        firehose.resetHistory();
        const response = await handleIngest(event, deps);
        expect(JSON.stringify(recorded())).not.toContain(WRITE_KEY); // a write key is never recorded
        if (response.statusCode !== 400) expect(recorded()).toEqual([]);
        seen.set(response.statusCode, (seen.get(response.statusCode) ?? 0) + 1);
        written += stream.written.length;
        if (!(response.statusCode === 200 || (response.statusCode >= 400 && response.statusCode < 500))) {
          throw new Error(`status ${response.statusCode}: ${response.body}`);
        }
        expect(() => JSON.parse(response.body)).not.toThrow();
      }),
      { numRuns: 300 },
    );
    expect(written).toBeGreaterThan(0);
    expect(seen.get(400)).toBeGreaterThan(0);
  });
});
