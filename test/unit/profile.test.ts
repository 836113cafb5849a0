import { LIMITS, StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { applyBatch, ProfileRecord } from '../../lambdas/shared/domain/profile-record';
import { emptyProfile, OTHER_EVENTS, PROFILE_BYTE_BUDGETS, PROFILE_LIMITS, ProfileState, reduceEvents, REVENUE_SCALE } from '../../lambdas/shared/domain/profile';
import { toProfileView } from '../../lambdas/shared/domain/profile-view';
import { DEFAULT_PROFILE_SETTINGS } from '../../lambdas/shared/domain/settings';
import {
  DAY,
  group,
  identify,
  MINUTE,
  orderCompleted,
  page,
  productAdded,
  productRemoved,
  productViewed,
  screen,
  streamEvent,
  T0,
  track,
  alias,
} from '../support/events';

const HALF_LIFE_DAYS = 14;
const USER = 'user#user-1';
const reduce = (events: StreamEvent[], state: ProfileState = emptyProfile(USER)) => reduceEvents(state, events, HALF_LIFE_DAYS);
/** Applies each array as a separate reduce call, as separate batches would. */
const reduceInBatches = (...batches: StreamEvent[][]) => batches.reduce((state, batch) => reduce(batch, state), emptyProfile(USER));

const view = (state: ProfileState, nowMs = T0) =>
  toProfileView({ state, seen: new Uint8Array(), version: 1, expiresAt: Math.floor(nowMs / 1000) + 86_400, updatedAt: nowMs }, nowMs, HALF_LIFE_DAYS);
/** The cart as the API shows it: item id → quantity. */
const cart = (state: ProfileState) => Object.fromEntries(view(state).cart.items.map((i) => [i.itemId, i.quantity]));

describe('reduceEvents: counters and times', () => {
  it('counts calls by type and track calls by name', () => {
    const state = reduce([
      track('Signed Up'),
      track('Signed Up'),
      track('Video Played'),
      page('Home'),
      screen('Main'),
      identify({ plan: 'pro' }),
      group('g1'),
      alias('anon-1'),
    ]);
    expect(state.counts).toEqual({ track: 3, page: 1, screen: 1, identify: 1, group: 1, alias: 1 });
    expect(state.events).toEqual({ 'Signed Up': 2, 'Video Played': 1 });
  });

  it('keeps the earliest and the latest event time, whatever the arrival order', () => {
    const events = [track('A', {}, { at: T0 }), track('B', {}, { at: T0 - DAY }), track('C', {}, { at: T0 + MINUTE })];
    for (const order of [events, [...events].reverse()]) {
      const state = reduce(order);
      expect(state.firstSeen).toBe(T0 - DAY);
      expect(state.lastSeen).toBe(T0 + MINUTE);
    }
    const split = reduceInBatches([events[0]], [events[1]], [events[2]]);
    expect([split.firstSeen, split.lastSeen]).toEqual([T0 - DAY, T0 + MINUTE]);
  });

  it('does not modify the state it is given', () => {
    const before = reduce([identify({ a: 1 }), productAdded('p1')]);
    const snapshot = JSON.stringify(before);
    reduce([identify({ a: 2 }, { at: T0 + 1 }), productRemoved('p1', { at: T0 + 1 }), track('X')], before);
    expect(JSON.stringify(before)).toBe(snapshot);
  });
});

describe('reduceEvents: identity', () => {
  it('sets userId on a user profile and records anonymous ids with when each was last seen', () => {
    const state = reduce([
      track('A', {}, { userId: 'user-1', anonymousId: 'a1', at: T0 - DAY }),
      track('B', {}, { userId: 'user-1', anonymousId: 'a1', at: T0 - 2 * DAY }),
      track('C', {}, { userId: 'user-1', anonymousId: 'a2', at: T0 }),
    ]);
    expect(state.userId).toBe('user-1');
    expect(state.anonymousIds).toEqual({ a1: T0 - DAY, a2: T0 });
  });

  it('never sets userId on an anonymous profile', () => {
    const state = reduce([track('A', {}, { anonymousId: 'a1' })], emptyProfile('anon#a1'));
    expect(state.userId).toBeUndefined();
    expect(state.anonymousIds).toEqual({ a1: T0 });
  });

  it(`keeps the ${PROFILE_LIMITS.anonymousIds} most recently seen anonymous ids`, () => {
    const events = Array.from({ length: 30 }, (_, i) => track('A', {}, { userId: 'user-1', anonymousId: `a${i}`, at: T0 + i * MINUTE }));
    const state = reduceInBatches(events.slice(0, 10), events.slice(10, 25), events.slice(25));
    expect(Object.keys(state.anonymousIds).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `a${i + 10}`).sort());
  });
});

