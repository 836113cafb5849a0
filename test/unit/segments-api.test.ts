import { gzipSync } from 'node:zlib';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { handleSegments, MAX_SEGMENT_BODY_BYTES, SegmentsDeps } from '../../lambdas/segments/api';
import { SEGMENT_LIMITS } from '../../lambdas/shared/domain/segments';
import { apiEvent, jsonBody } from '../support/http';
import { InMemorySegmentStore, largestSegmentDefinition } from '../support/in-memory-segment-store';
import { disabledMetrics, recordMetrics, silentLogger } from '../support/powertools';
import { T0 } from '../support/events';


const COLLECTION = '/v1/segments';
const ONE = '/v1/segments/{segmentId}';
const CONDITION = { event: { name: 'Order Completed', within: '7d' } };
const body = (id: string | undefined, extra: Record<string, unknown> = {}) => ({ ...(id !== undefined ? { id } : {}), name: `Segment ${id}`, condition: CONDITION, ...extra });
const iso = (ms: number) => new Date(ms).toISOString();

interface Call {
  resource?: string;
  method: string;
  segmentId?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

function setup() {
  const segments = new InMemorySegmentStore();
  const metrics = disabledMetrics();
  const recorded = recordMetrics(metrics);
  let now = T0;
  const deps: SegmentsDeps = { segments, now: () => now, logger: silentLogger(), metrics };
  const call = (c: Call) =>
    handleSegments(
      apiEvent({
        resource: c.resource ?? (c.segmentId === undefined ? COLLECTION : ONE),
        method: c.method,
        headers: c.headers ?? { 'Content-Type': 'application/json' },
        pathParameters: c.segmentId === undefined ? null : { segmentId: c.segmentId },
        body: c.body === undefined ? null : typeof c.body === 'string' || Buffer.isBuffer(c.body) ? c.body : jsonBody(c.body),
      }),
      deps,
    );
  /** Stores `count` valid definitions directly, `seg-000`, `seg-001`, … */
  const fill = (count: number) => {
    for (let i = 0; i < count; i++) {
      const id = `seg-${String(i).padStart(3, '0')}`;
      segments.seed({ definition: { id, name: id, condition: CONDITION }, version: 1, createdAt: T0, updatedAt: T0 });
    }
  };
  return { segments, deps, call, fill, recorded, setNow: (ms: number) => (now = ms) };
}
const bodyOf = (response: APIGatewayProxyResult) => JSON.parse(response.body);

describe('POST /v1/segments', () => {
  it('creates a definition: 201 with the stored segment and its Location', async () => {
    const { call, segments, recorded } = setup();
    const response = await call({ method: 'POST', body: body('buyers', { name: '  Buyers ', description: 'Bought this week' }) });
    expect(response.statusCode).toBe(201);
    expect(response.headers?.Location).toBe('/v1/segments/buyers');
    const created = { id: 'buyers', name: 'Buyers', description: 'Bought this week', condition: CONDITION, version: 1, createdAt: iso(T0), updatedAt: iso(T0) };
    expect(bodyOf(response)).toEqual(created);
    expect(segments.peek('buyers')).toEqual({ definition: { id: 'buyers', name: 'Buyers', description: 'Bought this week', condition: CONDITION }, version: 1, createdAt: T0, updatedAt: T0 });
    expect(recorded.get('SegmentsCreated')).toBe(1);
  });

  it('answers 409 when the id exists, keeping the stored definition', async () => {
    const { call, segments } = setup();
    await call({ method: 'POST', body: body('buyers') });
    const response = await call({ method: 'POST', body: body('buyers', { name: 'Other' }) });
    expect(response.statusCode).toBe(409);
    expect(bodyOf(response).message).toBe('Segment "buyers" already exists; replace it with PUT /v1/segments/buyers');
    expect(segments.peek('buyers')).toMatchObject({ definition: { name: 'Segment buyers' }, version: 1 });
  });

  it('answers 409 when the id was taken between the check and the write', async () => {
    const { call, segments } = setup();
    segments.beforeCall = (method) => {
      if (method === 'put') segments.seed({ definition: { id: 'buyers', name: 'Racer', condition: CONDITION }, version: 1, createdAt: T0, updatedAt: T0 });
    };
    const response = await call({ method: 'POST', body: body('buyers') });
    expect(response.statusCode).toBe(409);
    expect(segments.peek('buyers')).toMatchObject({ definition: { name: 'Racer' } });
  });

  it(`answers 409 once there are ${SEGMENT_LIMITS.segments} definitions, invalid ones included`, async () => {
    const { call, fill, segments } = setup();
    fill(SEGMENT_LIMITS.segments - 2);
    expect((await call({ method: 'POST', body: body('one-more') })).statusCode).toBe(201);
    segments.seed({ id: 'old', problem: 'no longer valid', version: 1, createdAt: T0, updatedAt: T0 });
    const response = await call({ method: 'POST', body: body('too-many') });
    expect(response.statusCode).toBe(409);
    expect(bodyOf(response).message).toBe(`There are already ${SEGMENT_LIMITS.segments} segment definitions, the most allowed; delete one first`);
    expect(segments.peek('too-many')).toBeUndefined();
    // An id that is taken says so, rather than blaming the limit.
    expect(bodyOf(await call({ method: 'POST', body: body('seg-000') })).message).toBe('Segment "seg-000" already exists; replace it with PUT /v1/segments/seg-000');
  });

  it.each([
    ['an unknown condition', body('bad', { condition: { visits: 3 } }), 'condition: unknown condition "visits"'],
    ['a missing name', { id: 'x', condition: CONDITION }, 'name: is required'],
    ['a bare array', [body('x')], 'Invalid segment definition: must be a JSON object'],
    ['malformed JSON', '{"id": ', 'Malformed JSON'],
  ])('answers 400 for %s, naming the problems and writing nothing', async (_label, payload, problem) => {
    const { call, segments } = setup();
    const response = await call({ method: 'POST', body: payload });
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response)).toEqual({ success: false, message: expect.stringContaining(problem) });
    expect(segments.calls.put).toBe(0);
  });

