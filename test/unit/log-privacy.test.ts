import { processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, KinesisStreamEvent } from 'aws-lambda';
import { handleIngest, IngestDeps } from '../../lambdas/ingest/ingest';
import { CoalescingKinesisProcessor } from '../../lambdas/process/coalescing-processor';
import { processRecords, ProcessDeps } from '../../lambdas/process/process-records';
import { updateProfiles } from '../../lambdas/process/update-profiles';
import { handlePrivacy, PrivacyApiDeps, runErasures } from '../../lambdas/privacy/privacy';
import { handleProfiles, ProfilesDeps } from '../../lambdas/profiles/profiles';
import { handleRecommend, RecommendDeps } from '../../lambdas/recommend/recommend';
import { runSegmentClock } from '../../lambdas/segments/clock';
import { DEFAULT_CONSENT_SETTINGS } from '../../lambdas/shared/domain/consent';
import type { ErasureRecord } from '../../lambdas/shared/domain/erasure';
import { jsonSyntaxError } from '../../lambdas/shared/domain/json';
import { resolveRecommendConfig } from '../../lambdas/shared/domain/recommend-config';
import { parseSegmentDefinition } from '../../lambdas/shared/domain/segments';
import { DEFAULT_PROFILE_SETTINGS } from '../../lambdas/shared/domain/settings';
import { parseJson } from '../../lambdas/shared/http';
import { createInstrumentation, Instrumentation, instrumented } from '../../lambdas/shared/instrumentation';
import { isPersonalKey, PrivateLogFormatter, REDACTED } from '../../lambdas/shared/log-privacy';
import type { ErasureStore } from '../../lambdas/shared/store/erasure-store';
import type { EventStream } from '../../lambdas/shared/store/event-stream';
import type { SegmentNotice } from '../../lambdas/shared/domain/segment-membership';
import { identify, MINUTE, productAdded, T0, track } from '../support/events';
import { apiEvent } from '../support/http';
import { InMemoryIdentityStore } from '../support/in-memory-identity-store';
import { InMemoryModelStore } from '../support/in-memory-model-store';
import { InMemoryProfileStore } from '../support/in-memory-profile-store';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { disabledMetrics } from '../support/powertools';

/**
 * No personal data in logs: the formatter every function's logger uses (`shared/log-privacy.ts`), then the real
 * handlers logging through a logger built the production way, their output captured as CloudWatch would get it.
 */

const EMAIL = 'jane.doe@example.com';
const ANONYMOUS_ID = 'anon-7f3c9e2d';
const IP = '203.0.113.77';
const PHONE = '+44 7700 900123';
const NAME = 'Jane Doe';
const USER_AGENT = 'Mozilla/5.0 (JaneBook)';
/** What must never appear in a log line, not even in part (V8 quotes the first 10 characters of bad JSON). */
const PERSONAL = [/jane/i, /example\.com/, /7f3c9e2d/, /203\.0\.113/, /900123/, /JaneBook/];

const formatter = new PrivateLogFormatter('test-salt');
const h = (value: string) => formatter.pseudonym(value);