describe('reduceEvents: traits', () => {
  it('merges traits key by key, the latest event time winning whatever the arrival order', () => {
    const older = identify({ plan: 'free', name: 'Ann' }, { at: T0 - DAY });
    const newer = identify({ plan: 'pro' }, { at: T0 });
    for (const state of [reduce([older, newer]), reduce([newer, older]), reduceInBatches([newer], [older])]) {
      expect(state.traits).toEqual({ plan: 'pro', name: 'Ann' });
    }
  });

  it('breaks a tie on time by messageId', () => {
    const a = identify({ plan: 'a' }, { at: T0, messageId: 'm-a' });
    const b = identify({ plan: 'b' }, { at: T0, messageId: 'm-b' });
    expect(reduce([a, b]).traits.plan).toBe('b');
    expect(reduce([b, a]).traits.plan).toBe('b');
  });

  it('only takes traits from identify calls', () => {
    const state = reduce([streamEvent('track', { event: 'E', traits: { plan: 'x' } }), streamEvent('page', { traits: { plan: 'y' } })]);
    expect(state.traits).toEqual({});
  });

  it('keeps null values (an explicit reset) and nested values', () => {
    const state = reduce([identify({ email: 'a@b.c' }, { at: T0 - 1 }), identify({ email: null, address: { city: 'Oslo' } })]);
    expect(state.traits).toEqual({ email: null, address: { city: 'Oslo' } });
  });

  it('ignores values over 1 KB and keys over 128 characters, keeping the earlier value', () => {
    const limit = PROFILE_LIMITS.traitValueBytes;
    const fits = 'x'.repeat(limit - 2); // JSON adds two quotes
    const state = reduce([
      identify({ bio: 'short', fits: 'a' }, { at: T0 - DAY }),
      identify({ bio: 'y'.repeat(limit - 1), fits, ['k'.repeat(PROFILE_LIMITS.traitKeyLength + 1)]: 1, ['k'.repeat(PROFILE_LIMITS.traitKeyLength)]: 2 }),
    ]);
    expect(state.traits.bio).toBe('short');
    expect(state.traits.fits).toBe(fits);
    expect(Object.keys(state.traits)).toContain('k'.repeat(PROFILE_LIMITS.traitKeyLength));
    expect(Object.keys(state.traits)).not.toContain('k'.repeat(PROFILE_LIMITS.traitKeyLength + 1));
  });

  it(`keeps the ${PROFILE_LIMITS.traits} most recently set traits`, () => {
    const events = Array.from({ length: 100 }, (_, i) => identify({ [`t${i}`]: i }, { at: T0 + i * MINUTE }));
    const state = reduceInBatches(events.slice(50), events.slice(0, 50));
    const kept = Array.from({ length: 64 }, (_, i) => `t${i + 36}`);
    expect(Object.keys(state.traits).sort()).toEqual(kept.sort());
    expect(Object.keys(state.traitStamps).sort()).toEqual(kept.sort());
  });
});

