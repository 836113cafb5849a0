import { handlePrivacy, PrivacyApiDeps, runErasures } from '../../lambdas/privacy/privacy';
import { updateProfiles } from '../../lambdas/process/update-profiles';
import { ERASED, ErasureRecord } from '../../lambdas/shared/domain/erasure';
import type { ProfileRecord } from '../../lambdas/shared/domain/profile-record';
import { SegmentNotice } from '../../lambdas/shared/domain/segment-membership';
import { parseSegmentDefinition } from '../../lambdas/shared/domain/segments';
import { DEFAULT_PROFILE_SETTINGS } from '../../lambdas/shared/domain/settings';
import type { ErasureStore } from '../../lambdas/shared/store/erasure-store';
import type { LakeAccess } from '../../lambdas/shared/store/lake-eraser';
import { identify, MINUTE, T0, track } from '../support/events';
import { apiEvent } from '../support/http';
import { InMemoryIdentityStore } from '../support/in-memory-identity-store';
import { InMemoryProfileStore } from '../support/in-memory-profile-store';
import { disabledMetrics, silentLogger } from '../support/powertools';

/**
 * The privacy API and the erasure worker on in-memory stores: what a request erases at once, what the worker
 * completes, and that a failure part-way is retried without losing or repeating anything.
 */

const VIEWERS = parseSegmentDefinition({ id: 'viewers', name: 'Viewers', condition: { event: { name: 'Product Viewed', within: '1d' } } });

class InMemoryErasureStore implements ErasureStore {
  readonly records = new Map<string, ErasureRecord>();
  async put(record: ErasureRecord): Promise<void> {
    this.records.set(record.erasureId, structuredClone(record));
  }
  async get(erasureId: string): Promise<ErasureRecord | undefined> {
    return structuredClone(this.records.get(erasureId));
  }
  async listDue(nowMs: number): Promise<ErasureRecord[]> {
    return [...this.records.values()].filter((r) => r.status === 'pending' && r.notBefore <= nowMs).map((r) => structuredClone(r));
  }
}

/** A lake that records what it was asked to erase, and fails while `failing` is set. */
function fakeLake() {
  const erased: string[][] = [];
  const state = { failing: false };
  const lake: LakeAccess = {
    finder: {
      objectsHolding: async (ids) => {
        if (state.failing) throw new Error('Athena query failed');
        erased.push([...ids].sort());
        return [];
      },
    },
    objects: { list: async function* () {}, read: async () => undefined, write: async () => {}, delete: async () => {} },
  };
  return { lake, erased, state };
}

async function setup() {
  let now = T0;
  const profiles = new InMemoryProfileStore();
  const identities = new InMemoryIdentityStore();
  const published: SegmentNotice[] = [];
  const bus = { publish: async (notices: readonly SegmentNotice[]) => void published.push(...notices) };
  const segments = { definitions: async () => [VIEWERS], bus };
  const { failed } = await updateProfiles(
    [
      track('Product Viewed', { product_id: 'p1' }, { anonymousId: 'phone', at: T0 - 2 * MINUTE, messageId: 'm1' }),
      identify({ email: 'ada@example.com' }, { userId: 'ada', anonymousId: 'phone', at: T0 - MINUTE, messageId: 'm2' }),
      track('Product Viewed', { product_id: 'p2' }, { userId: 'bob', at: T0 - MINUTE, messageId: 'm3' }),
    ],
    { profiles, identities, settings: DEFAULT_PROFILE_SETTINGS, now: () => now, segments },
  );
  expect(failed.size).toBe(0);
  published.length = 0;
  const { lake, erased, state } = fakeLake();
  const erasures = new InMemoryErasureStore();
  let ids = 0;
  const deps: PrivacyApiDeps = {
    profiles,
    identities,
    erasures,
    lake,
    bus,
    settings: DEFAULT_PROFILE_SETTINGS,
    settleSeconds: 180,
    now: () => now,
    newId: () => `erasure-${++ids}`,
    logger: silentLogger(),
    metrics: disabledMetrics(),
  };
  const call = async (method: string, resource: string, pathParameters: Record<string, string>, query?: Record<string, string>) => {
    const response = await handlePrivacy(apiEvent({ resource, method, pathParameters, queryStringParameters: query ?? null }), deps);
    return { status: response.statusCode, body: JSON.parse(response.body), headers: response.headers };
  };
  return { deps, profiles, identities, erasures, erased, lakeState: state, published, call, setNow: (ms: number) => (now = ms) };
}

