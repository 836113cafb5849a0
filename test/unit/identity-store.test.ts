import { IdentityLink, DynamoDbIdentityStore, liveLinks, resolveIds } from '../../lambdas/shared/store/identity-store';
import { DynamoDbProfileStore } from '../../lambdas/shared/store/profile-store';
import { applyBatch, ProfileRecord, sealRecord } from '../../lambdas/shared/domain/profile-record';
import { DEFAULT_PROFILE_SETTINGS } from '../../lambdas/shared/domain/settings';
import { startDynalite } from '../support/dynalite';
import { DAY, T0, track } from '../support/events';

const seconds = (ms: number) => Math.floor(ms / 1000);
const link = (id: string, canonicalId: string, overrides: Partial<IdentityLink> = {}): IdentityLink => ({
  id,
  canonicalId,
  scope: 'all',
  linkedAt: T0,
  expiresAt: seconds(T0 + 30 * DAY),
  ...overrides,
});

describe('DynamoDbIdentityStore (against dynalite)', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let store: DynamoDbIdentityStore;
  beforeAll(async () => {
    db = await startDynalite('identities');
    store = new DynamoDbIdentityStore(db.client, db.tableName);
  });
  afterAll(() => db.close());

  it('lets the first link of an id win, refreshes a link to the same profile, and takes over an expired one', async () => {
    expect(await store.link(link('anon#a1', 'user#u1'))).toBe('user#u1');
    expect(await store.link(link('anon#a1', 'user#u2'))).toBe('user#u1');
    expect(await store.link(link('anon#a1', 'user#u1', { expiresAt: seconds(T0 + 60 * DAY) }))).toBe('user#u1');
    expect((await store.getMany(['anon#a1'])).get('anon#a1')).toEqual(link('anon#a1', 'user#u1', { expiresAt: seconds(T0 + 60 * DAY) }));
    // Expired (DynamoDB had not deleted it yet): the id is free again.
    expect(await store.link(link('anon#a1', 'user#u3', { linkedAt: T0 + 61 * DAY, expiresAt: seconds(T0 + 90 * DAY) }))).toBe('user#u3');
  });

  it('writes, reads, resolves and deletes links in batches', async () => {
    const links = Array.from({ length: 60 }, (_, i) => link(`anon#b${i}`, 'user#b', { scope: i % 2 ? 'history' : 'all' }));
    await store.putAll([...links, link('user#b', 'user#c')]);
    const found = await store.getMany(links.map((l) => l.id));
    expect(found.size).toBe(60);
    expect(found.get('anon#b1')?.scope).toBe('history');
    const resolved = await resolveIds(store, ['anon#b0', 'anon#b1', 'anon#nobody'], T0);
    expect(Object.fromEntries(resolved)).toEqual({
      'anon#b0': { canonicalId: 'user#c', scope: 'all' },
      'anon#b1': { canonicalId: 'user#c', scope: 'history' },
      'anon#nobody': { canonicalId: 'anon#nobody', scope: 'all' },
    });
    // Expired links are not followed.
    expect(liveLinks(found, T0 + 31 * DAY).size).toBe(0);
    await store.deleteAll(links.map((l) => l.id));
    expect((await store.getMany(links.map((l) => l.id))).size).toBe(0);
  });
});

describe('DynamoDbProfileStore keeps the identity bookkeeping of a record', () => {
  it('round-trips a sealed redirect and a canonical profile’s links', async () => {
    const db = await startDynalite('profiles');
    try {
      const store = new DynamoDbProfileStore(db.client, db.tableName);
      const anonymous = applyBatch(undefined, 'anon#a1', [track('X', {}, { anonymousId: 'a1' })], DEFAULT_PROFILE_SETTINGS, T0).next as ProfileRecord;
      const sealed = sealRecord(anonymous, 'anon#a1', 'user#u1', 'history', DEFAULT_PROFILE_SETTINGS, T0);
      const canonical = applyBatch(undefined, 'user#u1', [track('Y', {}, { userId: 'u1' })], DEFAULT_PROFILE_SETTINGS, T0, {
        sources: [{ profileId: 'anon#a1', record: sealed, scope: 'history' }],
        devices: ['device#d1'],
      }).next as ProfileRecord;
      canonical.linksExpireAt = canonical.expiresAt;
      for (const record of [sealed, canonical]) {
        expect(await store.put(record, undefined)).toBe(true);
        expect(await store.get(record.state.profileId)).toEqual(record);
      }
      expect(canonical.linked?.map((l) => [l.id, l.scope])).toEqual([
        ['anon#a1', 'history'],
        ['device#d1', 'history'],
      ]);
      expect(canonical.state.events).toEqual({ X: 1, Y: 1 });
    } finally {
      await db.close();
    }
  });
});
