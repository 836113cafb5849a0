import fc from 'fast-check';
import { updateProfiles, UpdateDeps } from '../../lambdas/process/update-profiles';
import type { StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { linkSourcesOf, resolveCanonical } from '../../lambdas/shared/domain/identity';
import { emptyProfile, mergeProfileState, reduceEvents } from '../../lambdas/shared/domain/profile';
import { applyBatch, ProfileRecord } from '../../lambdas/shared/domain/profile-record';
import { DEFAULT_PROFILE_SETTINGS, ProfileSettings } from '../../lambdas/shared/domain/settings';
import { readCanonicalProfile } from '../../lambdas/shared/store/canonical-profile';
import { DAY, identify, MINUTE, streamEvent, T0, track } from '../support/events';
import { InMemoryIdentityStore } from '../support/in-memory-identity-store';
import { InMemoryProfileStore } from '../support/in-memory-profile-store';
import { expectSameState } from '../support/profile-assertions';

const NOW = T0 + DAY;
const HALF_LIFE = DEFAULT_PROFILE_SETTINGS.affinityHalfLifeDays;

function stores(settings: ProfileSettings = DEFAULT_PROFILE_SETTINGS) {
  const profiles = new InMemoryProfileStore();
  const identities = new InMemoryIdentityStore();
  const deps: UpdateDeps = { profiles, identities, settings, now: () => NOW };
  return { profiles, identities, deps };
}

/** The person's profile as a read by `profileId` sees it. */
async function canonical(deps: UpdateDeps, profileId: string) {
  return readCanonicalProfile(profileId, deps, NOW);
}

/** Delivers batches as Lambda would: events of a failed batch are delivered again until none fail. */
async function deliver(batches: StreamEvent[][], deps: UpdateDeps): Promise<void> {
  for (let batch of batches) {
    for (let attempt = 0; batch.length > 0; attempt++) {
      if (attempt > 20) throw new Error('events kept failing');
      const { failed } = await updateProfiles(batch, deps);
      batch = [...failed.keys()];
    }
  }
}

describe('linkSourcesOf', () => {
  it('links the anonymous id of any event that carries both ids, and both readings of an alias previousId', () => {
    expect(linkSourcesOf(identify({}, { userId: 'u1', anonymousId: 'a1' }))).toEqual([{ profileId: 'anon#a1', scope: 'all' }]);
    expect(linkSourcesOf(track('X', {}, { userId: 'u1', anonymousId: 'a1' }))).toEqual([{ profileId: 'anon#a1', scope: 'all' }]);
    expect(linkSourcesOf(track('X', {}, { anonymousId: 'a1' }))).toEqual([]);
    expect(linkSourcesOf(streamEvent('alias', { previousId: 'old' }, { userId: 'u1' })).map((s) => s.profileId)).toEqual(['user#old', 'anon#old']);
    // An alias to itself links nothing.
    expect(linkSourcesOf(streamEvent('alias', { previousId: 'u1' }, { userId: 'u1' })).map((s) => s.profileId)).toEqual(['anon#u1']);
  });
});

describe('resolveCanonical', () => {
  const lookup = (links: Record<string, string>, scopes: Record<string, 'all' | 'history'> = {}) => async (ids: string[]) =>
    new Map(ids.filter((id) => links[id]).map((id) => [id, { canonicalId: links[id], scope: scopes[id] ?? ('all' as const) }]));

  it('follows chains, keeps unlinked ids, and marks a route through a device link as history', async () => {
    const resolved = await resolveCanonical(['a', 'b', 'c', 'x'], lookup({ a: 'b', b: 'c' }, { b: 'history' }));
    expect(Object.fromEntries(resolved)).toEqual({
      a: { canonicalId: 'c', scope: 'history' },
      b: { canonicalId: 'c', scope: 'history' },
      c: { canonicalId: 'c', scope: 'all' },
      x: { canonicalId: 'x', scope: 'all' },
    });
  });

  it('refuses a cycle rather than looping', async () => {
    await expect(resolveCanonical(['a'], lookup({ a: 'b', b: 'a' }))).rejects.toThrow(/chain longer than/);
  });
});

describe('mergeProfileState', () => {
  const phone = [
    track('Product Viewed', { product_id: 'p1', category: 'Shoes' }, { anonymousId: 'a1', at: T0 - 3 * DAY, messageId: 'm1' }),
    track('Product Added', { product_id: 'p1', price: 10 }, { anonymousId: 'a1', at: T0 - 2 * DAY, messageId: 'm2' }),
    identify({ theme: 'dark', plan: 'free' }, { anonymousId: 'a1', at: T0 - 2 * DAY, messageId: 'm3' }),
  ];
  const laptop = [
    track('Product Viewed', { product_id: 'p2', category: 'Hats' }, { userId: 'u1', at: T0 - DAY, messageId: 'm4' }),
    identify({ plan: 'pro' }, { userId: 'u1', at: T0 - DAY, messageId: 'm5' }),
    track('Order Completed', { revenue: 25, products: [{ product_id: 'p2' }] }, { userId: 'u1', at: T0, messageId: 'm6' }),
  ];

  it('gives the profile both event sets would have given together', () => {
    const merged = mergeProfileState(reduceEvents(emptyProfile('user#u1'), laptop, HALF_LIFE), reduceEvents(emptyProfile('anon#a1'), phone, HALF_LIFE), 'all', HALF_LIFE);
    expectSameState(merged, reduceEvents(emptyProfile('user#u1'), [...laptop, ...phone], HALF_LIFE));
    expect(merged.traits).toEqual({ theme: 'dark', plan: 'pro' });
    expect(merged.cart.lines.p1.adds).toHaveLength(1);
  });

  it('merges history but not traits for a device link', () => {
    const merged = mergeProfileState(reduceEvents(emptyProfile('user#u1'), laptop, HALF_LIFE), reduceEvents(emptyProfile('anon#a1'), phone, HALF_LIFE), 'history', HALF_LIFE);
    expect(merged.traits).toEqual({ plan: 'pro' });
    expect(merged.events).toEqual({ 'Product Viewed': 2, 'Product Added': 1, 'Order Completed': 1 });
    expect(merged.counts.identify).toBe(2);
  });

  it('does not modify its inputs', () => {
    const into = reduceEvents(emptyProfile('user#u1'), laptop, HALF_LIFE);
    const from = reduceEvents(emptyProfile('anon#a1'), phone, HALF_LIFE);
    const [intoCopy, fromCopy] = [structuredClone(into), structuredClone(from)];
    mergeProfileState(into, from, 'all', HALF_LIFE);
    expect([into, from]).toEqual([intoCopy, fromCopy]);
  });
});

describe('identity resolution in the processor', () => {
  it('links a phone and a laptop into one profile, merging the anonymous history once', async () => {
    const { deps, profiles, identities } = stores();
    await deliver(
      [
        [track('Product Viewed', { product_id: 'p1', category: 'Shoes' }, { anonymousId: 'phone', at: T0, messageId: 'p-1' })],
        [track('Product Viewed', { product_id: 'p2', category: 'Hats' }, { anonymousId: 'laptop', at: T0 + MINUTE, messageId: 'l-1' })],
        [identify({ email: 'ada@example.com' }, { userId: 'ada', anonymousId: 'laptop', at: T0 + 2 * MINUTE, messageId: 'l-2' })],
        [identify({}, { userId: 'ada', anonymousId: 'phone', at: T0 + 3 * MINUTE, messageId: 'p-2' })],
        // Later anonymous events on the phone go to the merged profile.
        [track('Product Added', { product_id: 'p1' }, { anonymousId: 'phone', at: T0 + 4 * MINUTE, messageId: 'p-3' })],
      ],
      deps,
    );
    expect(identities.snapshot()).toEqual({ 'anon#laptop': 'user#ada', 'anon#phone': 'user#ada' });
    for (const id of ['user#ada', 'anon#phone', 'anon#laptop']) {
      const { profileId, record } = await canonical(deps, id);
      expect(profileId).toBe('user#ada');
      expect(record?.state.events).toEqual({ 'Product Viewed': 2, 'Product Added': 1 });
      expect(record?.state.traits).toEqual({ email: 'ada@example.com' });
    }
    expect(profiles.peek('anon#phone')).toMatchObject({ mergedInto: 'user#ada', state: { events: {} } });
    expect((await canonical(deps, 'user#ada')).record?.linked?.map((l) => l.id)).toEqual(['anon#laptop', 'anon#phone']);
  });

  it('is a no-op when the linking event is replayed, and a replay of a merged event is still a duplicate', async () => {
    const { deps, profiles } = stores();
    const anonymous = track('Product Viewed', { product_id: 'p1' }, { anonymousId: 'a1', messageId: 'm1' });
    const login = identify({}, { userId: 'u1', anonymousId: 'a1', messageId: 'm2' });
    await deliver([[anonymous], [login]], deps);
    const before = profiles.peek('user#u1');
    const { stats } = await updateProfiles([login, anonymous, login], deps);
    expect(stats).toMatchObject({ writes: 0, merges: 0, duplicates: 3 });
    expect(profiles.peek('user#u1')).toEqual(before);
  });

  it('follows alias chains: an old account and its anonymous ids join the new one', async () => {
    const { deps } = stores();
    await deliver(
      [
        [identify({ name: 'Ada' }, { userId: 'old', anonymousId: 'a1', messageId: 'm1', at: T0 })],
        [track('Product Viewed', { product_id: 'p1' }, { anonymousId: 'a1', messageId: 'm2', at: T0 + 1 })],
        [streamEvent('alias', { previousId: 'old' }, { userId: 'new', messageId: 'm3', at: T0 + 2 })],
        [track('Product Viewed', { product_id: 'p2' }, { anonymousId: 'a1', messageId: 'm4', at: T0 + 3 })],
        [track('Product Viewed', { product_id: 'p3' }, { userId: 'old', messageId: 'm5', at: T0 + 4 })],
      ],
      deps,
    );
    for (const id of ['anon#a1', 'user#old', 'user#new']) {
      const { profileId, record } = await canonical(deps, id);
      expect(profileId).toBe('user#new');
      expect(record?.state.events).toEqual({ 'Product Viewed': 3 });
      expect(record?.state.traits).toEqual({ name: 'Ada' });
      expect(record?.state.userId).toBe('new');
    }
  });

  it('lets the first link of an anonymous id win, and counts the conflict', async () => {
    const { deps, identities } = stores();
    await deliver([[track('Product Viewed', { product_id: 'p1' }, { anonymousId: 'shared', messageId: 'm1' })], [identify({}, { userId: 'u1', anonymousId: 'shared', messageId: 'm2' })]], deps);
    const { stats } = await updateProfiles([identify({}, { userId: 'u2', anonymousId: 'shared', messageId: 'm3' })], deps);
    expect(stats.linkConflicts).toBe(1);
    expect(identities.snapshot()).toEqual({ 'anon#shared': 'user#u1' });
    expect((await canonical(deps, 'user#u1')).record?.state.events).toEqual({ 'Product Viewed': 1 });
    expect((await canonical(deps, 'user#u2')).record?.state.counts).toEqual({ identify: 1 });
  });

  it('refreshes identity links when the canonical profile outlives them, and re-points merges of merges', async () => {
    const { deps, identities } = stores();
    await deliver([[identify({}, { userId: 'u1', anonymousId: 'a1', messageId: 'm1' })]], deps);
    const first = identities.links.get('anon#a1');
    const later: UpdateDeps = { ...deps, now: () => NOW + 3 * DAY };
    await deliver([[track('X', {}, { userId: 'u1', messageId: 'm2' })], [streamEvent('alias', { previousId: 'u1' }, { userId: 'u9', messageId: 'm3' })]], later);
    const refreshed = identities.links.get('anon#a1');
    expect(refreshed?.expiresAt).toBeGreaterThan(first?.expiresAt as number);
    // a1 → u1 → u9 is re-pointed at u9 directly.
    expect(identities.snapshot()).toEqual({ 'anon#a1': 'user#u9', 'anon#u1': 'user#u9', 'user#u1': 'user#u9' });
  });

  describe('device linking (opt-in)', () => {
    const withDevice = (id: string) => ({ device: { id, type: 'ios' } });

    it('merges the history, not the traits, of an anonymous profile on a known user’s device', async () => {
      const { deps } = stores({ ...DEFAULT_PROFILE_SETTINGS, deviceLinking: true });
      await deliver(
        [
          [track('App Opened', {}, { userId: 'u1', context: withDevice('D1'), messageId: 'm1', at: T0 })],
          [identify({ theme: 'dark' }, { anonymousId: 'a1', context: withDevice('D1'), messageId: 'm2', at: T0 + 1 })],
          [track('Product Viewed', { product_id: 'p1' }, { anonymousId: 'a1', context: withDevice('D1'), messageId: 'm3', at: T0 + 2 })],
          // Later events of the linked anonymous id still add history only.
          [identify({ theme: 'light' }, { anonymousId: 'a1', messageId: 'm4', at: T0 + 3 })],
        ],
        deps,
      );
      const { profileId, record } = await canonical(deps, 'anon#a1');
      expect(profileId).toBe('user#u1');
      expect(record?.state.events).toEqual({ 'App Opened': 1, 'Product Viewed': 1 });
      expect(record?.state.counts.identify).toBe(2);
      expect(record?.state.traits).toEqual({});
      expect(record?.linked?.map((l) => [l.id, l.scope])).toEqual([
        ['device#D1', 'history'],
        ['anon#a1', 'history'],
      ]);
    });

    it('is off by default', async () => {
      const { deps } = stores();
      await deliver([[track('App Opened', {}, { userId: 'u1', context: withDevice('D1'), messageId: 'm1' })], [track('X', {}, { anonymousId: 'a1', context: withDevice('D1'), messageId: 'm2' })]], deps);
      expect((await canonical(deps, 'anon#a1')).profileId).toBe('anon#a1');
    });
  });
});

/**
 * The promise of identity resolution (issue: "exactly once, whatever the order and however often the linking
 * event is replayed, and whichever shard each event came through"): one person's events spread over a phone,
 * a laptop and an old account, shuffled, duplicated, cut into batches, split over two shards that run
 * concurrently (with random pauses at every store call, so every interleaving of their reads and conditional
 * writes is possible), and optionally one store failure injected anywhere (a crash between any two steps of a
 * merge, after which Lambda retries the batch): the canonical profile is always the one all of the person's
 * events give when applied to one profile.
 */
describe('merge property', () => {
  const ADA = [{ anonymousId: 'phone' }, { anonymousId: 'laptop' }, { userId: 'ada' }, { userId: 'ada-old' }, { userId: 'ada', anonymousId: 'laptop' }];
  const BOB = [{ anonymousId: 'tablet' }, { userId: 'bob' }];
  const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);
  const eventDraft = fc.oneof(
    fc.tuple(pick(['Product Viewed', 'Product Added', 'Product Removed']), pick(['p1', 'p2', 'p3']), pick(['Shoes', 'Hats'])).map(
      ([name, product, category]) =>
        (opts: object) =>
          track(name, { product_id: product, category, price: 5 }, opts),
    ),
    pick([10, 20]).map((revenue) => (opts: object) => track('Order Completed', { revenue, products: [{ product_id: 'p2' }] }, opts)),
    fc.dictionary(pick(['plan', 'theme']), pick(['a', 'b']), { maxKeys: 2 }).map((traits) => (opts: object) => identify(traits, opts)),
  );
  const personEvents = (people: readonly object[], prefix: string) =>
    fc.array(fc.tuple(eventDraft, pick(people), fc.integer({ min: 0, max: 30 })), { minLength: 1, maxLength: 25 }).map((drafts) =>
      drafts.map(([make, who, slot], i) => make({ ...who, messageId: `${prefix}-${i}`, at: T0 - slot * 30 * MINUTE })),
    );
  // The linking events are always there, at random times.
  const links = fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 })).map(([a, b, c, d]) => [
    identify({ email: 'ada@example.com' }, { userId: 'ada', anonymousId: 'laptop', messageId: 'link-1', at: T0 - a * 30 * MINUTE }),
    identify({}, { userId: 'ada', anonymousId: 'phone', messageId: 'link-2', at: T0 - b * 30 * MINUTE }),
    streamEvent('alias', { previousId: 'ada-old' }, { userId: 'ada', messageId: 'link-3', at: T0 - c * 30 * MINUTE }),
    identify({}, { userId: 'bob', anonymousId: 'tablet', messageId: 'link-4', at: T0 - d * 30 * MINUTE }),
  ]);
  const scenario = fc.tuple(personEvents(ADA, 'ada'), personEvents(BOB, 'bob'), links).chain(([ada, bob, linking]) => {
    const all = [...ada, ...bob, ...linking];
    return fc.record({
      all: fc.constant(all),
      ada: fc.constant([...ada, ...linking.slice(0, 3)]),
      bob: fc.constant([...bob, linking[3]]),
      delivery: fc.subarray(all),
      order: fc.array(fc.nat(), { minLength: all.length * 2, maxLength: all.length * 2 }),
      sizes: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 10 }),
      pauses: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 50 }),
      failAt: fc.option(fc.nat({ max: 40 }), { nil: undefined }),
    });
  });

  it('gives the same canonical profiles for any interleaving, duplication, sharding and crash', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ all, ada, bob, delivery, order, sizes, pauses, failAt }) => {
        const { deps, profiles, identities } = stores();
        // Every event at least once, some twice, in a random order.
        const events = [...all, ...delivery].map((event, i) => ({ event, key: order[i % order.length] * 1000 + i })).sort((a, b) => a.key - b.key).map((e) => e.event);
        let calls = 0;
        const pause = async () => {
          for (let i = pauses[calls++ % pauses.length]; i > 0; i--) await new Promise((resolve) => setImmediate(resolve));
          if (calls === failAt) throw new Error('injected failure');
        };
        profiles.beforeGet = pause;
        profiles.beforeGetMany = pause;
        profiles.beforePut = pause;
        identities.beforeLink = pause;

        // Two shards by partition key, each delivering its batches in order, both at once.
        const shards: StreamEvent[][] = [[], []];
        for (const event of events) shards[((event.userId ?? event.anonymousId) as string).length % 2].push(event);
        await Promise.all(
          shards.map((shard) => {
            const batches: StreamEvent[][] = [];
            for (let pos = 0, b = 0; pos < shard.length; b++) {
              const size = sizes[b % sizes.length];
              batches.push(shard.slice(pos, pos + size));
              pos += size;
            }
            return deliver(batches, deps);
          }),
        );
        profiles.beforeGet = profiles.beforeGetMany = profiles.beforePut = identities.beforeLink = undefined;

        const expectAda = (applyBatch(undefined, 'user#ada', ada, DEFAULT_PROFILE_SETTINGS, NOW).next as ProfileRecord).state;
        const expectBob = (applyBatch(undefined, 'user#bob', bob, DEFAULT_PROFILE_SETTINGS, NOW).next as ProfileRecord).state;
        for (const id of ['user#ada', 'anon#phone', 'anon#laptop', 'user#ada-old']) {
          const { profileId, record } = await canonical(deps, id);
          expect(profileId).toBe('user#ada');
          expectSameState((record as ProfileRecord).state, expectAda);
        }
        for (const id of ['user#bob', 'anon#tablet']) {
          const { record } = await canonical(deps, id);
          expectSameState((record as ProfileRecord).state, expectBob);
        }
        // One profile per person; every other id is a redirect or absent.
        const live = profiles.ids().filter((id) => profiles.peek(id)?.mergedInto === undefined);
        expect(live.sort()).toEqual(['user#ada', 'user#bob']);
      }),
      { numRuns: 150 },
    );
  });
});