describe('PrivateLogFormatter', () => {
  it('pseudonymizes ids: stable, keyed by the salt, not readable, and a person id keeps its kind', () => {
    expect(h(EMAIL)).toMatch(/^h:[0-9a-f]{16}$/);
    expect(h(EMAIL)).toBe(new PrivateLogFormatter('test-salt').pseudonym(EMAIL));
    expect(h(EMAIL)).not.toBe(new PrivateLogFormatter('another-salt').pseudonym(EMAIL));
    expect(h(EMAIL)).not.toBe(h(ANONYMOUS_ID));
    expect(h(`user#${EMAIL}`)).toBe(`user#${h(EMAIL)}`);
    expect(h(h(EMAIL))).toBe(h(EMAIL)); // idempotent: a value scrubbed twice is the same
  });

  it('replaces personal keys at any depth, in any case or spelling, and drops personal objects whole', () => {
    const logged = {
      messageId: 'm1',
      count: 2,
      request: {
        UserId: EMAIL,
        anonymous_id: ANONYMOUS_ID,
        'Device-Id': 'dev-1',
        IP,
        User_Agent: USER_AGENT,
        traits: { name: NAME, phone: PHONE },
        context: { ip: IP },
        consent: { categoryPreferences: { analytics: true } },
        payload: JSON.stringify({ email: EMAIL }),
      },
      rejected: [{ index: 0, messageId: 'm2', reason: 'userId: must be a string' }],
      ids: [EMAIL, 42],
    };
    const copy = structuredClone(logged);
    expect(formatter.redact(logged)).toEqual({
      messageId: 'm1',
      count: 2,
      request: {
        UserId: h(EMAIL),
        anonymous_id: h(ANONYMOUS_ID),
        'Device-Id': h('dev-1'),
        IP: h(IP),
        User_Agent: h(USER_AGENT),
        traits: REDACTED,
        context: REDACTED,
        consent: REDACTED,
        payload: h(JSON.stringify({ email: EMAIL })),
      },
      rejected: [{ index: 0, messageId: 'm2', reason: 'userId: must be a string' }],
      ids: [h(EMAIL), h('42')],
    });
    expect(logged).toEqual(copy); // never mutated
    expect(['PartitionKey', 'previous_id', 'GROUPID', 'writeKey', 'headers', 'body'].every(isPersonalKey)).toBe(true);
    expect(['messageId', 'segmentId', 'erasureId', 'sourceId', 'reason', 'count', 'id', 'recordId'].some(isPersonalKey)).toBe(false);
  });

  it('scrubs free text of quoted values, emails and person ids, and keeps what only names fields', () => {
    expect(formatter.scrub(`Unexpected token 'j', "${EMAIL.slice(0, 10)}"... is not valid JSON`)).toBe(`Unexpected token '${h('j')}', "${h('jane.doe@e')}"... is not valid JSON`);
    expect(formatter.scrub(`1 validation error detected: Value '${EMAIL}' at 'userId' failed to satisfy constraint`)).toBe(
      `1 validation error detected: Value '${h(EMAIL)}' at '${h('userId')}' failed to satisfy constraint`,
    );
    expect(formatter.scrub(`Profile user#${EMAIL} kept changing; mail ${EMAIL}, device#d-1.`)).toBe(`Profile user#${h(EMAIL)} kept changing; mail ${h(EMAIL)}, device#${h('d-1.')}`);
    for (const clean of [
      "Expected ',' or '}' after property value in JSON at position 22",
      'timestamp: must be an ISO-8601 date-time such as 2024-05-01T12:00:00.000Z; userId: must be a string',
      "a person's lake objects: the definition's id",
    ]) {
      expect(formatter.scrub(clean)).toBe(clean);
    }
  });

  it('formats errors as Powertools does, with message, stack, cause and attributes scrubbed', () => {
    const cause = new Error(`Value '${EMAIL}' at 'records.1.member.partitionKey' failed to satisfy constraint`);
    const error = Object.assign(new Error(`Profile user#${EMAIL} could not be written`, { cause }), {
      $metadata: { httpStatusCode: 400, requestId: 'aws-req-1' },
      Item: { pk: { S: `user#${EMAIL}` }, traits: { M: { name: { S: NAME } } } },
      CancellationReasons: [{ Code: 'ConditionalCheckFailed', Message: `The item user#${EMAIL} changed` }],
    });
    const formatted = formatter.formatError(error);
    expect(formatted).toMatchObject({
      name: 'Error',
      location: expect.stringContaining('log-privacy.test.ts'),
      message: `Profile user#${h(EMAIL)} could not be written`,
      cause: { name: 'Error', message: `Value '${h(EMAIL)}' at '${h('records.1.member.partitionKey')}' failed to satisfy constraint` },
      $metadata: { httpStatusCode: 400, requestId: 'aws-req-1' },
      Item: REDACTED,
      CancellationReasons: [{ Code: 'ConditionalCheckFailed', Message: `The item user#${h(EMAIL)} changed` }],
    });
    expect(formatted.stack).toMatch(/^Error: Profile user#h:[0-9a-f]{16} could not be written\n\s+at /);
    expectNoPersonalData(JSON.stringify(formatted));
  });

  it('survives circular and very deep values', () => {
    const circular: Record<string, unknown> = { messageId: 'm1' };
    circular.self = circular;
    expect(formatter.redact(circular)).toEqual({ messageId: 'm1', self: '[circular or too deep]' });
    let deep: unknown = EMAIL;
    for (let i = 0; i < 50; i++) deep = { next: deep };
    expectNoPersonalData(JSON.stringify(formatter.redact(deep)));
  });

  it("scrubs a thrown error in place, keeping its class and a clean message (the authorizer's Unauthorized)", () => {
    const error = new TypeError(`Cannot read "${EMAIL}"`);
    formatter.scrubThrown(error);
    expect(error).toBeInstanceOf(TypeError);
    expectNoPersonalData(`${error.message}\n${error.stack}`);
    const unauthorized = new Error('Unauthorized');
    formatter.scrubThrown(unauthorized);
    expect(unauthorized.message).toBe('Unauthorized');
  });
});

describe('jsonSyntaxError', () => {
  it.each([`{"userId": "${EMAIL}", oops}`, EMAIL, `{"userId": "${EMAIL}"`, '', `"${EMAIL}`, `{"a": 1} ${EMAIL}`])('describes %j without quoting it', (text) => {
    let reason = '';
    try {
      parseJson(text);
    } catch (error) {
      reason = (error as Error).message;
    }
    expect(reason).toMatch(/^Malformed JSON: \S/);
    expectNoPersonalData(reason);
  });

  it('keeps the messages that name only a position and JSON syntax', () => {
    expect(jsonSyntaxError(new SyntaxError("Expected ',' or '}' after property value in JSON at position 22"))).toBe("Expected ',' or '}' after property value in JSON at position 22");
    expect(jsonSyntaxError(new SyntaxError('Unexpected end of JSON input'))).toBe('Unexpected end of JSON input');
  });
});

/** Every line the process writes to stdout and stderr (where Powertools' logger prints), while a test runs. */
let output: string[] = [];
beforeEach(() => {
  output = [];
  for (const stream of [process.stdout, process.stderr]) {
    jest.spyOn(stream, 'write').mockImplementation(((chunk: string | Uint8Array) => {
      output.push(String(chunk));
      return true;
    }) as typeof stream.write);
  }
});
afterEach(() => jest.restoreAllMocks());

/** The JSON log lines written so far. */
const logLines = (): Array<Record<string, unknown>> =>
  output
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));