  it('names every problem of a definition at once', async () => {
    const { call } = setup();
    const response = await call({ method: 'POST', body: { id: 'Bad Id', condition: { event: { name: 'X', within: '1y' } } } });
    const { message } = bodyOf(response);
    expect(message).toContain('id: must be 1-64 lowercase');
    expect(message).toContain('name: is required');
    expect(message).toContain('condition.event.within: must be a duration');
  });

  it('answers 400 for an empty body', async () => {
    const { call } = setup();
    const response = await call({ method: 'POST' });
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).message).toBe('Request body is empty');
  });

  it('accepts the largest definition the schema allows, which is well over 200 KB', async () => {
    const { call } = setup();
    const largest = jsonBody(largestSegmentDefinition());
    expect(largest.byteLength).toBeGreaterThan(200 * 1024);
    expect(largest.byteLength).toBeLessThanOrEqual(MAX_SEGMENT_BODY_BYTES);
    expect((await call({ method: 'POST', body: largest })).statusCode).toBe(201);
  });

  it('answers 413 for a body over the limit, plain or gzipped', async () => {
    const { call, segments } = setup();
    const oversized = jsonBody(body('big', { description: 'x'.repeat(MAX_SEGMENT_BODY_BYTES) }));
    const plain = await call({ method: 'POST', body: oversized });
    expect(plain.statusCode).toBe(413);
    expect(bodyOf(plain).message).toBe(`Request body is larger than ${MAX_SEGMENT_BODY_BYTES} bytes (256 KB)`);
    const gzipped = await call({
      method: 'POST',
      body: gzipSync(oversized),
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
    });
    expect(gzipped.statusCode).toBe(413);
    expect(segments.calls.put).toBe(0);
  });

  it('answers 415 for a body that is not JSON, and reads a body without a Content-Type as JSON', async () => {
    const { call } = setup();
    const response = await call({ method: 'POST', body: body('x'), headers: { 'Content-Type': 'text/plain' } });
    expect(response.statusCode).toBe(415);
    expect(bodyOf(response).message).toBe('Unsupported Content-Type "text/plain": send application/json');
    expect((await call({ method: 'POST', body: body('x'), headers: {} })).statusCode).toBe(201);
  });
});

