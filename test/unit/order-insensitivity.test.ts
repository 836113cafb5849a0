import fc from 'fast-check';
import type { StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { profileIdOf, PROFILE_LIMITS } from '../../lambdas/shared/domain/profile';
import { applyBatch, ProfileRecord } from '../../lambdas/shared/domain/profile-record';
import { DEFAULT_PROFILE_SETTINGS } from '../../lambdas/shared/domain/settings';
import { copyRecord } from '../support/in-memory-profile-store';
import { expectSameState } from '../support/profile-assertions';
import { DAY, HOUR, identify, streamEvent, T0, track } from '../support/events';

/**
 * The reducer's central promise (profile.ts header): the stored profile is a function of the *set* of events,
 * whatever their order, their batching and their duplication (Kinesis delivers at least once, and a batch can
 * be replayed). The streams here stay within PROFILE_LIMITS, the only place where orders may differ.
 */

const settings = DEFAULT_PROFILE_SETTINGS;
const NOW = T0 + 40 * DAY;

// Small vocabularies, so that ties (same time, same item, same trait) are common.
const PRODUCTS = ['p1', 'p2', 'p3', 'p4'];
const CATEGORIES = ['Shoes', ' shoes', 'Hats', 'Bags', 'Toys', 'Garden Tools'];
const PRICES = [undefined, 0, 9.99, '12.50', 0.1];
const QUANTITIES = [undefined, 1, 2, 5, 0, -1];
const PEOPLE = [
  { userId: 'u1', anonymousId: 'a1' },
  { userId: 'u1', anonymousId: 'a2' },
  { userId: 'u1' },
  { userId: 'u2', anonymousId: 'a3' },
  { anonymousId: 'a9' },
];
const CONTEXTS = [
  undefined,
  { locale: 'en-US' },
  { locale: 'fr-FR', device: { type: 'ios', model: 'iPhone' } },
  { ip: '1.2.3.4' },
  { page: { referrer: 'https://google.com' }, timezone: 'Europe/Oslo' },
];

const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);
const defined = <T extends object>(value: T) => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
const productArb = fc
  .record({ product_id: pick(PRODUCTS), category: pick([undefined, ...CATEGORIES]), price: pick(PRICES), quantity: pick(QUANTITIES) })
  .map(defined);

/** An event without its messageId and time, as a function of them. */
type Draft = (messageId: string, at: number) => StreamEvent;

const cartDraft = (name: string, weight: number) => ({
  weight,
  arbitrary: productArb.map((props) => (opts: object) => track(name, props, opts)),
});
const trackDraft: fc.Arbitrary<(opts: object) => StreamEvent> = fc.oneof(
  cartDraft('Product Added', 6),
  cartDraft('Product Removed', 2),
  cartDraft('Product Viewed', 1),
  {
    weight: 1,
    arbitrary: fc.tuple(pick(['Product Clicked', 'Product Shared', 'Product Added to Wishlist']), productArb).map(([name, props]) => (opts: object) => track(name, props, opts)),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        products: fc.option(fc.array(productArb, { maxLength: 3 }), { nil: undefined, freq: 2 }),
        revenue: pick([undefined, 25, '7.25', 'bad']),
        total: pick([undefined, 30.5]),
      })
      .map((props) => (opts: object) => track('Order Completed', defined(props), opts)),
  },
  { weight: 1, arbitrary: pick([undefined, ...CATEGORIES]).map((category) => (opts: object) => track('Product List Viewed', defined({ category }), opts)) },
  { weight: 1, arbitrary: pick(['Signed Up', 'Video Played', 'Product Viewed']).map((name) => (opts: object) => track(name, {}, opts)) },
);

const otherDraft: fc.Arbitrary<(opts: object) => StreamEvent> = fc.oneof(
  fc
    .dictionary(pick(['plan', 'name', 'email', 'age', 'tags']), fc.oneof(fc.integer({ min: 0, max: 3 }), pick(['a', 'b', null]), fc.constant({ nested: [1, 2] })), {
      maxKeys: 3,
    })
    .map((traits) => (opts: object) => identify(traits, opts)),
  fc
    .tuple(pick(['g1', 'g2', 'g3']), fc.dictionary(pick(['name', 'size']), fc.integer({ min: 0, max: 2 }), { maxKeys: 2 }))
    .map(([groupId, traits]) => (opts: object) => streamEvent('group', { groupId, traits }, opts)),
  pick(['page', 'screen'] as const).map((type) => (opts: object) => streamEvent(type, { name: 'Home' }, opts)),
  fc.constant((opts: object) => streamEvent('alias', { previousId: 'a1' }, opts)),
);

const draftArb: fc.Arbitrary<Draft> = fc
  .tuple(fc.oneof({ weight: 3, arbitrary: trackDraft }, { weight: 1, arbitrary: otherDraft }), pick(PEOPLE), pick(CONTEXTS))
  .map(([make, person, context]) => (messageId: string, at: number) => {
    // alias needs a userId.
    const identity = 'userId' in person ? person : { userId: 'u3', anonymousId: person.anonymousId };
    return make({ ...identity, messageId, at, ...(context ? { context } : {}) });
  });

/**
 * A stream of distinct events: unique messageIds, times on a coarse grid over 25 days, so that equal times are
 * common (as in a batch sent without timestamps, where every event gets the request's receivedAt).
 */
const streamArb = fc
  .array(fc.tuple(draftArb, fc.integer({ min: 0, max: 25 }), fc.constantFrom(0, 0, 0, 1)), { minLength: 1, maxLength: 80, size: 'max' })
  .map((drafts) => drafts.map(([draft, slot, ms], i) => draft(`m-${i}`, T0 - 25 * DAY + slot * DAY + ms)));

