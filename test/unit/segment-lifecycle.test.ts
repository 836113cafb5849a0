import { runSegmentClock } from '../../lambdas/segments/clock';
import { updateProfiles, UpdateDeps } from '../../lambdas/process/update-profiles';
import { SegmentNotice } from '../../lambdas/shared/domain/segment-membership';
import { parseSegmentDefinition, SegmentDefinition } from '../../lambdas/shared/domain/segments';
import { DEFAULT_PROFILE_SETTINGS } from '../../lambdas/shared/domain/settings';
import type { SegmentBus } from '../../lambdas/shared/store/segment-bus';
import { CONSENT_EVENT } from '../../lambdas/shared/domain/consent';
import { identify, MINUTE, orderCompleted, productAdded, productViewed, SECOND, T0, track } from '../support/events';
import { InMemoryIdentityStore } from '../support/in-memory-identity-store';
import { InMemoryProfileStore } from '../support/in-memory-profile-store';
import { disabledMetrics, silentLogger } from '../support/powertools';

/**
 * Segments through the processor and the clock: memberships evaluated in the profile's write, entry and exit
 * notices published once per transition, timed exits at their exact time, and nothing lost when the bus fails.
 */

const CART_ABANDONERS = parseSegmentDefinition({
  id: 'cart-abandoners',
  name: 'Added to cart in the last 10 minutes and did not buy',
  condition: { all: [{ cart: { addedWithin: '10m' } }, { not: { event: { name: 'Order Completed', within: '10m' } } }] },
});
const VIEWERS = parseSegmentDefinition({ id: 'viewers', name: 'Viewed a product today', condition: { event: { name: 'Product Viewed', within: '1d' } } });

/** A bus that records what it published, and fails while `failing` is set. */
class RecordingBus implements SegmentBus {
  readonly published: SegmentNotice[] = [];
  failing = false;
  async publish(notices: readonly SegmentNotice[]): Promise<void> {
    if (this.failing) throw new Error('bus down');
    this.published.push(...notices);
  }
}

function setup(definitions: SegmentDefinition[] = [CART_ABANDONERS]) {
  let now = T0;
  const clock = { set: (ms: number) => (now = ms), now: () => now };
  const profiles = new InMemoryProfileStore();
  const bus = new RecordingBus();
  const segments = { definitions: async () => definitions, bus };
  const deps: UpdateDeps = { profiles, identities: new InMemoryIdentityStore(), settings: DEFAULT_PROFILE_SETTINGS, now: clock.now, segments };
  const process = async (...events: Parameters<typeof updateProfiles>[0]) => {
    const { failed, stats } = await updateProfiles(events, deps);
    expect(failed.size).toBe(0);
    return stats;
  };
  const tick = (at: number) => {
    clock.set(at);
    return runSegmentClock({ profiles, definitions: segments.definitions, bus, settings: DEFAULT_PROFILE_SETTINGS, now: clock.now, logger: silentLogger(), metrics: disabledMetrics() });
  };
  return { clock, profiles, bus, definitions, process, tick };
}

const transitions = (bus: RecordingBus) => bus.published.map((n) => [n.type, n.segmentId, n.profileId, n.at - T0, n.reason]);

it('enters on the add to cart and exits at exactly add time + 10 minutes, with no new event', async () => {
  const t = setup();
  t.clock.set(T0 + 2 * SECOND);
  await t.process(productAdded('p1', {}, { at: T0, userId: 'u1' }));
  expect(transitions(t.bus)).toEqual([['entered', 'cart-abandoners', 'user#u1', 2 * SECOND, 'condition']]);
  const record = t.profiles.peek('user#u1');
  expect(record?.memberships).toEqual({ segments: { 'cart-abandoners': { since: T0 + 2 * SECOND } }, changesAt: T0 + 10 * MINUTE });
  expect(record?.notices).toBeUndefined(); // published, then removed

  // Nothing is due before the 10 minutes are up.
  expect(await t.tick(T0 + 9 * MINUTE)).toMatchObject({ due: 0 });
  // The clock runs a little later than the exit time; the exit is stamped with the exact time.
  expect(await t.tick(T0 + 10 * MINUTE + 40 * SECOND)).toMatchObject({ due: 1, settled: 1, noticesPublished: 1 });
  expect(transitions(t.bus)).toEqual([
    ['entered', 'cart-abandoners', 'user#u1', 2 * SECOND, 'condition'],
    ['exited', 'cart-abandoners', 'user#u1', 10 * MINUTE, 'condition'],
  ]);
  expect(t.bus.published[1]).toMatchObject({ since: T0 + 2 * SECOND, userId: 'u1', id: `cart-abandoners/user#u1/${T0 + 2 * SECOND}/exited` });
  expect(t.profiles.peek('user#u1')?.memberships).toBeUndefined();
  // Nothing more is due: another run changes nothing.
  expect(await t.tick(T0 + 20 * MINUTE)).toMatchObject({ due: 0 });
  expect(t.bus.published).toHaveLength(2);
});