it('erases a person at once by any id: ids suppressed, devices unlinked, profiles deleted; the lake waits for the worker', async () => {
  const t = await setup();
  const { status, body, headers } = await t.call('DELETE', '/v1/profiles/{userId}', { userId: 'phone' }, { idType: 'anonymousId' });
  expect(status).toBe(202);
  expect(body).toEqual({ erasureId: 'erasure-1', status: 'pending', requestedAt: new Date(T0).toISOString(), attempts: 0 });
  expect(headers?.Location).toBe('/v1/erasures/erasure-1');
  expect(t.profiles.ids()).toEqual(['user#bob']);
  const links = await t.identities.getMany(['user#ada', 'anon#phone', 'user#bob']);
  expect([...links].map(([id, link]) => [id, link.canonicalId])).toEqual([
    ['user#ada', ERASED],
    ['anon#phone', ERASED],
  ]);
  expect(t.erased).toEqual([]); // not before the settle time

  // Unknown and already erased people are 404s.
  expect((await t.call('DELETE', '/v1/profiles/{userId}', { userId: 'nobody' })).status).toBe(404);
  expect((await t.call('DELETE', '/v1/profiles/{userId}', { userId: 'ada' })).status).toBe(404);
  expect((await t.call('GET', '/v1/profiles/{userId}/export', { userId: 'ada' })).status).toBe(404);
});

it('completes an erasure after the settle time, its segment exits published first and landed, a failed lake step retried, and keeps no personal data', async () => {
  const t = await setup();
  await t.call('DELETE', '/v1/profiles/{userId}', { userId: 'ada' });
  expect(await runErasures(t.deps)).toEqual({ due: 0, completed: 0, waiting: 0, failed: 0 });

  // First due run: the exits are published; the lake waits until they have landed in the lake too.
  t.setNow(T0 + 181_000);
  expect(await runErasures(t.deps)).toEqual({ due: 1, completed: 0, waiting: 1, failed: 0 });
  expect(t.published.map((n) => [n.type, n.segmentId, n.profileId, n.reason])).toEqual([['exited', 'viewers', 'user#ada', 'erased']]);
  expect(await runErasures(t.deps)).toEqual({ due: 0, completed: 0, waiting: 0, failed: 0 });

  t.setNow(T0 + 2 * 181_000);
  t.lakeState.failing = true;
  expect(await runErasures(t.deps)).toEqual({ due: 1, completed: 0, waiting: 0, failed: 1 });
  expect((await t.call('GET', '/v1/erasures/{erasureId}', { erasureId: 'erasure-1' })).body).toMatchObject({ status: 'pending', attempts: 1, lastError: 'Athena query failed' });

  t.lakeState.failing = false;
  expect(await runErasures(t.deps)).toEqual({ due: 1, completed: 1, waiting: 0, failed: 0 });
  expect(t.published).toHaveLength(1);
  expect(t.erased).toEqual([['ada', 'phone']]);
  const done = (await t.call('GET', '/v1/erasures/{erasureId}', { erasureId: 'erasure-1' })).body;
  expect(done).toMatchObject({ status: 'complete', result: { profilesDeleted: 2, idsSuppressed: 2 } });
  expect(JSON.stringify(t.erasures.records.get('erasure-1'))).not.toMatch(/ada|phone/);
  expect(await runErasures(t.deps)).toEqual({ due: 0, completed: 0, waiting: 0, failed: 0 });
  expect((await t.call('GET', '/v1/erasures/{erasureId}', { erasureId: 'nope' })).status).toBe(404);
});

it('deletes again a profile that an in-flight event re-created after the request', async () => {
  const t = await setup();
  await t.call('DELETE', '/v1/profiles/{userId}', { userId: 'ada' });
  // A processor that read the person's links before the suppression writes their profile back.
  const bob = t.profiles.peek('user#bob') as ProfileRecord;
  t.profiles.seed({ ...bob, state: { ...bob.state, profileId: 'user#ada', userId: 'ada' } });
  expect(t.profiles.ids().sort()).toEqual(['user#ada', 'user#bob']);
  t.setNow(T0 + 181_000);
  await runErasures(t.deps);
  expect(t.profiles.ids()).toEqual(['user#bob']);
});

it('exports the profile, its ids and the lake events of the person', async () => {
  const t = await setup();
  const { status, body } = await t.call('GET', '/v1/profiles/{userId}/export', { userId: 'ada' });
  expect(status).toBe(200);
  expect(body).toMatchObject({
    profile: { profileId: 'user#ada', userId: 'ada', traits: { email: 'ada@example.com' }, segments: [{ id: 'viewers' }], linkedIds: [{ id: 'anon#phone', scope: 'all' }] },
    identities: { profileIds: ['user#ada', 'anon#phone'], deviceIds: [], eventIds: ['ada', 'phone'] },
    events: [],
  });
});

it('answers 504 with the reason when the lake query of an export does not finish in time', async () => {
  const t = await setup();
  t.deps.lake.finder.objectsHolding = async () => {
    throw new Error('Athena query q-1 did not finish within 25 s; it was stopped');
  };
  const { status, body } = await t.call('GET', '/v1/profiles/{userId}/export', { userId: 'ada' });
  expect(status).toBe(504);
  expect(body.message).toMatch(/did not finish in time/);
});
