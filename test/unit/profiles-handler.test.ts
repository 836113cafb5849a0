import type { APIGatewayProxyResult } from 'aws-lambda';
import { handleProfiles, ProfilesDeps } from '../../lambdas/profiles/profiles';
import type { StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { applyBatch, ProfileRecord } from '../../lambdas/shared/domain/profile-record';
import { DEFAULT_PROFILE_SETTINGS } from '../../lambdas/shared/domain/settings';
import { InMemoryIdentityStore } from '../support/in-memory-identity-store';
import { InMemoryProfileStore } from '../support/in-memory-profile-store';
import { apiEvent } from '../support/http';
import { disabledMetrics, recordMetrics, silentLogger } from '../support/powertools';
import { DAY, identify, T0, track } from '../support/events';


function setup(now = T0) {
  const profiles = new InMemoryProfileStore();
  const metrics = disabledMetrics();
  const recorded = recordMetrics(metrics);
  const written: StreamEvent[] = [];
  let streamFails = false;
  const events = {
    put: async (batch: StreamEvent[]) => (streamFails ? { failed: batch, lastError: 'ProvisionedThroughputExceededException' } : (written.push(...batch), { failed: [] })),
  };
  const deps: ProfilesDeps = {
    profiles,
    identities: new InMemoryIdentityStore(),
    events,
    settings: DEFAULT_PROFILE_SETTINGS,
    now: () => now,
    newId: () => 'id-1',
    logger: silentLogger(),
    metrics,
  };
  const seed = (profileId: string, events: Parameters<typeof applyBatch>[2], writtenAt = T0) => {
    const record = applyBatch(undefined, profileId, events, DEFAULT_PROFILE_SETTINGS, writtenAt).next as ProfileRecord;
    profiles.seed(record);
    return record;
  };
  const get = (userId: string | undefined, opts: { query?: Record<string, string> } = {}) =>
    handleProfiles(
      apiEvent({
        resource: '/v1/profiles/{userId}',
        method: 'GET',
        pathParameters: userId === undefined ? null : { userId },
        queryStringParameters: opts.query ?? null,
      }),
      deps,
    );
  const putConsent = (userId: string, body: unknown, query: Record<string, string> | null = null) =>
    handleProfiles(
      apiEvent({
        resource: '/v1/profiles/{userId}/consent',
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        pathParameters: { userId },
        queryStringParameters: query,
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
      deps,
    );
  return { profiles, deps, seed, get, putConsent, written, failStream: () => (streamFails = true), recorded };
}
const bodyOf = (response: APIGatewayProxyResult) => JSON.parse(response.body);

describe('handleGetProfile', () => {
  it('returns the profile view of a userId', async () => {
    const { seed, get, recorded } = setup();
    seed('user#u1', [identify({ plan: 'pro' }, { userId: 'u1' }), track('Signed Up', {}, { userId: 'u1' })]);
    const response = await get('u1');
    expect(response.statusCode).toBe(200);
    const view = bodyOf(response);
    expect(view).toMatchObject({ profileId: 'user#u1', userId: 'u1', traits: { plan: 'pro' }, events: { 'Signed Up': 1 }, version: 1 });
    expect(view).not.toHaveProperty('traitStamps');
    expect(recorded.get('ProfilesServed')).toBe(1);
  });

  it('answers 404 for an unknown profile', async () => {
    const { get, recorded } = setup();
    const response = await get('nobody');
    expect(response.statusCode).toBe(404);
    expect(recorded.get('ProfilesNotFound')).toBe(1);
    expect(bodyOf(response).message).toBe('No profile for userId "nobody"');
  });

  it('answers 404 for a profile that has expired but is not deleted yet', async () => {
    const { seed, get, profiles } = setup(T0 + 31 * DAY);
    seed('anon#a1', [track('E', {}, { anonymousId: 'a1' })]); // anonymous: 30 days
    expect(profiles.peek('anon#a1')).toBeDefined();
    expect((await get('a1', { query: { idType: 'anonymousId' } })).statusCode).toBe(404);
  });

  it('still returns a profile the day before it expires', async () => {
    const { seed, get } = setup(T0 + 29 * DAY);
    seed('anon#a1', [track('E', {}, { anonymousId: 'a1' })]);
    expect((await get('a1', { query: { idType: 'anonymousId' } })).statusCode).toBe(200);
  });

  it('reads an anonymous profile with idType=anonymousId, and not as a userId', async () => {
    const { seed, get } = setup();
    seed('anon#a1', [track('E', {}, { anonymousId: 'a1' })]);
    const response = await get('a1', { query: { idType: 'anonymousId' } });
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response).profileId).toBe('anon#a1');
    expect((await get('a1')).statusCode).toBe(404);
    expect((await get('a1', { query: { idType: 'userId' } })).statusCode).toBe(404);
  });

  it('answers 400 for an unknown idType', async () => {
    const { get } = setup();
    expect((await get('a1', { query: { idType: 'email' } })).statusCode).toBe(400);
  });

  it('decodes a percent-encoded path parameter', async () => {
    const { seed, get } = setup();
    seed('user#ann@example.com/x y%', [track('E', {}, { userId: 'ann@example.com/x y%' })]);
    const response = await get(encodeURIComponent('ann@example.com/x y%'));
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response).userId).toBe('ann@example.com/x y%');
  });

  it('uses a path parameter that is not valid percent-encoding as it is', async () => {
    const { seed, get } = setup();
    seed('user#100%', [track('E', {}, { userId: '100%' })]);
    expect((await get('100%')).statusCode).toBe(200);
  });

  it('answers 400 without the path parameter', async () => {
    const { get } = setup();
    expect((await get(undefined)).statusCode).toBe(400);
  });

  it('answers 500 JSON, without throwing, when the store fails', async () => {
    const { get, profiles } = setup();
    profiles.beforeGet = () => {
      throw new Error('DynamoDB unavailable');
    };
    const response = await get('u1');
    expect(response.statusCode).toBe(500);
    expect(bodyOf(response)).toEqual({ message: 'Internal error' });
  });
});

