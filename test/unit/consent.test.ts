import { auditTrail, CONSENT_EVENT, DEFAULT_CONSENT_SETTINGS, eventPermits, isGranted, statedPreferences } from '../../lambdas/shared/domain/consent';
import { emptyProfile, mergeProfileState, reduceEvents } from '../../lambdas/shared/domain/profile';
import { HOUR, identify, streamEvent, T0, track } from '../support/events';

const HALF_LIFE = 14;
const prefs = (categoryPreferences: Record<string, unknown>) => ({ consent: { categoryPreferences } });
const consentEvent = (categoryPreferences: Record<string, unknown>, at: number, opts: { sourceId?: string; messageId?: string } = {}) =>
  track(CONSENT_EVENT, {}, { userId: 'u1', at, context: prefs(categoryPreferences), ...opts });
const view = (at: number, context?: Record<string, unknown>) => track('Product Viewed', { product_id: 'p1', category: 'Shoes' }, { userId: 'u1', at, ...(context ? { context } : {}) });
const reduce = (events: Parameters<typeof reduceEvents>[1], settings = DEFAULT_CONSENT_SETTINGS) => reduceEvents(emptyProfile('user#u1'), events, HALF_LIFE, settings);

describe('statedPreferences', () => {
  it('reads Segment categoryPreferences, lowercased, ignoring what is not a boolean', () => {
    expect(statedPreferences(prefs({ Analytics: true, ' Personalization ': false, Ads: 'yes', '': true }))).toEqual({ analytics: true, personalization: false });
    expect(statedPreferences({})).toBeUndefined();
    expect(statedPreferences({ consent: { categoryPreferences: [] } })).toBeUndefined();
    expect(statedPreferences(prefs({ __proto__: true } as Record<string, unknown>))).toBeUndefined();
    expect(Object.keys(statedPreferences(prefs(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`c${i}`, true])))) ?? {})).toHaveLength(32);
  });

  it('lets an event’s own statement decide for it, else the profile’s consent, else the default', () => {
    const denied = reduce([consentEvent({ personalization: false }, T0)]).consent;
    expect(eventPermits({ personalization: true }, denied, 'personalization', DEFAULT_CONSENT_SETTINGS)).toBe(true);
    expect(eventPermits(undefined, denied, 'personalization', DEFAULT_CONSENT_SETTINGS)).toBe(false);
    expect(eventPermits(undefined, undefined, 'personalization', DEFAULT_CONSENT_SETTINGS)).toBe(true);
    expect(eventPermits(undefined, undefined, 'personalization', { ...DEFAULT_CONSENT_SETTINGS, consentRequired: true })).toBe(false);
  });
});

