import fc from 'fast-check';
import { boundActivity, emptyActivity, recordActivity } from '../../lambdas/shared/domain/activity';
import { RequestError } from '../../lambdas/shared/domain/errors';
import { emptyProfile, REVENUE_SCALE } from '../../lambdas/shared/domain/profile';
import {
  Condition,
  evaluateSegment,
  EvaluationContext,
  parseSegmentDefinition,
  SegmentDefinition,
  SegmentDefinitionSchema,
  SegmentProfile,
} from '../../lambdas/shared/domain/segments';
import { DAY, HOUR, MINUTE, SECOND, T0 } from '../support/events';

/**
 * Segment definitions (validated, every problem named by its path) and their evaluation: each leaf, the
 * combinators, and `changesAt`, the time at which the answer may next change with no new event.
 */

const HALF_LIFE_DAYS = 30;

const definition = (condition: unknown, extra: Record<string, unknown> = {}) => ({ id: 'test-segment', name: 'Test', condition, ...extra });
const segment = (condition: unknown): SegmentDefinition => parseSegmentDefinition(definition(condition));

/** The message parsing `input` throws (a RequestError, 400). */
function errorOf(input: unknown): string {
  try {
    parseSegmentDefinition(input);
  } catch (error) {
    expect(error).toBeInstanceOf(RequestError);
    expect((error as RequestError).status).toBe(400);
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(input)?.slice(0, 200)} to be rejected`);
}

const context = (nowMs: number, consent: Record<string, boolean> = {}): EvaluationContext => ({
  nowMs,
  affinityHalfLifeDays: HALF_LIFE_DAYS,
  consentGranted: (purpose) => Object.hasOwn(consent, purpose) && consent[purpose],
});

/** An empty profile with an empty activity; tests set the fields they need. */
const newProfile = (): SegmentProfile => ({ ...emptyProfile('user#u1'), activity: emptyActivity() });

/** Records events (activity key, time) into the profile's activity as one batch. */
function record(p: SegmentProfile, ...events: Array<[string, number]>): SegmentProfile {
  for (const [key, at] of events) recordActivity(p.activity, key, at);
  boundActivity(p.activity);
  return p;
}

/** Adds a cart line (as the reducer stores it) added at `at`. */
function addToCart(p: SegmentProfile, itemId: string, at: number, quantity = 1, price?: number): SegmentProfile {
  p.cart.lines[itemId] = { adds: [{ at, quantity, ...(price !== undefined ? { price } : {}) }], clearedAt: 0 };
  return p;
}

const evaluateAt = (def: SegmentDefinition, p: SegmentProfile, nowMs: number, consent?: Record<string, boolean>) =>
  evaluateSegment(def, p, context(nowMs, consent));
const memberAt = (def: SegmentDefinition, p: SegmentProfile, nowMs: number) => evaluateAt(def, p, nowMs).member;

/** The answer at `now` holds until just before `changesAt` and flips exactly at it; returns `changesAt`. */
function expectExactChange(def: SegmentDefinition, p: SegmentProfile, now: number): number {
  const { member, changesAt } = evaluateAt(def, p, now);
  expect(changesAt).toBeDefined();
  const at = changesAt as number;
  expect(at).toBeGreaterThan(now);
  expect(memberAt(def, p, at - 1)).toBe(member);
  expect(memberAt(def, p, at)).toBe(!member);
  return at;
}

// ------------------------------------------------------------------------------------------------------------
// Validation

describe('parseSegmentDefinition: valid definitions', () => {
  it('accepts every kind of condition and keeps the definition as written (categories normalized)', () => {
    const condition: Condition = {
      all: [
        { event: { name: 'Product Added', within: '10m', min: 1, max: 5 } },
        { event: { name: '$page', within: '90d' } },
        { lastSeen: { within: '2h' } },
        { rfm: { recencyDays: { max: 30 }, frequency: { min: 2 }, monetary: { min: 10.5, max: 1000 } } },
        { affinity: { category: ' Running  Shoes ', min: 2 } },
        { trait: { key: 'plan', op: 'in', value: ['pro', 'enterprise'] } },
        { trait: { key: 'email', op: 'exists' } },
        { cart: { minItems: 1, maxItems: 10, minValue: 0, addedWithin: '30s' } },
        { consent: { purpose: 'Advertising', granted: true } },
        { any: [{ not: { trait: { key: 'age', op: 'lt', value: 18 } } }] },
      ],
    };
    const def = parseSegmentDefinition(definition(condition, { description: 'Everything at once' }));
    expect(def.id).toBe('test-segment');
    expect(def.description).toBe('Everything at once');
    const all = (def.condition as { all: Condition[] }).all;
    expect(all[4]).toEqual({ affinity: { category: 'running shoes', min: 2 } });
    expect(all[0]).toEqual(condition.all[0]);
    expect(all[9]).toEqual(condition.all[9]);
    expect(SegmentDefinitionSchema.safeParse(definition(condition)).success).toBe(true);
  });

  it('accepts the limits themselves: 90d, 6 levels, 50 leaves, 20 children', () => {
    const leaf = { lastSeen: { within: '90d' } };
    let nested: unknown = leaf;
    for (let level = 2; level <= 6; level++) nested = { not: nested };
    expect(() => segment(nested)).not.toThrow();
    expect(() => segment({ event: { name: 'x', within: '2160h' } })).not.toThrow();
    const twenty = Array.from({ length: 20 }, () => leaf);
    expect(() => segment({ all: [{ all: twenty }, { any: twenty }, { all: twenty.slice(0, 10) }] })).not.toThrow();
  });
});

describe('parseSegmentDefinition: each problem names its path', () => {
  const leafOk = { lastSeen: { within: '1d' } };
  it.each([
    ['not an object', 'segment', 'must be a JSON object'],
    ['an id with capitals', { ...definition(leafOk), id: 'Cart-Abandoners' }, 'id: must be 1-64 lowercase letters, digits or hyphens'],
    ['an id starting with a hyphen', { ...definition(leafOk), id: '-cart' }, 'id: must be 1-64'],
    ['an id of 65 characters', { ...definition(leafOk), id: 'a'.repeat(65) }, 'id: must be 1-64'],
    ['an empty name', { ...definition(leafOk), name: '  ' }, 'name: must not be empty'],
    ['a name of 129 characters', { ...definition(leafOk), name: 'n'.repeat(129) }, 'name: must be at most 128 characters'],
    ['a description of 1025 characters', definition(leafOk, { description: 'd'.repeat(1025) }), 'description: must be at most 1024 characters'],
    ['a misspelt field', definition(leafOk, { conditon: {} }), 'unknown field "conditon"'],
    ['no condition', { id: 'x', name: 'X' }, 'condition: is required'],
    ['an unknown condition', definition({ evnt: { name: 'x', within: '1d' } }), 'condition: unknown condition "evnt"; expected one of all, any, not, event'],
    ['an empty condition', definition({}), 'condition: must hold exactly one condition: all, any, not, event'],
    ['two conditions in one object', definition({ lastSeen: { within: '1d' }, consent: { purpose: 'x', granted: true } }), 'combine several with all or any'],
    ['a condition that is not an object', definition({ not: 'event' }), 'condition.not: must be a condition object'],
    ['a bad duration deep inside', definition({ all: [leafOk, { any: [{ event: { name: 'x', within: '10 minutes' } }] }] }), 'condition.all.1.any.0.event.within: must be a duration such as 30s, 10m, 2h or 7d'],
    ['a zero duration', definition({ lastSeen: { within: '0m' } }), 'condition.lastSeen.within: must be more than 0'],
    ['a duration beyond the retention', definition({ lastSeen: { within: '91d' } }), 'condition.lastSeen.within: must be at most 90d'],
    ['a duration of 2161 hours', definition({ event: { name: 'x', within: '2161h' } }), 'condition.event.within: must be at most 90d'],
    ['a negative duration', definition({ lastSeen: { within: '-1d' } }), 'condition.lastSeen.within: must be a duration'],
    ['an empty all', definition({ all: [] }), 'condition.all: must hold at least one condition'],
    ['an any of 21', definition({ any: Array.from({ length: 21 }, () => leafOk) }), 'condition.any: must hold at most 20 conditions'],
    ['an all that is not an array', definition({ all: leafOk }), 'condition.all: must be an array of conditions'],
    ['an event without a name', definition({ event: { within: '1d' } }), 'condition.event.name: is required'],
    ['an event name that is not a string', definition({ event: { name: 7, within: '1d' } }), 'condition.event.name: must be a string'],
    ['a misspelt event field', definition({ event: { name: 'x', within: '1d', count: 2 } }), 'condition.event: unknown field "count"'],
    ['a fractional event min', definition({ event: { name: 'x', within: '1d', min: 1.5 } }), 'condition.event.min: must be a whole number'],
    ['a negative event max', definition({ event: { name: 'x', within: '1d', min: 0, max: -1 } }), 'condition.event.max: must not be negative'],
    ['an event max below the default min', definition({ event: { name: 'x', within: '1d', max: 0 } }), 'condition.event.max: must not be less than min (which defaults to 1)'],
    ['an empty rfm', definition({ rfm: {} }), 'condition.rfm: give recencyDays, frequency or monetary'],
    ['an empty range', definition({ rfm: { frequency: {} } }), 'condition.rfm.frequency: give min, max or both'],
    ['an inverted range', definition({ rfm: { monetary: { min: 10, max: 5 } } }), 'condition.rfm.monetary: min must not be greater than max'],
    ['fractional recency days', definition({ rfm: { recencyDays: { max: 1.5 } } }), 'condition.rfm.recencyDays.max: must be a whole number'],
    ['a blank category', definition({ affinity: { category: '   ', min: 1 } }), 'condition.affinity.category: must be 1-100 characters'],
    ['a zero affinity', definition({ affinity: { category: 'shoes', min: 0 } }), 'condition.affinity.min: must be more than 0'],
    ['an unknown trait op', definition({ trait: { key: 'plan', op: 'like', value: 'p' } }), 'condition.trait.op: must be one of eq, neq'],
    ['a value with exists', definition({ trait: { key: 'plan', op: 'exists', value: true } }), 'condition.trait.value: must be left out for op "exists"'],
    ['no value with eq', definition({ trait: { key: 'plan', op: 'eq' } }), 'condition.trait.value: is required for op "eq"'],
    ['a string with gte', definition({ trait: { key: 'age', op: 'gte', value: '18' } }), 'condition.trait.value: must be a number for op "gte"'],
    ['a scalar with in', definition({ trait: { key: 'plan', op: 'in', value: 'pro' } }), 'condition.trait.value: must be an array for op "in"'],
    ['an object with contains', definition({ trait: { key: 'tags', op: 'contains', value: { a: 1 } } }), 'condition.trait.value: must be a string, number or boolean'],
    ['a trait value over 4 KB', definition({ trait: { key: 'plan', op: 'in', value: ['x'.repeat(4000), 'y'.repeat(100)] } }), 'condition.trait.value: must be at most 4096 bytes as JSON'],
    ['an in list of 101 values', definition({ trait: { key: 'n', op: 'in', value: Array.from({ length: 101 }, (_, i) => i) } }), 'condition.trait.value: must hold at most 100 values'],
    ['a trait value that is not JSON', definition({ trait: { key: 'n', op: 'eq', value: { at: new Date(0) } } }), 'condition.trait.value: must be a JSON value'],
    ['a trait value that JSON cannot hold', definition({ trait: { key: 'n', op: 'eq', value: BigInt(1) } }), 'condition.trait.value: must be a JSON value'],
    ['a trait value of Infinity', definition({ trait: { key: 'n', op: 'in', value: [1, Infinity] } }), 'condition.trait.value: must be a JSON value'],
    ['an empty trait key', definition({ trait: { key: '', op: 'exists' } }), 'condition.trait.key: must not be empty'],
    ['an empty cart condition', definition({ cart: {} }), 'condition.cart: give minItems, maxItems, minValue or addedWithin'],
    ['maxItems below minItems', definition({ cart: { minItems: 3, maxItems: 2 } }), 'condition.cart.maxItems: must not be less than minItems'],
    ['a consent that is not a boolean', definition({ consent: { purpose: 'ads', granted: 'yes' } }), 'condition.consent.granted: must be true or false'],
  ])('%s', (_, input, expected) => {
    expect(errorOf(input)).toContain(expected);
  });

  it('refuses more than 6 levels of conditions, naming the first one too deep', () => {
    let nested: unknown = { lastSeen: { within: '1d' } };
    for (let level = 2; level <= 7; level++) nested = { not: nested };
    expect(errorOf(definition(nested))).toBe(
      'Invalid segment definition: condition.not.not.not.not.not.not: conditions must not nest more than 6 levels deep',
    );
    const viaArrays = { all: [{ lastSeen: { within: '1d' } }, { any: [{ not: { all: [{ not: { any: [{ event: { name: 'x', within: '1d' } }] } }] } }] }] };
    expect(errorOf(definition(viaArrays))).toContain('condition.all.1.any.0.not.all.0.not.any.0: conditions must not nest more than 6 levels deep');
  });

  it('refuses more than 50 leaf conditions', () => {
    const twenty = Array.from({ length: 20 }, () => ({ lastSeen: { within: '1d' } }));
    expect(errorOf(definition({ all: [{ all: twenty }, { any: twenty }, { all: twenty.slice(0, 11) }] }))).toContain(
      'condition: must hold at most 50 leaf conditions',
    );
  });

  it('refuses JSON nested more than 32 levels (in a trait value)', () => {
    let value: unknown = 1;
    for (let i = 0; i < 40; i++) value = [value];
    expect(errorOf(definition({ trait: { key: 'k', op: 'eq', value } }))).toContain('must not nest JSON more than 32 levels deep');
  });

  it('refuses a huge combinator by its length, without walking it', () => {
    const message = errorOf(definition({ any: Array.from({ length: 100_000 }, () => ({ lastSeen: { within: '1d' } })) }));
    expect(message).toBe('Invalid segment definition: condition.any: must hold at most 20 conditions');
  });

  it('refuses hostile nesting quickly, without walking it', () => {
    let nested: unknown = { lastSeen: { within: '1d' } };
    for (let level = 0; level < 100_000; level++) nested = { not: nested };
    const started = Date.now();
    expect(errorOf(definition(nested))).toContain('conditions must not nest more than 6 levels deep');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('lists every problem in one message', () => {
    const message = errorOf({ id: 'Bad Id', name: '', condition: { all: [{ lastSeen: { within: '1y' } }, { consent: { purpose: 'ads' } }] } });
    expect(message).toContain('id: must be 1-64');
    expect(message).toContain('name: must not be empty');
    expect(message).toContain('condition.all.0.lastSeen.within: must be a duration');
    expect(message).toContain('condition.all.1.consent.granted: is required');
  });
});

// ------------------------------------------------------------------------------------------------------------
// Leaves

describe('event', () => {
  const added = segment({ event: { name: 'Product Added', within: '10m' } });

  it('counts the activity key in the window, with min (default 1) and max', () => {
    const at = Date.UTC(2024, 4, 1, 12, 3, 40);
    const p = record(newProfile(), ['Product Added', at]);
    expect(memberAt(added, p, at)).toBe(true);
    expect(memberAt(added, p, Date.UTC(2024, 4, 1, 12, 13, 59, 999))).toBe(true);
    expect(memberAt(added, p, Date.UTC(2024, 4, 1, 12, 14))).toBe(false);
    expect(memberAt(segment({ event: { name: 'Order Completed', within: '10m' } }), p, at)).toBe(false);

    record(p, ['Product Added', at + MINUTE], ['Product Added', at + 2 * MINUTE]);
    const twoOrThree = segment({ event: { name: 'Product Added', within: '1h', min: 2, max: 3 } });
    expect(memberAt(twoOrThree, p, at + 2 * MINUTE)).toBe(true);
    record(p, ['Product Added', at + 3 * MINUTE]);
    expect(memberAt(twoOrThree, p, at + 3 * MINUTE)).toBe(false);
  });

  it('uses $page, $screen, … for calls other than track', () => {
    const p = record(newProfile(), ['$page', T0]);
    expect(memberAt(segment({ event: { name: '$page', within: '1h' } }), p, T0)).toBe(true);
    expect(memberAt(segment({ event: { name: '$screen', within: '1h' } }), p, T0)).toBe(false);
  });

  it('with max 0 means "did not happen" (and a name on Object.prototype is just a name)', () => {
    const none = segment({ event: { name: 'constructor', within: '1d', min: 0, max: 0 } });
    const p = newProfile();
    expect(evaluateAt(none, p, T0)).toEqual({ member: true });
    record(p, ['constructor', T0]);
    expect(memberAt(none, p, T0)).toBe(false);
    expect(expectExactChange(none, p, T0)).toBe(T0 + MINUTE + DAY);
  });

  it('changes exactly when the last counted event leaves the window', () => {
    const at = Date.UTC(2024, 4, 1, 12, 3, 40);
    const p = record(newProfile(), ['Product Added', at]);
    expect(expectExactChange(added, p, at)).toBe(Date.UTC(2024, 4, 1, 12, 14));
    record(p, ['Product Added', at + 5 * MINUTE]);
    // Two buckets: the count drops at 12:14 but the answer only at 12:19.
    expect(expectExactChange(added, p, at + 5 * MINUTE)).toBe(Date.UTC(2024, 4, 1, 12, 19));
  });

  it('changes when a min is no longer reached', () => {
    const p = record(newProfile(), ['x', T0], ['x', T0 + MINUTE], ['x', T0 + 2 * MINUTE]);
    const twice = segment({ event: { name: 'x', within: '1h', min: 2 } });
    expect(expectExactChange(twice, p, T0 + 2 * MINUTE)).toBe(T0 + 2 * MINUTE + HOUR);
  });

  it('settles for a conservative time after many count changes without an answer change', () => {
    const p = newProfile();
    for (let i = 0; i < 40; i++) recordActivity(p.activity, 'x', T0 + i * MINUTE);
    boundActivity(p.activity);
    const any = segment({ event: { name: 'x', within: '1d' } });
    const now = T0 + 40 * MINUTE;
    const first = evaluateAt(any, p, now);
    expect(first.member).toBe(true);
    const exact = T0 + 40 * MINUTE + DAY;
    expect(first.changesAt).toBeLessThan(exact);
    expect(first.changesAt).toBeGreaterThan(now);
    // Re-evaluating then (as the scheduler does) finds the exact time.
    const second = evaluateAt(any, p, first.changesAt as number);
    expect(second).toEqual({ member: true, changesAt: exact });
  });

  it('never changes with no events in the window', () => {
    const p = record(newProfile(), ['x', T0 - 2 * DAY]);
    expect(evaluateAt(added, p, T0)).toEqual({ member: false });
  });
});

describe('lastSeen', () => {
  const recent = segment({ lastSeen: { within: '30m' } });

  it('holds for less than the window after the last event, and changes exactly then', () => {
    const p = newProfile();
    expect(evaluateAt(recent, p, T0)).toEqual({ member: false });
    p.lastSeen = T0;
    expect(memberAt(recent, p, T0 + 30 * MINUTE - 1)).toBe(true);
    expect(memberAt(recent, p, T0 + 30 * MINUTE)).toBe(false);
    expect(expectExactChange(recent, p, T0 + 10 * MINUTE)).toBe(T0 + 30 * MINUTE);
    expect(evaluateAt(recent, p, T0 + HOUR)).toEqual({ member: false });
  });
});

describe('rfm', () => {
  const lastAt = T0 - 10 * DAY - 5 * HOUR; // 10 whole days before T0
  const withOrders = () => {
    const p = newProfile();
    p.orders = { count: 3, revenueUnits: 123.45 * REVENUE_SCALE, firstAt: lastAt - 30 * DAY, lastAt };
    return p;
  };

  it('reads frequency and monetary value, which never change without an event', () => {
    const p = withOrders();
    expect(evaluateAt(segment({ rfm: { frequency: { min: 3 } } }), p, T0)).toEqual({ member: true });
    expect(evaluateAt(segment({ rfm: { frequency: { min: 4 } } }), p, T0)).toEqual({ member: false });
    expect(evaluateAt(segment({ rfm: { monetary: { min: 123.45, max: 123.45 } } }), p, T0)).toEqual({ member: true });
    expect(evaluateAt(segment({ rfm: { monetary: { max: 100 } } }), p, T0)).toEqual({ member: false });
  });

  it('reads recency in whole days since the last order, changing exactly at the day it enters or leaves the range', () => {
    const p = withOrders();
    const lapsed = segment({ rfm: { recencyDays: { min: 14 } } });
    expect(memberAt(lapsed, p, T0)).toBe(false);
    expect(expectExactChange(lapsed, p, T0)).toBe(lastAt + 14 * DAY);
    expect(evaluateAt(lapsed, p, lastAt + 20 * DAY)).toEqual({ member: true });

    const active = segment({ rfm: { recencyDays: { max: 10 }, frequency: { min: 2 } } });
    expect(memberAt(active, p, T0)).toBe(true);
    expect(expectExactChange(active, p, T0)).toBe(lastAt + 11 * DAY);
    expect(evaluateAt(active, p, lastAt + 11 * DAY)).toEqual({ member: false });
  });

  it('never matches a recency range without an order, nor changes while frequency or monetary fail', () => {
    const p = newProfile();
    expect(evaluateAt(segment({ rfm: { recencyDays: { max: 1000 } } }), p, T0)).toEqual({ member: false });
    expect(evaluateAt(segment({ rfm: { recencyDays: { min: 0 } } }), p, T0)).toEqual({ member: false });
    expect(evaluateAt(segment({ rfm: { recencyDays: { min: 14 }, frequency: { min: 5 } } }), withOrders(), T0)).toEqual({ member: false });
  });

  it('counts an order timestamped ahead of the clock as 0 days ago', () => {
    const p = withOrders();
    p.orders.lastAt = T0 + HOUR;
    const today = segment({ rfm: { recencyDays: { max: 0 } } });
    expect(memberAt(today, p, T0)).toBe(true);
    expect(expectExactChange(today, p, T0)).toBe(T0 + HOUR + DAY);
  });
});

describe('affinity', () => {
  const lovesShoes = segment({ affinity: { category: 'Shoes', min: 1 } });
  const withScore = (score: number, at = T0) => {
    const p = newProfile();
    p.affinity = { at, scores: { shoes: score, constructor: 5 } };
    return p;
  };

  it('compares the score decayed to now with min', () => {
    expect(memberAt(lovesShoes, withScore(1), T0)).toBe(true);
    expect(memberAt(lovesShoes, withScore(0.99), T0)).toBe(false);
    // One half-life later, 2 has decayed to 1.
    expect(memberAt(lovesShoes, withScore(2), T0 + HALF_LIFE_DAYS * DAY)).toBe(true);
    expect(memberAt(lovesShoes, withScore(2), T0 + HALF_LIFE_DAYS * DAY + 1)).toBe(false);
    expect(evaluateAt(segment({ affinity: { category: 'hats', min: 0.001 } }), withScore(2), T0)).toEqual({ member: false });
  });

  it('changes exactly when the score decays below min, and never once below', () => {
    expect(expectExactChange(lovesShoes, withScore(8), T0)).toBe(T0 + 3 * HALF_LIFE_DAYS * DAY + 1);
    const at = expectExactChange(lovesShoes, withScore(3.7), T0 + DAY);
    expect(Math.abs(at - (T0 + HALF_LIFE_DAYS * DAY * Math.log2(3.7)))).toBeLessThanOrEqual(1);
    expect(evaluateAt(lovesShoes, withScore(0.5), T0)).toEqual({ member: false });
  });

  it('changes exactly, to the millisecond, whatever the score, min, times and half-life (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-3, max: 1e4, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e4, noNaN: true }),
        fc.integer({ min: -10 * DAY, max: 10 * DAY }),
        fc.constantFrom(0.5, 1, 7, 30, 365.25),
        (score, min, offset, halfLifeDays) => {
          const p = newProfile();
          p.affinity = { at: T0, scores: { shoes: score } };
          const def = segment({ affinity: { category: 'shoes', min } });
          const at = (t: number) => evaluateSegment(def, p, { ...context(t), affinityHalfLifeDays: halfLifeDays });
          const now = T0 + offset;
          const { member, changesAt } = at(now);
          if (!member) return expect(changesAt).toBeUndefined();
          expect(changesAt).toBeGreaterThan(now);
          expect(at((changesAt as number) - 1).member).toBe(true);
          expect(at(changesAt as number).member).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('reads only own categories', () => {
    expect(memberAt(segment({ affinity: { category: 'constructor', min: 1 } }), withScore(0), T0)).toBe(true);
    expect(memberAt(segment({ affinity: { category: 'toString', min: 0.0001 } }), withScore(1), T0)).toBe(false);
  });
});

describe('trait', () => {
  const p = newProfile();
  p.traits = { plan: 'pro', age: 42, tags: ['vip', 7], email: null, address: { city: 'Oslo', zip: '0150' }, bio: 'likes running shoes' };
  const matches = (trait: Record<string, unknown>) => evaluateAt(segment({ trait }), p, T0);

  it.each([
    [{ key: 'plan', op: 'eq', value: 'pro' }, true],
    [{ key: 'plan', op: 'eq', value: 'free' }, false],
    [{ key: 'address', op: 'eq', value: { zip: '0150', city: 'Oslo' } }, true],
    [{ key: 'address', op: 'eq', value: { city: 'Oslo' } }, false],
    [{ key: 'address', op: 'eq', value: { city: 'Oslo', zip: '0150', country: 'NO' } }, false],
    [{ key: 'tags', op: 'eq', value: [7, 'vip'] }, false],
    [{ key: 'email', op: 'eq', value: null }, true],
    [{ key: 'plan', op: 'neq', value: 'free' }, true],
    [{ key: 'plan', op: 'neq', value: 'pro' }, false],
    [{ key: 'missing', op: 'neq', value: 'pro' }, true],
    [{ key: 'age', op: 'gt', value: 41 }, true],
    [{ key: 'age', op: 'gt', value: 42 }, false],
    [{ key: 'age', op: 'gte', value: 42 }, true],
    [{ key: 'age', op: 'lt', value: 42 }, false],
    [{ key: 'age', op: 'lte', value: 42 }, true],
    [{ key: 'plan', op: 'gt', value: 0 }, false],
    [{ key: 'plan', op: 'exists' }, true],
    [{ key: 'email', op: 'exists' }, false],
    [{ key: 'missing', op: 'exists' }, false],
    [{ key: 'email', op: 'notExists' }, true],
    [{ key: 'plan', op: 'notExists' }, false],
    [{ key: 'plan', op: 'in', value: ['free', 'pro'] }, true],
    [{ key: 'plan', op: 'in', value: ['free'] }, false],
    [{ key: 'missing', op: 'in', value: [null] }, false],
    [{ key: 'tags', op: 'contains', value: 'vip' }, true],
    [{ key: 'tags', op: 'contains', value: 7 }, true],
    [{ key: 'tags', op: 'contains', value: 'vi' }, false],
    [{ key: 'bio', op: 'contains', value: 'running' }, true],
    [{ key: 'bio', op: 'contains', value: 'Running' }, false],
    [{ key: 'age', op: 'contains', value: 4 }, false],
    [{ key: 'constructor', op: 'exists' }, false],
    [{ key: 'toString', op: 'notExists' }, true],
  ])('%j → %s, and never changes with time', (trait, expected) => {
    expect(matches(trait)).toEqual({ member: expected });
  });

  it('keeps a "__proto__" key in a value as data', () => {
    const def = parseSegmentDefinition(JSON.parse('{"id":"x","name":"X","condition":{"trait":{"key":"o","op":"eq","value":{"__proto__":{"a":1}}}}}'));
    const q = newProfile();
    q.traits = JSON.parse('{"o":{"__proto__":{"a":1}}}');
    expect(evaluateAt(def, q, T0)).toEqual({ member: true });
    q.traits = { o: {} };
    expect(evaluateAt(def, q, T0)).toEqual({ member: false });
  });
});

describe('cart', () => {
  it('counts lines with a positive quantity and their value', () => {
    const p = addToCart(addToCart(newProfile(), 'p1', T0, 2, 10), 'p2', T0 + MINUTE, 1, 5.5);
    p.cart.lines.p3 = { adds: [{ at: T0, quantity: 1, price: 100 }], clearedAt: T0 + SECOND }; // removed
    expect(evaluateAt(segment({ cart: { minItems: 2 } }), p, T0 + HOUR)).toEqual({ member: true });
    expect(evaluateAt(segment({ cart: { minItems: 3 } }), p, T0 + HOUR)).toEqual({ member: false });
    expect(evaluateAt(segment({ cart: { maxItems: 1 } }), p, T0 + HOUR)).toEqual({ member: false });
    expect(evaluateAt(segment({ cart: { minValue: 25.5 } }), p, T0 + HOUR)).toEqual({ member: true });
    expect(evaluateAt(segment({ cart: { minValue: 25.51 } }), p, T0 + HOUR)).toEqual({ member: false });
    expect(evaluateAt(segment({ cart: { maxItems: 0 } }), newProfile(), T0)).toEqual({ member: true });
  });

  it('addedWithin holds until exactly the newest line’s addition + the window', () => {
    const p = addToCart(addToCart(newProfile(), 'p1', T0), 'p2', T0 + 3 * MINUTE + 7 * SECOND);
    const recent = segment({ cart: { addedWithin: '10m' } });
    expect(expectExactChange(recent, p, T0 + 3 * MINUTE + 7 * SECOND)).toBe(T0 + 13 * MINUTE + 7 * SECOND);
    expect(evaluateAt(recent, p, T0 + HOUR)).toEqual({ member: false });
    expect(evaluateAt(recent, newProfile(), T0)).toEqual({ member: false });
    // Contents that fail never change with time, whatever the additions.
    expect(evaluateAt(segment({ cart: { minItems: 3, addedWithin: '10m' } }), p, T0 + 4 * MINUTE)).toEqual({ member: false });
  });
});

describe('consent', () => {
  it('compares the consent for the purpose with granted', () => {
    const p = newProfile();
    const granted = segment({ consent: { purpose: 'advertising', granted: true } });
    const refused = segment({ consent: { purpose: 'advertising', granted: false } });
    expect(evaluateAt(granted, p, T0, { advertising: true })).toEqual({ member: true });
    expect(evaluateAt(granted, p, T0, { analytics: true })).toEqual({ member: false });
    expect(evaluateAt(refused, p, T0, { advertising: false })).toEqual({ member: true });
    expect(evaluateAt(refused, p, T0, { advertising: true })).toEqual({ member: false });
  });
});

// ------------------------------------------------------------------------------------------------------------
// Combinators

describe('all, any, not', () => {
  const p = newProfile();
  p.lastSeen = T0; // "lastSeen within 1h" holds until T0 + 1h
  p.traits = { plan: 'pro' };
  const seen = { lastSeen: { within: '1h' } };
  const seenLong = { lastSeen: { within: '2h' } };
  const pro = { trait: { key: 'plan', op: 'eq', value: 'pro' } };
  const free = { trait: { key: 'plan', op: 'eq', value: 'free' } };

  it('combine answers', () => {
    expect(memberAt(segment({ all: [seen, pro] }), p, T0)).toBe(true);
    expect(memberAt(segment({ all: [seen, free] }), p, T0)).toBe(false);
    expect(memberAt(segment({ any: [free, seen] }), p, T0)).toBe(true);
    expect(memberAt(segment({ any: [free, { not: pro }] }), p, T0)).toBe(false);
    expect(memberAt(segment({ not: { not: seen } }), p, T0)).toBe(true);
  });

  it('change at the earliest time a child may change', () => {
    expect(evaluateAt(segment({ all: [seenLong, pro, seen] }), p, T0)).toEqual({ member: true, changesAt: T0 + HOUR });
    expect(evaluateAt(segment({ any: [seenLong, seen] }), p, T0)).toEqual({ member: true, changesAt: T0 + HOUR });
    expect(evaluateAt(segment({ not: seen }), p, T0)).toEqual({ member: false, changesAt: T0 + HOUR });
    expect(evaluateAt(segment({ all: [{ not: seen }, seenLong] }), p, T0)).toEqual({ member: false, changesAt: T0 + HOUR });
  });

  it('never change while a child decides the answer for good', () => {
    expect(evaluateAt(segment({ all: [seen, free] }), p, T0)).toEqual({ member: false });
    expect(evaluateAt(segment({ any: [seen, pro] }), p, T0)).toEqual({ member: true });
    expect(evaluateAt(segment({ not: { any: [seen, pro] } }), p, T0)).toEqual({ member: false });
  });
});

describe('the abandoned-cart example: a product added in the last 10 minutes and no order since', () => {
  const abandoned = segment({ all: [{ cart: { addedWithin: '10m' } }, { not: { event: { name: 'Order Completed', within: '10m' } } }] });
  const addedAt = Date.UTC(2024, 4, 1, 12, 3, 40, 250);

  function addedProduct(): SegmentProfile {
    const p = addToCart(newProfile(), 'p1', addedAt, 1, 20);
    p.lastSeen = addedAt;
    return record(p, ['Product Added', addedAt]);
  }

  it('is a member right after the addition, still at 9:59.999, not at 10:00.000, and changes exactly then', () => {
    const p = addedProduct();
    expect(evaluateAt(abandoned, p, addedAt)).toEqual({ member: true, changesAt: addedAt + 10 * MINUTE });
    expect(memberAt(abandoned, p, addedAt + 10 * MINUTE - 1)).toBe(true);
    expect(evaluateAt(abandoned, p, addedAt + 10 * MINUTE)).toEqual({ member: false });
  });

  it('is not a member once the order is placed', () => {
    const p = addedProduct();
    const orderAt = addedAt + 2 * MINUTE;
    record(p, ['Order Completed', orderAt]);
    p.cart.lines.p1.clearedAt = orderAt;
    p.orders = { count: 1, revenueUnits: 20 * REVENUE_SCALE, firstAt: orderAt, lastAt: orderAt };
    expect(evaluateAt(abandoned, p, orderAt)).toEqual({ member: false });
  });

  it('joins when an earlier order leaves the window, then leaves on time', () => {
    const orderAt = addedAt - 5 * MINUTE; // 11:58:40.250, an earlier order
    const p = record(addedProduct(), ['Order Completed', orderAt]);
    const first = evaluateAt(abandoned, p, addedAt);
    // The order counts until its minute (11:58) ends + 10 minutes.
    expect(first).toEqual({ member: false, changesAt: Date.UTC(2024, 4, 1, 12, 9) });
    expect(evaluateAt(abandoned, p, Date.UTC(2024, 4, 1, 12, 9))).toEqual({ member: true, changesAt: addedAt + 10 * MINUTE });
  });
});

// ------------------------------------------------------------------------------------------------------------
// changesAt is safe: the answer does not change before it, nor ever when it is absent (property)

describe('changesAt (property)', () => {
  const LEAVES: unknown[] = [
    { event: { name: 'a', within: '10m' } },
    { event: { name: 'a', within: '1h', min: 2 } },
    { event: { name: 'b', within: '3d', min: 0, max: 1 } },
    { event: { name: 'b', within: '90d', min: 3 } },
    { lastSeen: { within: '30m' } },
    { cart: { addedWithin: '10m' } },
    { cart: { minItems: 2, addedWithin: '2h' } },
    { rfm: { recencyDays: { min: 1, max: 2 } } },
    { affinity: { category: 'shoes', min: 1 } },
    { trait: { key: 'plan', op: 'eq', value: 'pro' } },
  ];
  const leaf = fc.constantFrom(...LEAVES);
  const condition: fc.Arbitrary<unknown> = fc.oneof(
    leaf,
    fc.array(leaf, { minLength: 1, maxLength: 3 }).map((all) => ({ all })),
    fc.array(leaf, { minLength: 1, maxLength: 3 }).map((any) => ({ any })),
    leaf.map((not) => ({ not })),
    fc.tuple(leaf, leaf, leaf).map(([a, b, c]) => ({ any: [{ all: [a, { not: b }] }, c] })),
  );
  const time = fc.integer({ min: T0 - 4 * DAY, max: T0 });

  it('holds the answer for every time before changesAt, and for ever when there is none', () => {
    fc.assert(
      fc.property(
        condition,
        fc.array(fc.tuple(fc.constantFrom('a', 'b'), time), { maxLength: 12 }),
        fc.array(time, { maxLength: 3 }),
        fc.option(time, { nil: undefined }),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 * DAY }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 }),
        (raw, events, adds, orderAt, isPro, offset, fractions) => {
          const def = segment(raw);
          const p = record(newProfile(), ...events);
          adds.forEach((at, i) => addToCart(p, `p${i}`, at));
          if (events.length > 0) p.lastSeen = Math.max(...events.map(([, at]) => at));
          if (orderAt !== undefined) p.orders = { count: 1, revenueUnits: 0, firstAt: orderAt, lastAt: orderAt };
          p.affinity = { at: T0 - DAY, scores: { shoes: 3 } };
          if (isPro) p.traits = { plan: 'pro' };

          const now = T0 + offset - 2 * DAY;
          const { member, changesAt } = evaluateAt(def, p, now);
          if (changesAt !== undefined) expect(changesAt).toBeGreaterThan(now);
          const horizon = changesAt ?? now + 95 * DAY;
          for (const t of [now + 1, horizon - 1, ...fractions.map((f) => Math.floor(now + f * (horizon - now)))]) {
            if (t >= now && t < horizon) expect(memberAt(def, p, t)).toBe(member);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