describe('reduceEvents: recent items', () => {
  it('records item interactions newest first, with the category', () => {
    const state = reduce([
      productViewed('p1', 'Shoes', { at: T0 - 2 * MINUTE }),
      productAdded('p2', { category: 'Hats' }, { at: T0 }),
      productRemoved('p2', { at: T0 - MINUTE }),
      track('Signed Up', { product_id: 'not-an-item-event' }),
    ]);
    expect(state.recent).toEqual([
      { itemId: 'p2', event: 'Product Added', at: T0, category: 'hats' },
      { itemId: 'p2', event: 'Product Removed', at: T0 - MINUTE },
      { itemId: 'p1', event: 'Product Viewed', at: T0 - 2 * MINUTE, category: 'shoes' },
    ]);
  });

  it('reads the item id from product_id, productId, sku or id, and numbers as strings', () => {
    const state = reduce([
      track('Product Viewed', { productId: 'b' }, { at: T0 - 3 }),
      track('Product Viewed', { sku: 'c' }, { at: T0 - 2 }),
      track('Product Viewed', { id: 4 }, { at: T0 - 1 }),
      track('Product Viewed', { category: 'x' }, { at: T0 }),
    ]);
    expect(state.recent.map((r) => r.itemId)).toEqual(['4', 'c', 'b']);
  });

  it('records every product of an order', () => {
    const state = reduce([orderCompleted({ products: [{ product_id: 'p1' }, { product_id: 'p2', category: 'Toys' }, { name: 'no id' }] })]);
    expect(state.recent.map((r) => [r.itemId, r.event])).toEqual([
      ['p1', 'Order Completed'],
      ['p2', 'Order Completed'],
    ]);
  });

  it(`keeps the newest ${PROFILE_LIMITS.recentItems}, across batches`, () => {
    const total = PROFILE_LIMITS.recentItems + 30;
    const events = Array.from({ length: total }, (_, i) => productViewed(`p${i}`, undefined, { at: T0 + i * 1000 }));
    const state = reduceInBatches(events.slice(total / 2), events.slice(0, total / 2));
    expect(state.recent).toHaveLength(PROFILE_LIMITS.recentItems);
    expect(state.recent.map((r) => r.itemId)).toEqual(Array.from({ length: PROFILE_LIMITS.recentItems }, (_, i) => `p${total - 1 - i}`));
  });
});

describe('reduceEvents: cart', () => {
  it('sums the quantities of Product Added (1 when absent)', () => {
    const state = reduce([
      productAdded('p1', { quantity: 2 }, { at: T0 - 2 }),
      productAdded('p1', { quantity: 3 }, { at: T0 - 1 }),
      productAdded('p2', {}, { at: T0 }),
    ]);
    expect(cart(state)).toEqual({ p1: 5, p2: 1 });
  });

  it('removes the whole line on Product Removed, and counts additions after it', () => {
    const state = reduce([
      productAdded('p1', { quantity: 2 }, { at: T0 - 3 * MINUTE }),
      productAdded('p2', {}, { at: T0 - 3 * MINUTE }),
      productRemoved('p1', { at: T0 - 2 * MINUTE }),
      productAdded('p1', { quantity: 4 }, { at: T0 - MINUTE }),
    ]);
    expect(cart(state)).toEqual({ p1: 4, p2: 1 });
    expect(cart(reduce([productAdded('p1', {}, { at: T0 - 1 }), productRemoved('p1')]))).toEqual({});
  });

  it('keeps a product removed when an addition older than the removal arrives later', () => {
    const removal = productRemoved('p1', { at: T0 });
    const lateAdd = productAdded('p1', { quantity: 2 }, { at: T0 - MINUTE });
    expect(cart(reduceInBatches([removal], [lateAdd]))).toEqual({});
    expect(cart(reduceInBatches([lateAdd], [removal]))).toEqual({});
    expect(cart(reduce([removal, lateAdd]))).toEqual({});
  });

  it('clears the products an order lists, and only those', () => {
    const state = reduceInBatches(
      [productAdded('p1', {}, { at: T0 - 2 * MINUTE }), productAdded('p2', { quantity: 2 }, { at: T0 - 2 * MINUTE })],
      [orderCompleted({ products: [{ product_id: 'p1' }] }, { at: T0 - MINUTE })],
    );
    expect(cart(state)).toEqual({ p2: 2 });
  });

  it('clears the whole cart for an order that lists no products, keeping later additions', () => {
    const state = reduce([
      productAdded('p1', {}, { at: T0 - 2 * MINUTE }),
      productAdded('p2', {}, { at: T0 - 2 * MINUTE }),
      orderCompleted({ order_id: 'o1', total: 10 }, { at: T0 - MINUTE }),
      productAdded('p3', {}, { at: T0 }),
    ]);
    expect(cart(state)).toEqual({ p3: 1 });
    // ... and an addition older than that order, arriving later, stays cleared.
    expect(cart(reduce([productAdded('p4', {}, { at: T0 - 90_000 })], state))).toEqual({ p3: 1 });
  });

  it('shows the newest price of a line', () => {
    const state = reduce([productAdded('p1', { price: 10 }, { at: T0 - 1 }), productAdded('p1', { price: '12.50' }, { at: T0 })]);
    expect(view(state).cart).toEqual({ items: [{ itemId: 'p1', quantity: 2, price: 12.5, addedAt: new Date(T0).toISOString() }], value: 25 });
  });

  it(`bounds additions per line to ${PROFILE_LIMITS.cartAddsPerLine} and lines to ${PROFILE_LIMITS.cartLines}`, () => {
    const adds = Array.from({ length: 15 }, (_, i) => productAdded('p1', {}, { at: T0 - i }));
    expect(reduce(adds).cart.lines.p1.adds).toHaveLength(PROFILE_LIMITS.cartAddsPerLine);
    const lines = Array.from({ length: 60 }, (_, i) => productAdded(`p${i}`, {}, { at: T0 + i }));
    const state = reduce(lines);
    expect(Object.keys(state.cart.lines)).toHaveLength(PROFILE_LIMITS.cartLines);
    expect(state.cart.lines.p0).toBeUndefined(); // the oldest lines go first
    expect(state.cart.lines.p59).toBeDefined();
  });
});

