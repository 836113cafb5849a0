import type { StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { emptyProfile, profileIdOf } from '../../lambdas/shared/domain/profile';
import { applyBatch, ProfileRecord } from '../../lambdas/shared/domain/profile-record';
import { DEFAULT_PROFILE_SETTINGS } from '../../lambdas/shared/domain/settings';
import { updateProfiles, UpdateDeps } from '../../lambdas/process/update-profiles';
import { InMemoryIdentityStore } from '../support/in-memory-identity-store';
import { InMemoryProfileStore } from '../support/in-memory-profile-store';
import { suppressionOf } from '../../lambdas/shared/domain/erasure';
import { DAY, T0, track } from '../support/events';

const NOW = T0 + DAY;
const deps = (profiles: InMemoryProfileStore, extra: Partial<UpdateDeps> = {}): UpdateDeps => ({
  profiles,
  identities: new InMemoryIdentityStore(),
  settings: DEFAULT_PROFILE_SETTINGS,
  now: () => NOW,
  ...extra,
});

/** `count` events spread round-robin over `people` user ids. */
function events(count: number, people: number, prefix = 'e'): StreamEvent[] {
  return Array.from({ length: count }, (_, i) =>
    track('Product Viewed', { product_id: `p${i % 5}`, category: 'shoes' }, { userId: `u${i % people}`, messageId: `${prefix}-${i}`, at: T0 + i }),
  );
}

/** Failed events by profile id (every failed event of a profile carries the same error). */
const failedProfiles = (failed: Map<StreamEvent, Error>) => new Map([...failed].map(([event, error]) => [profileIdOf(event), error]));

const viewCount = (store: InMemoryProfileStore, profileId: string) => store.peek(profileId)?.state.events['Product Viewed'];

describe('updateProfiles', () => {
  it('reads all profiles in one call and writes each profile once per batch', async () => {
    const store = new InMemoryProfileStore();
    const { failed, stats } = await updateProfiles(events(100, 7), deps(store));
    expect(failed.size).toBe(0);
    expect(store.calls.getMany).toBe(1);
    expect(store.calls.put).toBe(7);
    expect(store.ids().sort()).toEqual(Array.from({ length: 7 }, (_, i) => `user#u${i}`).sort());
    expect(stats).toEqual({
      profiles: 7,
      writes: 7,
      applied: 100,
      duplicates: 0,
      conflicts: 0,
      merges: 0,
      linkConflicts: 0,
      suppressed: 0,
      noticesPublished: 0,
      noticesDelayed: 0,
      noticesDropped: 0,
    });
    // 100 events over 7 people: 15 for u0..u1, 14 for the others.
    expect(viewCount(store, 'user#u0')).toBe(15);
    expect(viewCount(store, 'user#u6')).toBe(14);
    expect(store.peek('user#u0')?.version).toBe(1);
  });

  it('creates with "must not exist" and updates conditionally on the version read', async () => {
    const store = new InMemoryProfileStore();
    await updateProfiles(events(3, 1, 'a'), deps(store));
    await updateProfiles(events(3, 1, 'b'), deps(store));
    expect(store.puts.map((p) => [p.expectedVersion, p.version, p.ok])).toEqual([
      [undefined, 1, true],
      [1, 2, true],
    ]);
    expect(viewCount(store, 'user#u0')).toBe(6);
  });

  it('writes nothing for a replayed batch', async () => {
    const store = new InMemoryProfileStore();
    const batch = events(40, 4);
    await updateProfiles(batch, deps(store));
    const puts = store.calls.put;
    const { failed, stats } = await updateProfiles(batch, deps(store));
    expect(failed.size).toBe(0);
    expect(store.calls.put).toBe(puts);
    expect(stats).toMatchObject({ writes: 0, applied: 0, duplicates: 40 });
    expect(viewCount(store, 'user#u0')).toBe(10);
  });

  it('does nothing for an empty batch', async () => {
    const store = new InMemoryProfileStore();
    const { failed, stats } = await updateProfiles([], deps(store));
    expect(failed.size).toBe(0);
    expect(stats.profiles).toBe(0);
    expect(store.calls).toEqual({ getMany: 0, get: 0, put: 0 });
  });

  it('re-reads and re-applies after a concurrent write, so both writers’ events are in the profile exactly once', async () => {
    const store = new InMemoryProfileStore();
    const profileId = 'user#u0';
    const mine = [...events(3, 1, 'mine'), ...events(2, 1, 'shared')];
    const theirs = [...events(4, 1, 'theirs'), ...events(2, 1, 'shared')]; // the same two events reached both writers
    let interfered = false;
    store.beforePut = (s) => {
      if (interfered) return;
      interfered = true;
      // Another invocation writes its batch between our read and our write.
      const result = applyBatch(s.peek(profileId), profileId, theirs, DEFAULT_PROFILE_SETTINGS, NOW);
      s.seed(result.next as ProfileRecord);
    };
    const { failed, stats } = await updateProfiles(mine, deps(store));
    expect(failed.size).toBe(0);
    expect(stats.conflicts).toBe(1);
    expect(store.calls.get).toBe(1);
    expect(store.puts.map((p) => p.ok)).toEqual([false, true]);
    expect(viewCount(store, profileId)).toBe(3 + 4 + 2);
    expect(store.peek(profileId)?.version).toBe(2);
    expect(stats.applied).toBe(3);
    expect(stats.duplicates).toBe(2);
  });

  it('gives up on a profile that keeps changing, reporting only that profile', async () => {
    const store = new InMemoryProfileStore();
    store.beforePut = (s, record) => {
      if (record.state.profileId !== 'user#u1') return;
      // Someone else always writes first (a write that does not contain our events).
      const version = (s.peek('user#u1')?.version ?? 0) + 1;
      s.seed({ state: emptyProfile('user#u1'), seen: new Uint8Array(), version, expiresAt: Math.floor(NOW / 1000) + 86_400, updatedAt: NOW });
    };
    const { failed, stats } = await updateProfiles(events(30, 3), deps(store, { maxConflictRetries: 2 }));
    expect([...new Set(failedProfiles(failed).keys())]).toEqual(['user#u1']);
    expect(failedProfiles(failed).get('user#u1')?.message).toMatch(/kept changing/);
    expect(stats.conflicts).toBe(3);
    expect(viewCount(store, 'user#u0')).toBe(10);
    expect(viewCount(store, 'user#u2')).toBe(10);
  });

  it('reports a profile whose write fails, and writes the others', async () => {
    const store = new InMemoryProfileStore();
    store.beforePut = (_s, record) => {
      if (record.state.profileId === 'user#u2') throw new Error('ValidationException: Item size has exceeded the maximum allowed size');
    };
    const { failed } = await updateProfiles(events(50, 5), deps(store));
    expect([...new Set(failedProfiles(failed).keys())]).toEqual(['user#u2']);
    expect(failedProfiles(failed).get('user#u2')?.message).toMatch(/Item size/);
    expect(store.ids().sort()).toEqual(['user#u0', 'user#u1', 'user#u3', 'user#u4']);
  });

  it('fails every profile when the batch read fails, writing nothing', async () => {
    const store = new InMemoryProfileStore();
    store.beforeGetMany = () => {
      throw new Error('ProvisionedThroughputExceededException');
    };
    const batch = events(20, 4);
    const { failed } = await updateProfiles(batch, deps(store));
    expect([...new Set(failedProfiles(failed).keys())].sort()).toEqual([...new Set(batch.map(profileIdOf))].sort());
    expect(store.calls.put).toBe(0);
  });

  it('writes at most `concurrency` profiles at a time', async () => {
    const store = new InMemoryProfileStore();
    let inFlight = 0;
    let peak = 0;
    store.beforePut = async () => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight -= 1;
    };
    const { failed } = await updateProfiles(events(60, 20), deps(store, { concurrency: 4 }));
    expect(failed.size).toBe(0);
    expect(peak).toBe(4);
    expect(store.writes).toBe(20);
  });

  it('merges an anonymous profile into the known one when an event carries both ids, even within one batch', async () => {
    const store = new InMemoryProfileStore();
    const batch = [
      track('A', {}, { anonymousId: 'a1', messageId: 'x1' }),
      track('B', {}, { userId: 'u1', anonymousId: 'a1', messageId: 'x2' }),
    ];
    const { stats } = await updateProfiles(batch, deps(store));
    expect(stats.merges).toBe(1);
    expect(store.peek('anon#a1')?.mergedInto).toBe('user#u1');
    expect(store.peek('anon#a1')?.state.events).toEqual({});
    expect(store.peek('user#u1')?.state.events).toEqual({ A: 1, B: 1 });
    expect(store.peek('user#u1')?.state.anonymousIds).toEqual({ a1: T0 });
  });

  it("drops the events of an erased person's ids, writing nothing, and applies the others", async () => {
    const store = new InMemoryProfileStore();
    const identities = new InMemoryIdentityStore();
    await identities.putAll([suppressionOf('user#gone', NOW), suppressionOf('anon#gone-phone', NOW)]);
    const batch = [
      track('Product Viewed', { product_id: 'p1' }, { userId: 'gone', messageId: 'g1' }),
      track('Product Viewed', { product_id: 'p1' }, { anonymousId: 'gone-phone', messageId: 'g2' }),
      // A new device of theirs, logging in: the event is theirs (by userId), so it is dropped too.
      track('Product Viewed', { product_id: 'p1' }, { userId: 'gone', anonymousId: 'new-phone', messageId: 'g3' }),
      track('Product Viewed', { product_id: 'p1' }, { userId: 'here', messageId: 'h1' }),
    ];
    const { failed, stats } = await updateProfiles(batch, deps(store, { identities }));
    expect(failed.size).toBe(0);
    expect(stats).toMatchObject({ suppressed: 3, applied: 1 });
    expect(store.ids()).toEqual(['user#here']);
  });
});