describe('consent on the profile', () => {
  it('keeps the latest statement per category whatever the processing order, with an audit trail', () => {
    const events = [
      consentEvent({ Analytics: true, Personalization: true }, T0, { messageId: 'c1' }),
      consentEvent({ Personalization: false }, T0 + HOUR, { messageId: 'c2', sourceId: 'admin-api' }),
      consentEvent({ Personalization: true }, T0 + 2 * HOUR, { messageId: 'c3' }),
      consentEvent({ Personalization: true }, T0 + 3 * HOUR, { messageId: 'c4' }),
    ];
    const inOrder = events.reduce((p, e) => reduceEvents(p, [e], HALF_LIFE), emptyProfile('user#u1')).consent;
    const reversed = [...events].reverse().reduce((p, e) => reduceEvents(p, [e], HALF_LIFE), emptyProfile('user#u1')).consent;
    expect(reversed).toEqual(inOrder);
    expect(inOrder?.categories.personalization).toEqual({ granted: true, stamp: [T0 + 3 * HOUR, 'c4'], source: 'event' });
    expect(inOrder?.statements).toEqual({
      'analytics|true|event': { first: [T0, 'c1'], last: [T0, 'c1'] },
      'personalization|true|event': { first: [T0, 'c1'], last: [T0 + 3 * HOUR, 'c4'] },
      'personalization|false|admin': { first: [T0 + HOUR, 'c2'], last: [T0 + HOUR, 'c2'] },
    });
    expect(auditTrail(inOrder).map((s) => [s.category, s.granted, s.source, s.firstAt - T0, s.lastAt - T0])).toEqual([
      ['analytics', true, 'event', 0, 0],
      ['personalization', true, 'event', 0, 3 * HOUR],
      ['personalization', false, 'admin', HOUR, HOUR],
    ]);
    // A category name may contain the separator.
    const odd = reduce([consentEvent({ 'a|b': true }, T0)]).consent;
    expect(auditTrail(odd)).toEqual([{ category: 'a|b', granted: true, source: 'event', firstAt: T0, lastAt: T0 }]);
  });

  it('learns nothing for personalization from an event without consent, but keeps ids, traits and call counts', () => {
    const p = reduce([
      consentEvent({ personalization: false }, T0),
      view(T0 + 1),
      identify({ plan: 'pro' }, { userId: 'u1', at: T0 + 2, anonymousId: 'a1' }),
      // The event's own statement decides for it.
      view(T0 + 3, prefs({ personalization: true })),
    ]);
    expect(p.events).toEqual({ 'Product Viewed': 1 });
    expect(p.recent).toHaveLength(1);
    expect(p.traits).toEqual({ plan: 'pro' });
    expect(p.counts).toEqual({ track: 3, identify: 1 });
    expect(p.anonymousIds).toEqual({ a1: T0 + 2 });
  });

  it('forgets the personalization features when consent is withdrawn, and learns again once it is given', () => {
    let p = reduce([view(T0), track('Product Added', { product_id: 'p1' }, { userId: 'u1', at: T0 + 1 }), track('Order Completed', { revenue: 5 }, { userId: 'u1', at: T0 + 2 })]);
    expect(p.recent.length).toBe(2);
    p = reduceEvents(p, [consentEvent({ personalization: false }, T0 + HOUR)], HALF_LIFE);
    expect(p).toMatchObject({ events: {}, recent: [], affinity: { scores: {} }, cart: { lines: {} }, orders: { count: 0, revenueUnits: 0 } });
    expect(p.counts.track).toBe(4);
    p = reduceEvents(p, [view(T0 + 2 * HOUR)], HALF_LIFE);
    expect(p.recent).toEqual([]);
    p = reduceEvents(p, [consentEvent({ personalization: true }, T0 + 3 * HOUR), view(T0 + 4 * HOUR)], HALF_LIFE);
    expect(p.recent.map((r) => r.at)).toEqual([T0 + 4 * HOUR]);
  });

  it('requires a grant before learning anything when consent is required (opt-in)', () => {
    const optIn = { ...DEFAULT_CONSENT_SETTINGS, consentRequired: true };
    expect(reduce([view(T0)], optIn).recent).toEqual([]);
    expect(reduce([consentEvent({ personalization: true }, T0), view(T0 + 1)], optIn).recent).toHaveLength(1);
    expect(isGranted(undefined, 'analytics', optIn)).toBe(false);
  });

  it('carries consent over in a deterministic merge, not in a device link', () => {
    const anonymous = reduceEvents(emptyProfile('anon#a1'), [streamEvent('track', { event: CONSENT_EVENT }, { anonymousId: 'a1', at: T0, context: prefs({ analytics: false }) })], HALF_LIFE);
    const known = reduce([view(T0 + 1)]);
    expect(mergeProfileState(known, anonymous, 'all', HALF_LIFE).consent?.categories.analytics?.granted).toBe(false);
    expect(mergeProfileState(known, anonymous, 'history', HALF_LIFE).consent?.categories).toEqual({});
  });

  it('clears the merged features when the merged-in consent withdraws personalization', () => {
    const anonymous = reduceEvents(emptyProfile('anon#a1'), [streamEvent('track', { event: CONSENT_EVENT }, { anonymousId: 'a1', at: T0 + HOUR, context: prefs({ personalization: false }) })], HALF_LIFE);
    const merged = mergeProfileState(reduce([view(T0)]), anonymous, 'all', HALF_LIFE);
    expect(merged.recent).toEqual([]);
  });
});