/** The shuffled, duplicated, batched delivery of a stream: a permutation with some events repeated, cut into batches. */
const deliveryArb = (stream: StreamEvent[]) =>
  fc
    .tuple(
      fc.array(fc.nat(stream.length - 1), { maxLength: Math.ceil(stream.length / 2), size: 'max' }),
      fc.array(fc.nat({ max: 1_000_000 }), { minLength: stream.length * 2, maxLength: stream.length * 2 }),
      fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 40, size: 'max' }),
    )
    .map(([repeats, keys, sizes]) => {
      const all = [...stream, ...repeats.map((i) => stream[i])];
      const order = all.map((event, i) => ({ event, key: keys[i % keys.length] * 1000 + i })).sort((a, b) => a.key - b.key);
      const batches: StreamEvent[][] = [];
      let pos = 0;
      for (let b = 0; pos < order.length; b++) {
        const size = sizes[b % sizes.length];
        batches.push(order.slice(pos, pos + size).map((o) => o.event));
        pos += size;
      }
      return batches;
    });

const byProfile = (events: readonly StreamEvent[]) => {
  const groups = new Map<string, StreamEvent[]>();
  for (const event of events) {
    const id = profileIdOf(event);
    groups.set(id, [...(groups.get(id) ?? []), event]);
  }
  return groups;
};

/** Applies batches as the processor does: per profile, through the store's JSON round trip. */
function deliver(batches: StreamEvent[][], nowFor: (batch: number) => number = () => NOW): Map<string, ProfileRecord> {
  const store = new Map<string, ProfileRecord>();
  batches.forEach((batch, b) => {
    for (const [profileId, events] of byProfile(batch)) {
      const result = applyBatch(store.get(profileId), profileId, events, settings, nowFor(b));
      if (result.next) store.set(profileId, copyRecord(result.next));
    }
  });
  return store;
}

describe('order insensitivity', () => {
  it('gives the same profiles for any order, duplication and batching of the same events', () => {
    fc.assert(
      fc.property(
        streamArb.chain((stream) => fc.tuple(fc.constant(stream), deliveryArb(stream))),
        ([stream, batches]) => {
          const expected = deliver([stream]);
          const actual = deliver(batches);
          expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
          for (const [profileId, record] of expected) {
            const got = actual.get(profileId) as ProfileRecord;
            expectSameState(got.state, record.state);
            // Each profile within its bounds, so the comparison above is meaningful.
            expect(Object.keys(record.state.cart.lines).length).toBeLessThan(PROFILE_LIMITS.cartLines);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('gives the same profiles when every event is delivered in its own batch, newest first', () => {
    fc.assert(
      fc.property(streamArb, (stream) => {
        const expected = deliver([stream]);
        const reversed = [...stream].sort((a, b) => (a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0)).map((e) => [e]);
        const actual = deliver(reversed);
        for (const [profileId, record] of expected) expectSameState((actual.get(profileId) as ProfileRecord).state, record.state);
      }),
      { numRuns: 100 },
    );
  });
});

describe('de-duplication', () => {
  const profileId = 'user#u1';
  const batch = [
    track('Product Added', { product_id: 'p1', quantity: 2 }, { userId: 'u1', messageId: 'd-1' }),
    identify({ plan: 'pro' }, { userId: 'u1', messageId: 'd-2' }),
    track('Order Completed', { revenue: 10 }, { userId: 'u1', messageId: 'd-3' }),
  ];

  it('applies nothing, and writes nothing, when the same batch is replayed', () => {
    const first = applyBatch(undefined, profileId, batch, settings, NOW);
    expect(first.applied).toBe(3);
    const replay = applyBatch(copyRecord(first.next as ProfileRecord), profileId, batch, settings, NOW + 60_000);
    expect(replay).toEqual({ applied: 0, duplicates: 3, merged: 0 });
    expect(replay.next).toBeUndefined();
  });

  it('applies an event repeated within one batch once', () => {
    const result = applyBatch(undefined, profileId, [...batch, batch[0], batch[2]], settings, NOW);
    expect(result.applied).toBe(3);
    expect(result.duplicates).toBe(2);
    expect(result.next?.state.orders.count).toBe(1);
    expect(result.next?.state.events['Product Added']).toBe(1);
  });

  it('changes nothing when a messageId comes back days later, within the window', () => {
    const first = applyBatch(undefined, profileId, batch, settings, NOW).next as ProfileRecord;
    const later = NOW + (settings.dedupWindowHours - 1) * HOUR;
    // A client resending the order (same messageId) next to a new event.
    const result = applyBatch(copyRecord(first), profileId, [batch[2], identify({ plan: 'max' }, { userId: 'u1', messageId: 'd-4', at: T0 + 1 })], settings, later);
    expect(result.applied).toBe(1);
    expect(result.duplicates).toBe(1);
    expect(result.next?.state.orders).toEqual(first.state.orders);
    expect(result.next?.state.traits.plan).toBe('max');
  });

  it('applies a messageId again once the window has passed (documented: the window bounds the memory)', () => {
    const first = applyBatch(undefined, profileId, batch, settings, NOW).next as ProfileRecord;
    const after = NOW + settings.dedupWindowHours * HOUR + 1000;
    const result = applyBatch(copyRecord(first), profileId, [batch[2]], settings, after);
    expect(result.applied).toBe(1);
    expect(result.next?.state.orders.count).toBe(2);
  });
});