describe('reduceEvents: orders (RFM)', () => {
  it('counts orders and keeps the first and last order time', () => {
    const state = reduce([
      orderCompleted({ revenue: 10 }, { at: T0 - DAY }),
      orderCompleted({ revenue: 20 }, { at: T0 }),
      orderCompleted({ revenue: 5 }, { at: T0 - 2 * DAY }),
    ]);
    expect(state.orders).toEqual({ count: 3, revenueUnits: 35 * REVENUE_SCALE, firstAt: T0 - 2 * DAY, lastAt: T0 });
  });

  it('takes revenue, else total, else the sum of price × quantity of the products', () => {
    const revenueOf = (properties: Record<string, unknown>) => reduce([orderCompleted(properties)]).orders.revenueUnits / REVENUE_SCALE;
    const products = [
      { product_id: 'a', price: 2.5, quantity: 2 },
      { product_id: 'b', price: '1.25' },
      { product_id: 'c', quantity: 3 },
    ];
    expect(revenueOf({ revenue: 7, total: 9, products })).toBe(7);
    expect(revenueOf({ total: 9, products })).toBe(9);
    expect(revenueOf({ revenue: '7.5', total: 9 })).toBe(7.5);
    expect(revenueOf({ revenue: 'n/a', total: 9 })).toBe(9);
    expect(revenueOf({ products })).toBe(6.25);
    expect(revenueOf({})).toBe(0);
  });

  it('sums revenue exactly, in any order', () => {
    const orders = Array.from({ length: 10 }, (_, i) => orderCompleted({ revenue: 0.1 }, { at: T0 + i }));
    const forward = reduce(orders);
    expect(forward.orders.revenueUnits).toBe(10 * 0.1 * REVENUE_SCALE);
    expect(view(forward).rfm.monetary).toBe(1);
    const mixed = [0.1, 0.2, 0.3, 1e6 + 0.01, 19.99].map((revenue, i) => orderCompleted({ revenue }, { at: T0 + i }));
    const a = reduce(mixed).orders.revenueUnits;
    const b = reduceInBatches([mixed[4], mixed[2]], [mixed[0], mixed[3], mixed[1]]).orders.revenueUnits;
    expect(a).toBe(b);
    expect(a / REVENUE_SCALE).toBe(1000020.6);
  });

  it('ignores a revenue too large to sum exactly, instead of losing the total', () => {
    const first = reduce([orderCompleted({ revenue: 100 }, { at: T0 - 2 })]);
    for (const revenue of [1e305, -1e305, 1e12]) {
      const stored: ProfileState = JSON.parse(JSON.stringify(reduce([orderCompleted({ revenue }, { at: T0 - 1 })], first)));
      const next = reduce([orderCompleted({ revenue: 5 })], stored);
      expect(next.orders.count).toBe(3);
      expect(next.orders.revenueUnits).toBe(105 * REVENUE_SCALE);
    }
  });
});