it('exits when the order comes, and a replayed batch publishes nothing again', async () => {
  const t = setup();
  const add = productAdded('p1', {}, { at: T0, userId: 'u1' });
  const order = orderCompleted({ products: [{ product_id: 'p1' }] }, { at: T0 + 3 * MINUTE, userId: 'u1' });
  t.clock.set(T0 + SECOND);
  await t.process(add);
  t.clock.set(T0 + 3 * MINUTE + SECOND);
  await t.process(order);
  await t.process(add, order); // a redelivered batch
  expect(transitions(t.bus)).toEqual([
    ['entered', 'cart-abandoners', 'user#u1', SECOND, 'condition'],
    ['exited', 'cart-abandoners', 'user#u1', 3 * MINUTE + SECOND, 'condition'],
  ]);
});

it('plays a timed exit that fell due before the next event at its own time, then the event', async () => {
  const t = setup([CART_ABANDONERS, VIEWERS]);
  t.clock.set(T0);
  await t.process(productAdded('p1', {}, { at: T0, userId: 'u1' }));
  // No clock run in between: the next event arrives 15 minutes later.
  t.clock.set(T0 + 15 * MINUTE);
  await t.process(productViewed('p2', 'shoes', { at: T0 + 15 * MINUTE, userId: 'u1' }));
  expect(transitions(t.bus)).toEqual([
    ['entered', 'cart-abandoners', 'user#u1', 0, 'condition'],
    ['exited', 'cart-abandoners', 'user#u1', 10 * MINUTE, 'condition'],
    ['entered', 'viewers', 'user#u1', 15 * MINUTE, 'condition'],
  ]);
});

it('keeps notices on the profile while the bus fails, and the clock publishes each exactly once', async () => {
  const t = setup();
  t.bus.failing = true;
  t.clock.set(T0);
  const stats = await t.process(productAdded('p1', {}, { at: T0, userId: 'u1' }));
  expect(stats).toMatchObject({ noticesPublished: 0, noticesDelayed: 1 });
  expect(t.profiles.peek('user#u1')?.notices).toHaveLength(1);
  // Left to the writer for a minute (it may still be publishing them), then the clock's: it retries, and fails again while the bus is down.
  expect(await t.tick(T0 + 30 * SECOND)).toMatchObject({ due: 0, noticesPublished: 0 });
  expect(await t.tick(T0 + MINUTE)).toMatchObject({ due: 1, noticesPublished: 0, noticesDelayed: 1 });

  t.bus.failing = false;
  await t.tick(T0 + 2 * MINUTE);
  expect(transitions(t.bus)).toEqual([['entered', 'cart-abandoners', 'user#u1', 0, 'condition']]);
  await t.tick(T0 + 3 * MINUTE);
  await t.tick(T0 + 11 * MINUTE);
  expect(transitions(t.bus)).toEqual([
    ['entered', 'cart-abandoners', 'user#u1', 0, 'condition'],
    ['exited', 'cart-abandoners', 'user#u1', 10 * MINUTE, 'condition'],
  ]);
  expect(new Set(t.bus.published.map((n) => n.id)).size).toBe(2);
});