describe('PUT /v1/profiles/{userId}/consent', () => {
  it('puts an admin consent statement on the stream, in Segment’s format, for a user or an anonymous id', async () => {
    const { putConsent, written } = setup();
    const response = await putConsent('u1', { categoryPreferences: { Personalization: false, Analytics: true } });
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toEqual({ messageId: 'consent-id-1', categoryPreferences: { Personalization: false, Analytics: true } });
    expect(written).toEqual([
      expect.objectContaining({
        type: 'track',
        event: 'Segment Consent Preference Updated',
        userId: 'u1',
        messageId: 'consent-id-1',
        sourceId: 'admin-api',
        timestamp: new Date(T0).toISOString(),
        context: { consent: { categoryPreferences: { Personalization: false, Analytics: true } } },
      }),
    ]);
    expect((await putConsent('a1', { categoryPreferences: { analytics: false } }, { idType: 'anonymousId' })).statusCode).toBe(202);
    expect(written[1]).toMatchObject({ anonymousId: 'a1' });
    expect(written[1]).not.toHaveProperty('userId');
  });

  it.each([
    [{}, 'categoryPreferences'],
    [{ categoryPreferences: {} }, 'at least one category'],
    [{ categoryPreferences: { Analytics: 'yes' } }, 'categoryPreferences.Analytics must be true or false'],
    [{ categoryPreferences: { [' '.repeat(3)]: true } }, 'must be 1 to 64 characters'],
    [{ categoryPreferences: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`c${i}`, true])) }, 'at most 32'],
    ['{not json', 'JSON'],
  ])('refuses %j with a 400 naming the problem, writing nothing', async (body, problem) => {
    const { putConsent, written } = setup();
    const response = await putConsent('u1', body);
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).message).toContain(problem);
    expect(written).toEqual([]);
  });

  it('answers 503 with Retry-After when the stream does not take the statement', async () => {
    const { putConsent, failStream } = setup();
    failStream();
    const response = await putConsent('u1', { categoryPreferences: { analytics: false } });
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['Retry-After']).toBe('1');
  });

  it('answers 405 for another method, with Allow', async () => {
    const { deps } = setup();
    const response = await handleProfiles(
      apiEvent({ resource: '/v1/profiles/{userId}/consent', method: 'DELETE', pathParameters: { userId: 'u1' } }),
      deps,
    );
    expect(response.statusCode).toBe(405);
    expect(response.headers?.Allow).toBe('PUT');
  });
});