describe('reduceEvents: category affinity', () => {
  const scores = (state: ProfileState) => state.affinity.scores;

  it('weights interactions (view 1, add 3, order 5, removal 0) and normalizes category names', () => {
    const state = reduce([
      productViewed('p1', 'Shoes'),
      productAdded('p2', { category: ' shoes  ' }),
      orderCompleted({ products: [{ product_id: 'p3', category: 'SHOES' }] }),
      track('Product Removed', { product_id: 'p4', category: 'hats' }),
      track('Product List Viewed', { category: 'Bags' }),
    ]);
    expect(scores(state)).toEqual({ shoes: 9, bags: 0.5 });
  });

  it('counts an interaction one half-life older as half, whatever the order', () => {
    const halfLife = HALF_LIFE_DAYS * DAY;
    const now = productViewed('p1', 'shoes', { at: T0 });
    const older = productViewed('p2', 'shoes', { at: T0 - halfLife });
    const oldest = productViewed('p3', 'hats', { at: T0 - 2 * halfLife });
    for (const state of [reduce([now, older, oldest]), reduce([oldest, older, now]), reduceInBatches([oldest], [now], [older])]) {
      expect(state.affinity.at).toBe(T0);
      expect(scores(state).shoes).toBeCloseTo(1.5, 12);
      expect(scores(state).hats).toBeCloseTo(0.25, 12);
    }
  });

  it(`keeps the ${PROFILE_LIMITS.categories} strongest categories`, () => {
    const events = Array.from({ length: 120 }, (_, i) => productViewed(`p${i}`, `c${i}`, { at: T0 + i * MINUTE }));
    const state = reduce(events);
    expect(Object.keys(scores(state))).toHaveLength(PROFILE_LIMITS.categories);
    expect(scores(state).c0).toBeUndefined();
    expect(scores(state).c119).toBe(1);
  });
});

describe('reduceEvents: context', () => {
  const fullContext = {
    ip: '203.0.113.9',
    userAgent: 'Mozilla/5.0',
    library: { name: 'analytics.js', version: '2.0' },
    page: { url: 'https://shop.example/cart?token=secret', path: '/cart', referrer: 'https://google.com/' },
    location: { city: 'Trondheim', latitude: 63.4 },
    device: { type: 'ios', manufacturer: 'Apple', model: 'iPhone15,2', name: 'phone', id: 'device-id', advertisingId: 'idfa' },
    os: { name: 'iOS', version: '17.1', extra: 'x' },
    app: { name: 'Shop', version: '1.2.3', build: 456, namespace: 'com.example' },
    locale: 'nb-NO',
    timezone: 'Europe/Oslo',
    campaign: { name: 'spring', source: 'newsletter', medium: 'email', term: 'shoes', content: 'hero', id: 'c1' },
  };

  it('keeps device, os, app, locale, timezone, referrer and campaign only (no ip, user agent or page URLs)', () => {
    const state = reduce([track('E', {}, { context: fullContext })]);
    expect(state.context?.value).toEqual({
      device: { type: 'ios', manufacturer: 'Apple', model: 'iPhone15,2', name: 'phone' },
      os: { name: 'iOS', version: '17.1' },
      app: { name: 'Shop', version: '1.2.3', build: '456' },
      locale: 'nb-NO',
      timezone: 'Europe/Oslo',
      referrer: { url: 'https://google.com/' },
      campaign: { name: 'spring', source: 'newsletter', medium: 'email', term: 'shoes', content: 'hero' },
    });
    const stored = JSON.stringify(state);
    for (const secret of ['203.0.113.9', 'Mozilla', 'token=secret', 'device-id', 'idfa', 'Trondheim', 'analytics.js']) expect(stored).not.toContain(secret);
  });

  it('prefers context.referrer over page.referrer and clips strings to PROFILE_LIMITS.contextStringLength characters', () => {
    const state = reduce([track('E', {}, { context: { referrer: { type: 'search', url: 'u'.repeat(1000) }, page: { referrer: 'x' } } })]);
    expect(state.context?.value.referrer).toEqual({ type: 'search', url: 'u'.repeat(PROFILE_LIMITS.contextStringLength) });
  });

  it('keeps the context of the latest event, ignoring events without a usable context', () => {
    const newer = track('E', {}, { at: T0, context: { locale: 'en-US' } });
    const older = track('E', {}, { at: T0 - MINUTE, context: { locale: 'fr-FR' } });
    const newest = track('E', {}, { at: T0 + MINUTE, context: { ip: '1.2.3.4' } });
    for (const state of [reduce([newer, older, newest]), reduceInBatches([newest], [older], [newer])]) {
      expect(state.context?.value).toEqual({ locale: 'en-US' });
    }
  });
});

