import { emptyProfile, ProfileState, reduceEvents } from '../../lambdas/shared/domain/profile';
import { ProfileRecord } from '../../lambdas/shared/domain/profile-record';
import { toProfileView } from '../../lambdas/shared/domain/profile-view';
import { DAY, group, identify, iso, MINUTE, orderCompleted, productAdded, productViewed, T0, track } from '../support/events';

const HALF_LIFE = 14;
const record = (state: ProfileState, extra: Partial<ProfileRecord> = {}): ProfileRecord => ({
  state,
  seen: new Uint8Array(24),
  version: 3,
  expiresAt: Math.floor(T0 / 1000) + 30 * 86_400,
  updatedAt: T0,
  ...extra,
});
const stateOf = (...events: Parameters<typeof reduceEvents>[1]) => reduceEvents(emptyProfile('user#user-1'), events, HALF_LIFE);

describe('toProfileView', () => {
  it('shows ids, times and bookkeeping as ISO dates and drops internal fields', () => {
    const state = stateOf(
      track('A', {}, { userId: 'user-1', anonymousId: 'a-old', at: T0 - 2 * DAY }),
      track('B', {}, { userId: 'user-1', anonymousId: 'a-new', at: T0 - DAY }),
      identify({ plan: 'pro' }, { at: T0 - DAY }),
      group('g1', { name: 'Acme' }),
    );
    const view = toProfileView(record(state), T0, HALF_LIFE);
    expect(view.profileId).toBe('user#user-1');
    expect(view.userId).toBe('user-1');
    expect(view.anonymousIds).toEqual(['a-new', 'a-old']);
    expect(view.traits).toEqual({ plan: 'pro' });
    expect(view.firstSeen).toBe(iso(T0 - 2 * DAY));
    expect(view.lastSeen).toBe(iso(T0));
    expect(view.counts).toEqual({ track: 2, identify: 1, group: 1 });
    expect(view.groups).toEqual([{ groupId: 'g1', traits: { name: 'Acme' } }]);
    expect(view.version).toBe(3);
    expect(view.updatedAt).toBe(iso(T0));
    expect(view.expiresAt).toBe(iso(T0 + 30 * DAY));
    const json = JSON.stringify(view);
    for (const internal of ['traitStamps', 'stamp', 'seen', 'revenueUnits', 'clearedAt', 'adds']) expect(json).not.toContain(`"${internal}"`);
  });

  it('leaves out what an empty profile does not have', () => {
    const view = toProfileView(record(emptyProfile('anon#a1')), T0, HALF_LIFE);
    expect(view).not.toHaveProperty('userId');
    expect(view).not.toHaveProperty('firstSeen');
    expect(view).not.toHaveProperty('context');
    expect(view.rfm).toEqual({ frequency: 0, monetary: 0 });
    expect(view.cart).toEqual({ items: [], value: 0 });
    expect(view.affinities).toEqual([]);
  });

  it('decays affinities to the time of the read and sorts them strongest first', () => {
    const state = stateOf(
      productViewed('p1', 'hats', { at: T0 }),
      productAdded('p2', { category: 'shoes' }, { at: T0 - 14 * DAY }), // 3 → 1.5 at T0
      productViewed('p3', 'bags', { at: T0 - 14 * DAY }), // 1 → 0.5 at T0
    );
    expect(toProfileView(record(state), T0, HALF_LIFE).affinities).toEqual([
      { category: 'shoes', score: 1.5 },
      { category: 'hats', score: 1 },
      { category: 'bags', score: 0.5 },
    ]);
    // Read one half-life later: everything counts half.
    expect(toProfileView(record(state), T0 + 14 * DAY, HALF_LIFE).affinities).toEqual([
      { category: 'shoes', score: 0.75 },
      { category: 'hats', score: 0.5 },
      { category: 'bags', score: 0.25 },
    ]);
  });

  it('shows the cart as lines with quantities, the newest price, newest line first, and its value', () => {
    const state = stateOf(
      productAdded('p1', { quantity: 2, price: 10 }, { at: T0 - 2 * MINUTE }),
      productAdded('p1', { price: 12 }, { at: T0 - MINUTE }),
      productAdded('p2', { quantity: 3 }, { at: T0 }),
      track('Product Removed', { product_id: 'p3' }, { at: T0 }),
    );
    expect(toProfileView(record(state), T0, HALF_LIFE).cart).toEqual({
      items: [
        { itemId: 'p2', quantity: 3, addedAt: iso(T0) },
        { itemId: 'p1', quantity: 3, price: 12, addedAt: iso(T0 - MINUTE) },
      ],
      value: 36,
    });
  });

  it('computes RFM: recency in whole days, frequency, monetary and order dates', () => {
    const state = stateOf(orderCompleted({ revenue: 19.99 }, { at: T0 - 10 * DAY }), orderCompleted({ revenue: 0.01 }, { at: T0 - 3 * DAY - MINUTE }));
    expect(toProfileView(record(state), T0, HALF_LIFE).rfm).toEqual({
      recencyDays: 3,
      frequency: 2,
      monetary: 20,
      firstOrderAt: iso(T0 - 10 * DAY),
      lastOrderAt: iso(T0 - 3 * DAY - MINUTE),
    });
  });

  it('never shows a negative recency for an order timestamped slightly ahead', () => {
    const state = stateOf(orderCompleted({ revenue: 1 }, { at: T0 + MINUTE }));
    expect(toProfileView(record(state), T0, HALF_LIFE).rfm.recencyDays).toBe(0);
  });

  it('shows recent items with ISO times, newest first', () => {
    const state = stateOf(productViewed('p1', 'Hats', { at: T0 - MINUTE }), productViewed('p2', undefined, { at: T0 }));
    expect(toProfileView(record(state), T0, HALF_LIFE).recentItems).toEqual([
      { itemId: 'p2', event: 'Product Viewed', at: iso(T0) },
      { itemId: 'p1', event: 'Product Viewed', at: iso(T0 - MINUTE), category: 'hats' },
    ]);
  });

  it('shows the kept context', () => {
    const state = stateOf(track('E', {}, { context: { locale: 'en-GB', ip: '1.1.1.1' } }));
    expect(toProfileView(record(state), T0, HALF_LIFE).context).toEqual({ locale: 'en-GB' });
  });
});