describe('GET /v1/segments', () => {
  it('lists the segments sorted by id', async () => {
    const { call, setNow } = setup();
    await call({ method: 'POST', body: body('b') });
    setNow(T0 + 1000);
    await call({ method: 'POST', body: body('a', { description: 'First' }) });
    const response = await call({ method: 'GET' });
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual({
      segments: [
        { id: 'a', name: 'Segment a', description: 'First', condition: CONDITION, version: 1, createdAt: iso(T0 + 1000), updatedAt: iso(T0 + 1000) },
        { id: 'b', name: 'Segment b', condition: CONDITION, version: 1, createdAt: iso(T0), updatedAt: iso(T0) },
      ],
    });
  });

  it('lists none as an empty array', async () => {
    const { call } = setup();
    expect(bodyOf(await call({ method: 'GET' }))).toEqual({ segments: [] });
  });

  it('shows stored definitions that no longer validate apart, with the reason', async () => {
    const { call, fill, segments } = setup();
    fill(1);
    segments.seed({ id: 'old', problem: 'Invalid segment definition: condition: unknown condition "visits"', version: 2, createdAt: T0, updatedAt: T0 + 1 });
    expect(bodyOf(await call({ method: 'GET' }))).toEqual({
      segments: [expect.objectContaining({ id: 'seg-000' })],
      invalid: [{ id: 'old', problem: 'Invalid segment definition: condition: unknown condition "visits"', version: 2, createdAt: iso(T0), updatedAt: iso(T0 + 1) }],
    });
  });
});

describe('GET /v1/segments/{segmentId}', () => {
  it('returns one segment', async () => {
    const { call } = setup();
    await call({ method: 'POST', body: body('buyers') });
    const response = await call({ method: 'GET', segmentId: 'buyers' });
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual({ id: 'buyers', name: 'Segment buyers', condition: CONDITION, version: 1, createdAt: iso(T0), updatedAt: iso(T0) });
  });

  it('answers 404 for an unknown id', async () => {
    const { call } = setup();
    const response = await call({ method: 'GET', segmentId: 'nobody' });
    expect(response.statusCode).toBe(404);
    expect(bodyOf(response)).toEqual({ success: false, message: 'No segment "nobody"' });
  });

  it('answers 409 for a stored definition that no longer validates, saying how to mend it', async () => {
    const { call, segments } = setup();
    segments.seed({ id: 'old', problem: 'condition: unknown condition "visits"', version: 1, createdAt: T0, updatedAt: T0 });
    const response = await call({ method: 'GET', segmentId: 'old' });
    expect(response.statusCode).toBe(409);
    expect(bodyOf(response).message).toBe(
      'Segment "old" is stored but no longer valid (condition: unknown condition "visits"); replace it with PUT or remove it with DELETE',
    );
  });

  it.each([
    ['uppercase', 'Buyers'],
    ['a leading hyphen', '-buyers'],
    ['a percent-encoded slash', encodeURIComponent('a/b')],
    ['65 characters', 'a'.repeat(65)],
  ])('answers 400 for an id with %s, as the schema does for a definition id, without reading', async (_label, segmentId) => {
    const { call, segments } = setup();
    const response = await call({ method: 'GET', segmentId });
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).message).toBe('segmentId must be 1-64 lowercase letters, digits or hyphens, starting with a letter or digit');
    expect(segments.calls.get).toBe(0);
  });

  it('decodes a percent-encoded id', async () => {
    const { call } = setup();
    await call({ method: 'POST', body: body('buyers') });
    expect((await call({ method: 'GET', segmentId: '%62uyers' })).statusCode).toBe(200);
  });
});