describe('reduceEvents: groups and bounds on names', () => {
  it('keeps the latest traits of each group', () => {
    const state = reduce([group('g1', { name: 'Old' }, { at: T0 - 1 }), group('g1', { name: 'New', size: 5 }), group('g1', { name: 'Older' }, { at: T0 - 2 })]);
    expect(state.groups.g1.traits).toEqual({ name: 'New', size: 5 });
  });

  it(`keeps the ${PROFILE_LIMITS.groups} most recent groups`, () => {
    const state = reduce(Array.from({ length: 15 }, (_, i) => group(`g${i}`, {}, { at: T0 + i })));
    expect(Object.keys(state.groups).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `g${i + 5}`).sort());
  });

  it(`counts event names beyond the first ${PROFILE_LIMITS.eventNames} under "${OTHER_EVENTS}"`, () => {
    const names = Array.from({ length: PROFILE_LIMITS.eventNames + 50 }, (_, i) => `Event ${i}`);
    const first = reduce(names.slice(0, PROFILE_LIMITS.eventNames).map((n) => track(n)));
    const state = reduce([...names.slice(PROFILE_LIMITS.eventNames).map((n) => track(n)), track('Event 0'), track('Event 0')], first);
    expect(Object.keys(state.events)).toHaveLength(PROFILE_LIMITS.eventNames + 1);
    expect(state.events[OTHER_EVENTS]).toBe(50);
    expect(state.events['Event 0']).toBe(3);
    expect(state.events['Event 210']).toBeUndefined();
  });
});

describe('reduceEvents: keys that are also Object.prototype property names', () => {
  // Product ids, group ids, event names, trait keys and anonymous ids come from clients: "constructor" or
  // "__proto__" must be ordinary keys, never crash the reducer (a crash fails the profile's records on every retry).
  const names = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

  it.each(names)('handles %j as a product id, group id, event name, category, trait and anonymous id', (name) => {
    const events = [
      productAdded(name, { quantity: 2, category: name }, { at: T0 - 3, anonymousId: name }),
      productViewed(name, name, { at: T0 - 2 }),
      group(name, { [name]: 'g' }, { at: T0 - 1 }),
      track(name, { product_id: 'p1', category: 'shoes' }),
      track(name),
      identify({ [name]: 'trait value' }),
      track('Product List Viewed', { category: 'shoes' }),
    ];
    let state = emptyProfile(USER);
    expect(() => {
      state = reduce(events);
    }).not.toThrow();
    const roundTripped: ProfileState = JSON.parse(JSON.stringify(state));
    expect(Object.hasOwn(roundTripped.events, name)).toBe(true);
    expect(roundTripped.events[name]).toBe(2);
    if (name === '__proto__') {
      // The schema (ingest's and the processor's) already drops "__proto__" keys inside traits.
      expect(Object.hasOwn(roundTripped.traits, name)).toBe(false);
      } else {
      expect(roundTripped.traits[name]).toBe('trait value');
      expect(roundTripped.groups[name].traits[name]).toBe('g');
    }
    expect(Object.hasOwn(roundTripped.groups, name)).toBe(true);
    expect(roundTripped.anonymousIds[name]).toBe(T0 - 3);
    expect(roundTripped.affinity.scores[name.toLowerCase()]).toBeCloseTo(4, 6); // categories are lower-cased
    expect(roundTripped.affinity.scores.shoes).toBe(0.5); // an unknown event name carries no weight
    expect(roundTripped.recent.filter((r) => r.event === name)).toEqual([]);
    expect(cart(roundTripped)).toEqual({ [name]: 2 });
    // ... and the state read back from storage keeps working.
    const next = reduce([productAdded(name, {}, { at: T0 + 1 }), track(name, {}, { at: T0 + 1 })], roundTripped);
    expect(cart(next)[name]).toBe(3);
    expect(next.events[name]).toBe(3);
  });

  it('stores a "__proto__" trait that reaches the reducer as an own key, not as the prototype', () => {
    const event = JSON.parse(JSON.stringify(identify({ plan: 'pro' })).replace('"plan"', '"__proto__"')) as StreamEvent;
    expect(Object.hasOwn(event.traits as object, '__proto__')).toBe(true);
    const state = reduce([event]);
    expect(Object.hasOwn(state.traits, '__proto__')).toBe(true);
    expect(state.traits.plan).toBeUndefined();
    expect(JSON.parse(JSON.stringify(state)).traits).toEqual(JSON.parse('{"__proto__":"pro"}'));
  });
});