function expectNoPersonalData(text: string): void {
  for (const pattern of PERSONAL) expect(text).not.toMatch(pattern);
}

/** The production instrumentation (`createInstrumentation`), and a check of everything its logger printed. */
function productionLogger(): Instrumentation & { expectClean: (messages: string[]) => string } {
  const tools = createInstrumentation();
  return {
    ...tools,
    expectClean: (messages) => {
      const lines = logLines();
      expect(lines.map((l) => l.message)).toEqual(expect.arrayContaining(messages));
      const text = output.join('');
      expectNoPersonalData(text);
      return text;
    },
  };
}

describe('the handlers log no personal data', () => {
  it('ingest: rejected events, a malformed body, a store and a stream that fail', async () => {
    const { logger, expectClean } = productionLogger();
    let streamMode: 'ok' | 'partial' | 'throw' = 'ok';
    const stream: EventStream = {
      put: async (events) => {
        if (streamMode === 'throw') throw new Error(`ValidationException: Value '${EMAIL}' at 'records.1.member.partitionKey' failed to satisfy constraint`);
        return streamMode === 'partial' ? { failed: [...events], lastError: `InternalFailure: record for ${EMAIL} not written` } : { failed: [] };
      },
    };
    const deps: IngestDeps = {
      stream,
      badEvents: { putAll: async () => Promise.reject(new Error(`1 validation error detected: Value '{"userId":"${EMAIL}"}' at 'records.1.member.data' failed`)) },
      writeKeys: { matches: async () => false },
      now: () => T0,
      logger,
      metrics: disabledMetrics(),
    };
    const post = (body: string) => {
      const event = apiEvent({ resource: '/v1/batch', headers: { 'Content-Type': 'application/json' }, body });
      event.requestContext = { requestId: 'req-1', authorizer: { sourceId: 'src_test' } } as unknown as typeof event.requestContext;
      return handleIngest(event, deps);
    };
    const batch = {
      context: { ip: IP, userAgent: USER_AGENT },
      batch: [
        { type: 'track', event: 'Signed Up', userId: EMAIL, messageId: 'm-ok' },
        { type: 'identify', userId: EMAIL, traits: { name: NAME, email: EMAIL, phone: PHONE }, timestamp: 'yesterday', messageId: 'm-bad-1' },
        { type: 'track', anonymousId: ANONYMOUS_ID, event: { email: EMAIL }, properties: { email: EMAIL }, messageId: 'm-bad-2' },
        { type: 'track', userId: { email: EMAIL }, event: 'Signed Up', messageId: 'm-bad-3' },
      ],
    };

    expect((await post(JSON.stringify(batch))).statusCode).toBe(400);
    expect((await post(`{"userId": "${EMAIL}", "context": {"ip": "${IP}"} oops`)).statusCode).toBe(400);
    streamMode = 'partial';
    expect((await post(JSON.stringify(batch))).statusCode).toBe(503);
    streamMode = 'throw';
    expect((await post(JSON.stringify(batch))).statusCode).toBe(500);

    const text = expectClean(['Events rejected', 'Rejected events could not be recorded', 'Request rejected', 'Events could not be written to the stream', 'Ingestion failed']);
    // What is not personal is still there: message ids, and reasons naming the field and the rule.
    for (const kept of ['m-bad-1', 'm-bad-2', 'm-bad-3', 'timestamp: must be an ISO-8601', 'event: must be a string', 'userId: must be a string', 'Malformed JSON']) expect(text).toContain(kept);
  });

  it('profiles: a failing read, and a consent statement the stream does not take', async () => {
    const { logger, expectClean } = productionLogger();
    const profiles = new InMemoryProfileStore();
    const deps: ProfilesDeps = {
      profiles,
      identities: new InMemoryIdentityStore(),
      events: { put: async (events) => ({ failed: [...events], lastError: `ProvisionedThroughputExceededException: partition key '${ANONYMOUS_ID}'` }) },
      settings: DEFAULT_PROFILE_SETTINGS,
      now: () => T0,
      newId: () => 'c-1',
      logger,
      metrics: disabledMetrics(),
    };
    profiles.beforeGet = profiles.beforeGetMany = () => {
      throw new Error(`Throttled reading user#${EMAIL}`);
    };
    const get = await handleProfiles(apiEvent({ resource: '/v1/profiles/{userId}', method: 'GET', pathParameters: { userId: EMAIL } }), deps);
    expect(get.statusCode).toBe(500);
    const put = await handleProfiles(
      apiEvent({
        resource: '/v1/profiles/{userId}/consent',
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        pathParameters: { userId: ANONYMOUS_ID },
        queryStringParameters: { idType: 'anonymousId' },
        body: JSON.stringify({ categoryPreferences: { personalization: false } }),
      }),
      deps,
    );
    expect(put.statusCode).toBe(503);
    expectClean(['Profile request failed', 'Consent statement not written']);
  });

  it('recommend: Personalize and the exposure stream failing, then the model store', async () => {
    const { logger, expectClean } = productionLogger();
    const model = new InMemoryModelStore();
    model.catalogFallback = [{ itemId: 'p1', score: 1, categories: [] }];
    const deps: RecommendDeps = {
      profiles: new InMemoryProfileStore(),
      identities: new InMemoryIdentityStore(),
      model,
      events: { put: async (events) => ({ failed: [...events], lastError: `InternalFailure: ${EMAIL}` }) },
      config: resolveRecommendConfig({ strategy: 'personalize' }, { personalizeAvailable: true }),
      consent: DEFAULT_CONSENT_SETTINGS,
      affinityHalfLifeDays: 14,
      personalize: { recommend: async () => Promise.reject(new Error(`1 validation error detected: Value '${EMAIL}' at 'userId' failed to satisfy constraint`)) },
      now: () => T0,
      newId: () => 'rec-1',
      logger,
      metrics: disabledMetrics(),
    };
    const get = (query: Record<string, string>) => handleRecommend(apiEvent({ resource: '/v1/recommendations', method: 'GET', queryStringParameters: query }), deps);
    expect((await get({ userId: EMAIL })).statusCode).toBe(200);
    model.servingState = async () => Promise.reject(new Error(`Profile anon#${ANONYMOUS_ID} redirects more than 8 times`));
    expect((await get({ anonymousId: ANONYMOUS_ID })).statusCode).toBe(500);
    const text = expectClean(['Amazon Personalize failed; serving the built-in strategy', 'Exposure event not written', 'Recommendation failed']);
    expect(text).toContain('rec-1');
  });

  it('process-records: a poison record, an invalid one, and a profile store that fails, through the instrumented handler', async () => {
    const { expectClean, ...tools } = productionLogger();
    const profiles = new InMemoryProfileStore();
    profiles.beforePut = () => {
      throw new Error(`ConditionalCheckFailedException: Profile user#${EMAIL} (traits ${JSON.stringify({ name: NAME })})`);
    };
    const deps: ProcessDeps = {
      profiles,
      identities: new InMemoryIdentityStore(),
      badEvents: { putAll: async () => {} },
      settings: DEFAULT_PROFILE_SETTINGS,
      now: () => T0,
      logger: tools.logger,
      metrics: disabledMetrics(),
    };
    const poison = kinesisRecord(`{"userId": "${EMAIL}", "traits": {"name": "${NAME}"} oops`, { partitionKey: EMAIL, sequenceNumber: '4960' });
    const invalid = kinesisRecord({ type: 'identify', userId: EMAIL, traits: { phone: PHONE }, context: { ip: IP } }, { partitionKey: EMAIL, sequenceNumber: '4961' });
    const valid = kinesisRecord(identify({ name: NAME, phone: PHONE }, { userId: EMAIL, messageId: 'm-1', context: { ip: IP } }), { partitionKey: EMAIL });

    const failures = await processRecords([poison, invalid, valid], deps);
    expect(failures.size).toBe(1);

    // Every record failing: the batch processor throws, the instrumented handler logs and rethrows it.
    const handler = instrumented(tools, (event: KinesisStreamEvent) =>
      processPartialResponse(event, (records: KinesisStreamEvent['Records']) => processRecords(records, deps), new CoalescingKinesisProcessor()),
    );
    const thrown = await handler(kinesisEvent([valid]), { functionName: 'process', awsRequestId: 'req-9' } as Context).catch((error: Error) => error);
    expect(thrown).toBeInstanceOf(Error);
    expectNoPersonalData(`${(thrown as Error).message}\n${(thrown as Error).stack}`);

    const text = expectClean(['Stream records rejected', 'Profiles not written; their records will be retried', 'Invocation failed']);
    for (const kept of ['shardId-000000000000/4960', 'Record data is not JSON', 'shardId-000000000000/4961', 'timestamp: ']) expect(text).toContain(kept);
  });

  it('segments clock: a profile read and a notice delivery that fail', async () => {
    const { logger, expectClean } = productionLogger();
    const definition = parseSegmentDefinition({ id: 'cart-abandoners', name: 'Carts', condition: { cart: { addedWithin: '10m' } } });
    const profiles = new InMemoryProfileStore();
    let now = T0;
    const bus = { publish: async (): Promise<void> => Promise.reject(new Error(`EventBridge refused the notice of user#${EMAIL}`)) };
    const segments = { definitions: async () => [definition], bus };
    await updateProfiles([productAdded('p1', {}, { userId: EMAIL, at: T0 })], { profiles, identities: new InMemoryIdentityStore(), settings: DEFAULT_PROFILE_SETTINGS, now: () => now, segments });
    const deps = { profiles, definitions: segments.definitions, bus, settings: DEFAULT_PROFILE_SETTINGS, now: () => now, logger, metrics: disabledMetrics() };

    now = T0 + MINUTE;
    expect(await runSegmentClock(deps)).toMatchObject({ due: 1, noticesDelayed: 1 });
    profiles.beforeGet = (_store, profileId) => {
      throw new Error(`Throttled reading ${profileId}`);
    };
    expect(await runSegmentClock(deps)).toMatchObject({ due: 1, skipped: 1 });
    expectClean(['Segment notices not published; they stay queued', 'Segment check failed; the profile stays due']);
  });

  it('privacy: an erasure whose lake step fails, and a request whose store fails', async () => {
    const { logger, expectClean } = productionLogger();
    let now = T0;
    const profiles = new InMemoryProfileStore();
    const identities = new InMemoryIdentityStore();
    const published: SegmentNotice[] = [];
    const bus = { publish: async (notices: readonly SegmentNotice[]) => void published.push(...notices) };
    await updateProfiles(
      [track('Product Viewed', { product_id: 'p1' }, { anonymousId: ANONYMOUS_ID, at: T0 - MINUTE }), identify({ email: EMAIL, phone: PHONE }, { userId: EMAIL, anonymousId: ANONYMOUS_ID, at: T0 - MINUTE })],
      { profiles, identities, settings: DEFAULT_PROFILE_SETTINGS, now: () => now },
    );
    const records = new Map<string, ErasureRecord>();
    const erasures: ErasureStore = {
      put: async (record) => void records.set(record.erasureId, structuredClone(record)),
      get: async (id) => structuredClone(records.get(id)),
      listDue: async (at) => [...records.values()].filter((r) => r.status === 'pending' && r.notBefore <= at).map((r) => structuredClone(r)),
    };
    const deps: PrivacyApiDeps = {
      profiles,
      identities,
      erasures,
      lake: {
        finder: { objectsHolding: async () => Promise.reject(new Error(`Athena query q-1 failed: HIVE_BAD_DATA: Error parsing field value '${EMAIL}' for field 2`)) },
        objects: { list: async function* () {}, read: async () => undefined, write: async () => {}, delete: async () => {} },
      },
      bus,
      settings: DEFAULT_PROFILE_SETTINGS,
      settleSeconds: 180,
      now: () => now,
      newId: () => 'erasure-1',
      logger,
      metrics: disabledMetrics(),
    };
    const erase = (userId: string) => handlePrivacy(apiEvent({ resource: '/v1/profiles/{userId}', method: 'DELETE', pathParameters: { userId } }), deps);
    expect((await erase(EMAIL)).statusCode).toBe(202);
    now = T0 + 10 * MINUTE;
    expect(await runErasures(deps)).toMatchObject({ failed: 1 });
    profiles.beforeGetMany = profiles.beforeGet = () => {
      throw new Error(`Throttled reading user#${EMAIL}`);
    };
    expect((await erase(EMAIL)).statusCode).toBe(500);
    const text = expectClean(['Erasure requested', 'Erasure step failed; retried next run', 'Privacy request failed']);
    expect(text).toContain('erasure-1');
  });
});