describe('PUT /v1/segments/{segmentId}', () => {
  it('creates (201, with Location) and then replaces (200, version + 1, createdAt kept)', async () => {
    const { call, setNow, recorded } = setup();
    const created = await call({ method: 'PUT', segmentId: 'buyers', body: body(undefined, { name: 'Buyers' }) });
    expect(created.statusCode).toBe(201);
    expect(created.headers?.Location).toBe('/v1/segments/buyers');
    expect(bodyOf(created)).toMatchObject({ id: 'buyers', name: 'Buyers', version: 1 });
    setNow(T0 + 5000);
    const replaced = await call({ method: 'PUT', segmentId: 'buyers', body: body('buyers', { name: 'Big buyers' }) });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.headers).not.toHaveProperty('Location');
    expect(bodyOf(replaced)).toEqual({ id: 'buyers', name: 'Big buyers', condition: CONDITION, version: 2, createdAt: iso(T0), updatedAt: iso(T0 + 5000) });
    expect(Object.fromEntries(recorded)).toEqual({ SegmentsCreated: 1, SegmentsReplaced: 1 });
  });

  it('replaces a stored definition that no longer validates', async () => {
    const { call, segments } = setup();
    segments.seed({ id: 'old', problem: 'no longer valid', version: 3, createdAt: T0, updatedAt: T0 });
    const response = await call({ method: 'PUT', segmentId: 'old', body: body('old') });
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toMatchObject({ id: 'old', version: 4, createdAt: iso(T0) });
  });

  it('answers 400 when the body names another id, writing nothing', async () => {
    const { call, segments } = setup();
    const response = await call({ method: 'PUT', segmentId: 'buyers', body: body('sellers') });
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).message).toBe('The body\'s id "sellers" is not the path\'s segment id "buyers"; leave it out or make them equal');
    expect((await call({ method: 'PUT', segmentId: 'buyers', body: body(undefined, { id: 7 }) })).statusCode).toBe(400);
    expect(segments.calls.put).toBe(0);
  });

  it('answers 400 with the reasons for an invalid definition', async () => {
    const { call } = setup();
    const response = await call({ method: 'PUT', segmentId: 'buyers', body: { condition: {} } });
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).message).toBe('Invalid segment definition: name: is required; condition: must hold exactly one condition: all, any, not, event, lastSeen, rfm, affinity, trait, cart, consent');
  });

  it('answers 400 for a malformed path id', async () => {
    const { call } = setup();
    expect((await call({ method: 'PUT', segmentId: 'Buyers', body: body(undefined) })).statusCode).toBe(400);
  });

  it(`answers 409 for a new segment once there are ${SEGMENT_LIMITS.segments}, and still replaces one`, async () => {
    const { call, fill, segments } = setup();
    fill(SEGMENT_LIMITS.segments);
    const refused = await call({ method: 'PUT', segmentId: 'too-many', body: body('too-many') });
    expect(refused.statusCode).toBe(409);
    expect(segments.peek('too-many')).toBeUndefined();
    expect((await call({ method: 'PUT', segmentId: 'seg-007', body: body('seg-007') })).statusCode).toBe(200);
  });

  it('answers 415 for a body that is not JSON', async () => {
    const { call } = setup();
    const response = await call({ method: 'PUT', segmentId: 'x', body: body('x'), headers: { 'Content-Type': 'application/xml' } });
    expect(response.statusCode).toBe(415);
  });
});

describe('DELETE /v1/segments/{segmentId}', () => {
  it('deletes: 204 without a body, then 404', async () => {
    const { call, segments, recorded } = setup();
    await call({ method: 'POST', body: body('buyers') });
    const response = await call({ method: 'DELETE', segmentId: 'buyers' });
    expect(response).toEqual({ statusCode: 204, headers: {}, body: '' });
    expect(segments.peek('buyers')).toBeUndefined();
    expect(recorded.get('SegmentsDeleted')).toBe(1);
    expect((await call({ method: 'DELETE', segmentId: 'buyers' })).statusCode).toBe(404);
    expect(recorded.get('SegmentsDeleted')).toBe(1);
  });
});

describe('every route', () => {
  const routes: Call[] = [
    { method: 'GET' },
    { method: 'POST', body: body('x') },
    { method: 'GET', segmentId: 'x' },
    { method: 'PUT', segmentId: 'x', body: body('x') },
    { method: 'DELETE', segmentId: 'x' },
  ];
  const label = (c: Call) => `${c.method} ${c.segmentId === undefined ? COLLECTION : ONE}`;

  it('answers 500 Internal error, without throwing, when the store fails', async () => {
    const { call, segments, deps } = setup();
    const logged = jest.spyOn(deps.logger, 'error');
    segments.beforeCall = () => {
      throw new Error('DynamoDB unavailable');
    };
    for (const route of routes) {
      const response = await call(route);
      expect([label(route), response.statusCode, bodyOf(response)]).toEqual([label(route), 500, { success: false, message: 'Internal error' }]);
    }
    expect(logged).toHaveBeenCalledTimes(routes.length);
    expect(logged).toHaveBeenCalledWith('Segment request failed', expect.objectContaining({ message: 'DynamoDB unavailable' }));
  });

  it('answers 405 with Allow for a method a resource does not have', async () => {
    const { call } = setup();
    const collection = await call({ method: 'DELETE' });
    expect(collection.statusCode).toBe(405);
    expect(collection.headers?.Allow).toBe('GET, POST');
    const one = await call({ method: 'POST', segmentId: 'x', body: body('x') });
    expect(one.statusCode).toBe(405);
    expect(one.headers?.Allow).toBe('GET, PUT, DELETE');
  });

  it('answers 404 for a resource it does not serve', async () => {
    const { call } = setup();
    const response = await call({ method: 'GET', resource: '/v1/segments/{segmentId}/members', segmentId: 'x' });
    expect(response.statusCode).toBe(404);
    expect(bodyOf(response).message).toBe('No route /v1/segments/{segmentId}/members');
  });
});