describe('stored item size under hostile traffic', () => {
  /** DynamoDB's item limit is 400 KB; the profile must stay well below it whatever clients send. */
  const BUDGET_BYTES = 300 * 1024;
  const settings = DEFAULT_PROFILE_SETTINGS;

  /** Deterministic filler: `length` characters made of `alphabet`, distinct per seed. */
  const text = (length: number, seed: number, alphabet = 'abcdefghijklmnopqrstuvwxyz') => {
    const prefix = `${seed.toString(36)}-`;
    let out = prefix;
    for (let i = 0; out.length < length; i++) out += alphabet[(seed * 31 + i * 7) % alphabet.length];
    return out.slice(0, length);
  };

  /**
   * Thousands of events a hostile client could send for one person, every string as long as ingest allows and
   * every event within ingest's 32 KB limit. `bytesPerChar` is what one character of `alphabet` costs in JSON.
   */
  function hostileEvents(alphabet?: string, bytesPerChar = 1): StreamEvent[] {
    const userId = text(256, 1, alphabet);
    const opts = (i: number) => ({ userId, anonymousId: text(256, i % 100, alphabet), messageId: text(256, 1_000_000 + i, alphabet), at: T0 + i * 1000 });
    const events: StreamEvent[] = [];
    const add = (event: StreamEvent) => {
      const { messageId: _m, timestamp: _t, receivedAt: _r, sourceId: _s, ...sent } = event;
      const bytes = Buffer.byteLength(JSON.stringify(sent));
      if (bytes > LIMITS.maxEventBytes) throw new Error(`generator bug: a ${bytes}-byte event would not pass ingest`);
      events.push(event);
    };
    let i = 0;
    const contextChars = Math.min(PROFILE_LIMITS.contextStringLength, Math.floor(20_000 / (19 * bytesPerChar)));
    const longContext = (seed: number) => {
      const s = () => text(contextChars, seed, alphabet);
      return {
        device: { type: s(), manufacturer: s(), model: s(), name: s() },
        os: { name: s(), version: s() },
        app: { name: s(), version: s(), build: s() },
        locale: s(),
        timezone: s(),
        referrer: { type: s(), name: s(), url: s(), link: s() },
        campaign: { name: s(), source: s(), medium: s(), term: s(), content: s() },
      };
    };
    // 300 distinct event names of the maximum length.
    for (let n = 0; n < 300; n++) add(track(text(200, n, alphabet), {}, { ...opts(i++), context: longContext(n) }));
    // Traits: many distinct 128-character keys with values just under 1 KB, as many per event as fit in 32 KB.
    const valueChars = Math.floor((PROFILE_LIMITS.traitValueBytes - 2 - 8) / bytesPerChar);
    const traitsPerEvent = Math.floor(30_000 / (PROFILE_LIMITS.traitKeyLength * bytesPerChar + PROFILE_LIMITS.traitValueBytes + 8));
    for (let e = 0; e < 60; e++) {
      const traits: Record<string, unknown> = {};
      for (let k = 0; k < traitsPerEvent; k++) traits[text(128, e * 100 + k, alphabet)] = text(valueChars, k, alphabet);
      add(identify(traits, opts(i++)));
    }
    // Products: long ids and categories, many distinct, in every item event.
    const productsPerOrder = Math.floor(28_000 / ((256 + 100) * bytesPerChar + 60));
    for (let p = 0; p < 600; p++) {
      const props = { product_id: text(256, p, alphabet), category: text(100, p % 150, alphabet), price: 1e6 + p, quantity: 1e6 };
      const name = ['Product Viewed', 'Product Added', 'Product Added to Wishlist', 'Product Removed', 'Product Clicked'][p % 5];
      add(track(name, props, opts(i++)));
      if (p % 20 === 0) {
        const products = Array.from({ length: productsPerOrder }, (_, j) => ({ product_id: text(256, p * 1000 + j, alphabet), category: text(100, j, alphabet), price: 1, quantity: 2 }));
        add(orderCompleted({ products }, opts(i++)));
      }
    }
    // Groups with long ids and a trait each.
    for (let g = 0; g < 30; g++) add(group(text(256, g, alphabet), { [text(128, g, alphabet)]: text(valueChars, g, alphabet) }, opts(i++)));
    // Pad to thousands of events (each a distinct messageId, so the de-duplication set fills up too).
    while (events.length < 3000) add(track(text(200, events.length % 300, alphabet), {}, opts(i++)));
    return events;
  }

  function storedBytes(events: StreamEvent[]): { total: number; state: ProfileState } {
    let record: ProfileRecord | undefined;
    const profileId = `user#${events[0].userId}`;
    for (let b = 0; b < events.length; b += 250) {
      const result = applyBatch(record, profileId, events.slice(b, b + 250), settings, T0 + 3 * 3_600_000);
      record = result.next ? (JSON.parse(JSON.stringify({ ...result.next, seen: [...result.next.seen] })) as ProfileRecord) : record;
      if (record) record.seen = Uint8Array.from(record.seen as unknown as number[]);
    }
    if (!record) throw new Error('nothing written');
    return { total: Buffer.byteLength(JSON.stringify(record.state)) + record.seen.byteLength, state: record.state };
  }

  const describeSize = (state: ProfileState) =>
    Object.entries(state)
      .map(([key, value]) => `${key}=${Buffer.byteLength(JSON.stringify(value) ?? '')}`)
      .join(' ');

  it('stays well below 400 KB for thousands of maximum-size ASCII events', () => {
    const { total, state } = storedBytes(hostileEvents());
    if (total >= BUDGET_BYTES) throw new Error(`item is ${total} bytes: ${describeSize(state)}`);
    // Each collection is full up to whichever bound binds first: its entry count or its byte budget.
    const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));
    const names = Object.keys(state.events).filter((n) => n !== OTHER_EVENTS);
    expect(names.length).toBeLessThanOrEqual(PROFILE_LIMITS.eventNames);
    const entry = (name: string) => bytes(name) + bytes(0) + 2; // "name":0, in the counter object
    const used = names.reduce((sum, n) => sum + entry(n), 0);
    expect(used).toBeLessThanOrEqual(PROFILE_BYTE_BUDGETS.eventNames);
    expect(used + Math.max(...names.map(entry))).toBeGreaterThan(PROFILE_BYTE_BUDGETS.eventNames); // no room for one more
    expect(state.events[OTHER_EVENTS]).toBeGreaterThan(0);
    expect(state.recent.length).toBeGreaterThan(0);
    expect(state.recent.length).toBeLessThanOrEqual(PROFILE_LIMITS.recentItems);
    expect(bytes(state.recent)).toBeLessThanOrEqual(PROFILE_BYTE_BUDGETS.recentItems);
    expect(Object.keys(state.traits).length).toBeGreaterThan(0);
    expect(bytes(state.traits) + bytes(state.traitStamps)).toBeLessThanOrEqual(PROFILE_BYTE_BUDGETS.traits + 1024);
  });

  it('stays well below 400 KB when the strings are multi-byte (3 bytes per character in UTF-8)', () => {
    const { total, state } = storedBytes(hostileEvents('日本語の商品名カテゴリ', 3));
    if (total >= BUDGET_BYTES) throw new Error(`item is ${total} bytes: ${describeSize(state)}`);
  });

  it('stays well below 400 KB when the strings need JSON escapes (control characters: 6 bytes each)', () => {
    const { total, state } = storedBytes(hostileEvents('\u0001\u0002\u0003\u0004\u0005\u0006\u0007', 6));
    if (total >= BUDGET_BYTES) throw new Error(`item is ${total} bytes: ${describeSize(state)}`);
  });

  it('stays well below 400 KB when group calls carry many small traits', () => {
    const events = hostileEvents();
    for (let g = 0; g < 20; g++) {
      const traits: Record<string, unknown> = {};
      for (let k = 0; k < 2500; k++) traits[`k${k}`] = 'v'.repeat(4); // ~30 KB: one event within the 32 KB limit
      events.push(group(`g${g}`, traits, { userId: events[0].userId, at: T0 + DAY + g }));
    }
    const { total, state } = storedBytes(events);
    if (total >= BUDGET_BYTES) throw new Error(`item is ${total} bytes: ${describeSize(state)}`);
  });
});