it('ends the memberships of a profile merged into another, of a deleted segment, and of a withdrawn consent', async () => {
  const t = setup([VIEWERS]);
  t.clock.set(T0);
  await t.process(productViewed('p1', 'shoes', { at: T0, anonymousId: 'a1' }));
  t.clock.set(T0 + MINUTE);
  await t.process(identify({ name: 'Ann' }, { at: T0 + MINUTE, userId: 'u1', anonymousId: 'a1' }));
  expect(transitions(t.bus)).toEqual([
    ['entered', 'viewers', 'anon#a1', 0, 'condition'],
    ['exited', 'viewers', 'anon#a1', MINUTE, 'merged'],
    ['entered', 'viewers', 'user#u1', MINUTE, 'condition'],
  ]);

  t.clock.set(T0 + 2 * MINUTE);
  await t.process(track(CONSENT_EVENT, {}, { at: T0 + 2 * MINUTE, userId: 'u1', context: { consent: { categoryPreferences: { personalization: false } } } }));
  expect(transitions(t.bus).at(-1)).toEqual(['exited', 'viewers', 'user#u1', 2 * MINUTE, 'consent']);

  const later = setup([VIEWERS]);
  await later.process(productViewed('p1', 'shoes', { at: T0, userId: 'u2' }));
  later.definitions.length = 0; // the segment is deleted
  later.clock.set(T0 + MINUTE);
  await later.process(productViewed('p2', 'shoes', { at: T0 + MINUTE, userId: 'u2' }));
  expect(transitions(later.bus).at(-1)).toEqual(['exited', 'viewers', 'user#u2', MINUTE, 'segment-deleted']);
});

it('publishes each transition once when a batch holds both an anonymous visitor’s events and the login that merges them', async () => {
  const t = setup([VIEWERS]);
  // The worst interleaving: the visitor's profile is written and its entry published, and the login seals that
  // profile (to merge it) before the publisher has removed the published notice from it.
  const publish = t.bus.publish.bind(t.bus);
  t.bus.publish = async (notices) => {
    for (let i = 0; i < 100 && notices.some((n) => n.profileId === 'anon#a1') && !t.profiles.peek('anon#a1')?.mergedInto; i++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return publish(notices);
  };
  t.clock.set(T0 + MINUTE);
  await t.process(
    productViewed('p1', 'shoes', { at: T0, anonymousId: 'a1', messageId: 'v1' }),
    identify({ name: 'Ann' }, { at: T0 + 1000, userId: 'u1', anonymousId: 'a1', messageId: 'i1' }),
  );
  await t.tick(T0 + 2 * MINUTE); // anything left queued is published
  // Each once, none lost: the visitor entered, left when merged, and the person entered.
  expect(transitions(t.bus).sort()).toEqual(
    [
      ['entered', 'viewers', 'anon#a1', MINUTE, 'condition'],
      ['exited', 'viewers', 'anon#a1', MINUTE, 'merged'],
      ['entered', 'viewers', 'user#u1', MINUTE, 'condition'],
    ].sort(),
  );
  expect(t.profiles.peek('user#u1')?.memberships?.segments).toHaveProperty('viewers');
});

it('publishes, from the merged record, notices a visitor’s profile could not publish before it was merged', async () => {
  const t = setup([VIEWERS]);
  t.bus.failing = true;
  t.clock.set(T0 + MINUTE);
  await t.process(productViewed('p1', 'shoes', { at: T0, anonymousId: 'a1', messageId: 'v1' }));
  await t.process(identify({ name: 'Ann' }, { at: T0 + 1000, userId: 'u1', anonymousId: 'a1', messageId: 'i1' }));
  expect(t.bus.published).toEqual([]);
  expect(t.profiles.peek('anon#a1')).toMatchObject({ mergedInto: 'user#u1', notices: [expect.objectContaining({ type: 'entered', profileId: 'anon#a1' })] });

  t.bus.failing = false;
  expect(await t.tick(T0 + 2 * MINUTE)).toMatchObject({ noticesPublished: 3 });
  expect(transitions(t.bus).sort()).toEqual(
    [
      ['entered', 'viewers', 'anon#a1', MINUTE, 'condition'],
      ['exited', 'viewers', 'anon#a1', MINUTE, 'merged'],
      ['entered', 'viewers', 'user#u1', MINUTE, 'condition'],
    ].sort(),
  );
  expect(t.profiles.peek('anon#a1')?.notices).toBeUndefined();
  expect(await t.tick(T0 + 3 * MINUTE)).toMatchObject({ due: 0 });
});
