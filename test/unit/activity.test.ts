import fc from 'fast-check';
import {
  Activity,
  ACTIVITY_LIMITS,
  activityKeyOf,
  boundActivity,
  countWithin,
  emptyActivity,
  mergeActivity,
  nextCountChangeAfter,
  recordActivity,
} from '../../lambdas/shared/domain/activity';
import { jsonBytes } from '../../lambdas/shared/domain/json';
import { DAY, HOUR, MINUTE, SECOND, T0 } from '../support/events';

/**
 * The activity record (activity.ts): per-name event counts in minute and day buckets, a function of the SET of
 * events whatever the order and batching, bounded in names and bytes, counted with overlap semantics.
 */

type Ev = [key: string, at: number];

/** Records `events` as one batch (then bounds), into a fresh activity unless one is given. */
function recorded(events: readonly Ev[], a: Activity = emptyActivity()): Activity {
  for (const [key, at] of events) recordActivity(a, key, at);
  boundActivity(a);
  return a;
}

/** Total events kept, over every name and bucket. */
const total = (a: Activity) => Object.values(a.names).reduce((sum, s) => sum + [...s.m, ...s.d].reduce((n, [, c]) => n + c, 0), 0);

const minuteOf = (at: number) => Math.floor(at / MINUTE);
const dayOf = (at: number) => Math.floor(at / DAY);

describe('activityKeyOf', () => {
  it('is the event name of a track call and $type for the other calls', () => {
    expect(activityKeyOf({ type: 'track', event: 'Product Added' })).toBe('Product Added');
    for (const type of ['page', 'screen', 'identify', 'alias', 'group']) expect(activityKeyOf({ type })).toBe(`$${type}`);
    // A page's `name` is not its key: every page view counts as `$page`.
    expect(activityKeyOf({ type: 'page', event: 'ignored' })).toBe('$page');
  });
});

describe('recordActivity and boundActivity: tiers', () => {
  it('counts recent events per minute, newest time first kept in `at`', () => {
    const a = recorded([
      ['Product Added', T0 + 5 * SECOND],
      ['Product Added', T0 + 50 * SECOND],
      ['Product Added', T0 + MINUTE],
      ['Order Completed', T0 - HOUR],
    ]);
    expect(a.at).toBe(T0 + MINUTE);
    expect(a.names['Product Added']).toEqual({ m: [[minuteOf(T0), 2], [minuteOf(T0) + 1, 1]], d: [] });
    expect(a.names['Order Completed']).toEqual({ m: [[minuteOf(T0 - HOUR), 1]], d: [] });
  });

  it('counts events whose minute starts 48 hours or more before the newest one per UTC day', () => {
    const newest = T0;
    const justFine = newest - 48 * HOUR + MINUTE; // its minute starts 47:59 before the newest event
    const justCoarse = newest - 48 * HOUR + 59 * SECOND; // its minute starts exactly 48:00 before
    const a = recorded([
      ['x', newest],
      ['x', justFine],
      ['x', justCoarse],
    ]);
    expect(a.names.x.m).toEqual([[minuteOf(justFine), 1], [minuteOf(newest), 1]]);
    expect(a.names.x.d).toEqual([[dayOf(justCoarse), 1]]);
  });

  it('rolls minute buckets up into days when a newer event arrives, keeping every count', () => {
    const a = recorded([
      ['x', T0],
      ['x', T0 + 10 * MINUTE],
      ['y', T0 + 5 * HOUR],
    ]);
    expect(a.names.x.m).toHaveLength(2);
    recorded([['y', T0 + 49 * HOUR]], a);
    expect(a.names.x).toEqual({ m: [], d: [[dayOf(T0), 2]] });
    expect(a.names.y).toEqual({ m: [[minuteOf(T0 + 5 * HOUR), 1], [minuteOf(T0 + 49 * HOUR), 1]], d: [] });
  });

  it('drops days that end 90 days or more before the newest event, and events recorded that old', () => {
    const newest = Date.UTC(2024, 4, 1, 12);
    const lastKeptDay = Date.UTC(2024, 1, 1, 23); // the day 2024-02-01 ends at 02-02 00:00, less than 90 days before
    const firstDroppedDay = Date.UTC(2024, 0, 31, 23); // ends at 02-01 00:00: more than 90 days before 05-01 12:00
    expect(newest - Date.UTC(2024, 1, 2)).toBeLessThan(90 * DAY);
    expect(newest - Date.UTC(2024, 1, 1)).toBeGreaterThanOrEqual(90 * DAY);

    const april25 = Date.UTC(2024, 3, 25);
    const a = recorded([
      ['x', lastKeptDay],
      ['x', firstDroppedDay],
      ['x', april25],
    ]);
    expect(a.names.x.d).toEqual([[dayOf(firstDroppedDay), 1], [dayOf(lastKeptDay), 1]]);
    recorded([['x', newest]], a);
    expect(a.names.x.d).toEqual([[dayOf(lastKeptDay), 1], [dayOf(april25), 1]]);
    // Recorded after the newest: dropped at once, and no empty series is left for a name with nothing kept.
    recorded([['old', firstDroppedDay]], a);
    expect(Object.hasOwn(a.names, 'old')).toBe(false);
    expect(total(a)).toBe(3);
  });

  it('drops a name whose every bucket has expired', () => {
    const a = recorded([['gone', T0]]);
    recorded([['kept', T0 + 100 * DAY]], a);
    expect(Object.keys(a.names)).toEqual(['kept']);
  });

  it('survives a JSON round trip unchanged (it is stored in the profile item)', () => {
    const a = recorded([
      ['x', T0],
      ['x', T0 - 3 * DAY],
      ['$page', T0 - MINUTE],
    ]);
    const stored = JSON.parse(JSON.stringify(a)) as Activity;
    expect(stored).toEqual(a);
    expect(countWithin(stored, 'x', T0 - 4 * DAY, T0)).toBe(2);
  });
});

describe('countWithin: overlap semantics', () => {
  const at = Date.UTC(2024, 4, 1, 12, 3, 40); // 12:03:40
  const a = recorded([['Product Added', at]]);
  const inLast10Minutes = (now: number) => countWithin(a, 'Product Added', now - 10 * MINUTE, now);

  it('counts an event from the start of its minute until its minute ends + the window (12:03:40 → until 12:14:00)', () => {
    expect(inLast10Minutes(at)).toBe(1);
    expect(inLast10Minutes(Date.UTC(2024, 4, 1, 12, 13, 59, 999))).toBe(1);
    expect(inLast10Minutes(Date.UTC(2024, 4, 1, 12, 14))).toBe(0);
    // Never exits before the exact time: 10 minutes after 12:03:40 it still counts.
    expect(inLast10Minutes(at + 10 * MINUTE - 1)).toBe(1);
  });

  it('counts a bucket only once it starts', () => {
    expect(countWithin(a, 'Product Added', 0, Date.UTC(2024, 4, 1, 12, 2, 59, 999))).toBe(0);
    expect(countWithin(a, 'Product Added', 0, Date.UTC(2024, 4, 1, 12, 3))).toBe(1);
  });

  it('counts a day bucket whole when the window overlaps any part of the day', () => {
    const old = Date.UTC(2024, 4, 1, 1); // 01:00 on May 1st
    const b = recorded([
      ['x', old],
      ['x', old + 60 * HOUR], // makes the first event day-tier
    ]);
    expect(b.names.x.d).toEqual([[dayOf(old), 1]]);
    const endOfDay = Date.UTC(2024, 4, 2);
    expect(countWithin(b, 'x', endOfDay - 1, endOfDay + HOUR)).toBe(1);
    expect(countWithin(b, 'x', endOfDay, endOfDay + HOUR)).toBe(0);
  });

  it('is 0 for an unknown name, including names on Object.prototype', () => {
    expect(countWithin(a, 'Order Completed', 0, Infinity)).toBe(0);
    expect(countWithin(a, 'constructor', 0, Infinity)).toBe(0);
    expect(countWithin(a, 'toString', 0, Infinity)).toBe(0);
  });
});

describe('nextCountChangeAfter', () => {
  it('is when the oldest counted bucket leaves the window', () => {
    const at = Date.UTC(2024, 4, 1, 12, 3, 40);
    const a = recorded([
      ['x', at],
      ['x', at + 2 * MINUTE],
    ]);
    const window = 10 * MINUTE;
    expect(nextCountChangeAfter(a, 'x', window, at + 2 * MINUTE)).toBe(Date.UTC(2024, 4, 1, 12, 14));
    expect(nextCountChangeAfter(a, 'x', window, Date.UTC(2024, 4, 1, 12, 14))).toBe(Date.UTC(2024, 4, 1, 12, 16));
    expect(nextCountChangeAfter(a, 'x', window, Date.UTC(2024, 4, 1, 12, 16))).toBeUndefined();
  });

  it('is undefined for a name never seen or a count of 0', () => {
    const a = recorded([['x', T0]]);
    expect(nextCountChangeAfter(a, 'y', HOUR, T0)).toBeUndefined();
    expect(nextCountChangeAfter(a, '__proto__', HOUR, T0)).toBeUndefined();
    expect(nextCountChangeAfter(a, 'x', HOUR, T0 + 2 * HOUR)).toBeUndefined();
  });

  it('includes a bucket that starts after now (an event timestamped ahead of the clock) entering the window', () => {
    const a = recorded([['x', T0 + 5 * MINUTE]]);
    expect(countWithin(a, 'x', T0 - HOUR, T0)).toBe(0);
    expect(nextCountChangeAfter(a, 'x', HOUR, T0)).toBe(T0 + 5 * MINUTE);
  });

  it('skips an instant at which one bucket enters as another of the same count leaves', () => {
    const a = recorded([
      ['x', T0],
      ['x', T0 + 10 * MINUTE],
    ]);
    // With a 9-minute window, T0's minute leaves at T0 + 10 min, just as the (future) one at T0 + 10 min enters.
    expect(countWithin(a, 'x', T0 - 9 * MINUTE, T0)).toBe(1);
    expect(countWithin(a, 'x', T0 + MINUTE, T0 + 10 * MINUTE)).toBe(1);
    expect(nextCountChangeAfter(a, 'x', 9 * MINUTE, T0)).toBe(T0 + 20 * MINUTE);
  });

  it('is when a day bucket leaves a long window', () => {
    const old = Date.UTC(2024, 3, 20, 8);
    const a = recorded([
      ['x', old],
      ['x', T0],
    ]);
    expect(a.names.x.d).toEqual([[dayOf(old), 1]]);
    expect(nextCountChangeAfter(a, 'x', 30 * DAY, T0)).toBe(Date.UTC(2024, 3, 21) + 30 * DAY);
  });

  it('matches a brute-force search over every bucket boundary (property)', () => {
    const window = fc.constantFrom(MINUTE, 10 * MINUTE, HOUR, DAY, 3 * DAY, 30 * DAY);
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: 30 }), window, fc.integer({ min: -5 * DAY, max: 2 * DAY }), (events, w, offset) => {
        const a = recorded(events);
        const now = a.at + offset;
        const count = (t: number) => countWithin(a, 'a', t - w, t);
        const next = nextCountChangeAfter(a, 'a', w, now);
        // Every time the count can change: a bucket's start, and its end + the window.
        const boundaries = [...(a.names.a?.m ?? []).map(([i]) => [i * MINUTE, (i + 1) * MINUTE]), ...(a.names.a?.d ?? []).map(([i]) => [i * DAY, (i + 1) * DAY])]
          .flatMap(([start, end]) => [start, end + w])
          .filter((t) => t > now)
          .sort((x, y) => x - y);
        const expected = boundaries.find((t) => count(t) !== count(now));
        expect(next).toBe(expected);
        if (next !== undefined) expect(count(next - 1)).toBe(count(now));
      }),
      { numRuns: 300 },
    );
  });
});

// ------------------------------------------------------------------------------------------------------------
// Order-insensitivity: the state is a function of the set of events.

const NAMES = ['a', 'b', '__proto__', 'constructor'];
const SPAN = 100 * DAY;
/** Times over ~100 days, with most near the end so that the minute tier and the 48-hour edge are exercised. */
const timeArb = fc.oneof(
  fc.integer({ min: T0, max: T0 + SPAN }),
  fc.integer({ min: T0 + SPAN - 3 * DAY, max: T0 + SPAN }),
  fc.integer({ min: T0 + SPAN - 49 * HOUR, max: T0 + SPAN - 47 * HOUR }),
);
const eventArb: fc.Arbitrary<Ev> = fc.tuple(fc.constantFrom(...NAMES), timeArb);

/** `events` in a random order, cut into random batches. */
const batchesArb = (events: Ev[]) =>
  fc.tuple(fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }), fc.array(fc.nat(events.length), { maxLength: 6 })).map(([shuffled, cuts]) => {
    const points = [0, ...[...new Set(cuts)].sort((x, y) => x - y), shuffled.length];
    return points.slice(1).map((end, i) => shuffled.slice(points[i], end));
  });

describe('order-insensitivity (properties)', () => {
  it('gives the same activity whatever the order and batching of the events', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { minLength: 1, maxLength: 60 }).chain((events) => fc.tuple(fc.constant(events), batchesArb(events))),
        ([events, batches]) => {
          const reference = recorded(events);
          const batched = emptyActivity();
          for (const batch of batches) recorded(batch, batched);
          expect(batched).toEqual(reference);
          expect(JSON.stringify(batched)).toBe(JSON.stringify(reference));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('merging the activities of two disjoint sets gives the activity of their union, either way round', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(eventArb, fc.boolean()), { maxLength: 60 }), (tagged) => {
        const events = tagged.map(([e]) => e);
        const left = tagged.filter(([, side]) => side).map(([e]) => e);
        const right = tagged.filter(([, side]) => !side).map(([e]) => e);
        const reference = recorded(events);

        const intoLeft = recorded(left);
        const fromRight = recorded(right);
        const rightBefore = JSON.stringify(fromRight);
        mergeActivity(intoLeft, fromRight);
        boundActivity(intoLeft);
        expect(intoLeft).toEqual(reference);
        expect(JSON.stringify(fromRight)).toBe(rightBefore);

        const intoRight = recorded(right);
        mergeActivity(intoRight, recorded(left));
        boundActivity(intoRight);
        expect(intoRight).toEqual(reference);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every event within the retention, each in the tier its time and the newest time give', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: 60 }), (events) => {
        const a = recorded(events);
        const newest = Math.max(...events.map(([, at]) => at));
        expect(a.at).toBe(newest);
        const kept = events.filter(([, at]) => (dayOf(at) + 1) * DAY > newest - 90 * DAY);
        expect(total(a)).toBe(kept.length);
        for (const name of NAMES) {
          const fine = kept.filter(([k, at]) => k === name && newest - minuteOf(at) * MINUTE < 48 * HOUR);
          const series = Object.hasOwn(a.names, name) ? a.names[name] : { m: [], d: [] };
          expect(series.m.reduce((n, [, c]) => n + c, 0)).toBe(fine.length);
          // Minute counts are exact in a window that no day bucket reaches (day-tier events are at most as new as the
          // day 48 hours before the newest event).
          const from = (dayOf(newest - 48 * HOUR) + 1) * DAY;
          expect(countWithin(a, name, from, newest)).toBe(fine.filter(([, at]) => (minuteOf(at) + 1) * MINUTE > from).length);
        }
      }),
      { numRuns: 300 },
    );
  });
});

// ------------------------------------------------------------------------------------------------------------
// Bounds

describe('boundActivity: bounds', () => {
  it('keeps the 50 names with the newest activity, ties by name', () => {
    const events: Ev[] = [];
    for (let i = 0; i < 60; i++) events.push([`event-${String(i).padStart(2, '0')}`, T0 + i * MINUTE]);
    // Same minute as event-59: the tie goes to the name that sorts first.
    events.push(['aaa-tie', T0 + 59 * MINUTE + 30 * SECOND]);
    const a = recorded(events);
    const names = Object.keys(a.names);
    expect(names).toHaveLength(ACTIVITY_LIMITS.names);
    expect(names[0]).toBe('aaa-tie');
    expect(names[1]).toBe('event-59');
    expect(names).not.toContain('event-10');
    expect(names).toContain('event-11');
  });

  it('keeps the longest prefix within the byte budget, stopping at the first name that does not fit', () => {
    const events: Ev[] = [];
    // `big`: one event every minute for 48 hours (the worst case for one name), newest of all.
    const newest = T0 + 48 * HOUR - MINUTE;
    for (let t = newest - 48 * HOUR + MINUTE; t <= newest; t += MINUTE) events.push(['big', t]);
    // `medium`: 1,000 minutes, a little older; `big` + `medium` exceed 48 KB.
    for (let i = 1; i <= 1000; i++) events.push(['medium', newest - 30 * SECOND - i * MINUTE]);
    // `small`: older still, and tiny: it would fit, but the prefix stops at `medium`.
    events.push(['small', T0 - 10 * DAY]);

    const a = recorded(events);
    expect(a.names.big.m).toHaveLength(48 * 60);
    expect(Object.keys(a.names)).toEqual(['big']);
    expect(jsonBytes(a)).toBeLessThanOrEqual(ACTIVITY_LIMITS.bytes);
  });

  it('stays within the byte budget with 50 long names at their worst', () => {
    const a = emptyActivity();
    const newest = T0 + 48 * HOUR;
    for (let n = 0; n < 50; n++) {
      const name = `${'é'.repeat(90)}-${n}`; // 2 bytes per character in UTF-8
      for (let i = 0; i < 200; i++) recordActivity(a, name, newest - n * SECOND - i * 7 * MINUTE);
    }
    boundActivity(a);
    expect(jsonBytes(a)).toBeLessThanOrEqual(ACTIVITY_LIMITS.bytes);
    expect(jsonBytes(a)).toBeGreaterThan(ACTIVITY_LIMITS.bytes - 4 * 1024);
    expect(Object.keys(a.names).length).toBeLessThan(50);
  });

  it('bounds one name to 48 hours of minutes and 91 days, about 39 KB at worst', () => {
    const a = emptyActivity();
    const newest = T0 + 100 * DAY;
    // Every minute of the last 50 hours, every 10 minutes of the 92 days before.
    for (let t = newest - 92 * DAY; t <= newest; t += t < newest - 50 * HOUR ? 10 * MINUTE : MINUTE) recordActivity(a, 'x', t);
    boundActivity(a);
    expect(a.names.x.m).toHaveLength(48 * 60);
    expect(a.names.x.d.length).toBeLessThanOrEqual(91);
    expect(jsonBytes(a)).toBeLessThan(40 * 1024);
  });

  it('takes "__proto__", "constructor" and "toString" as ordinary names', () => {
    const a = recorded([
      ['__proto__', T0],
      ['constructor', T0],
      ['constructor', T0 + SECOND],
      ['toString', T0],
    ]);
    expect(Object.getPrototypeOf(a.names)).toBe(Object.prototype);
    expect(Object.keys(a.names).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(countWithin(a, '__proto__', T0, T0)).toBe(1);
    expect(countWithin(a, 'constructor', T0, T0)).toBe(2);
    const stored = JSON.parse(JSON.stringify(a)) as Activity;
    expect(countWithin(stored, '__proto__', T0, T0)).toBe(1);

    const merged = emptyActivity();
    mergeActivity(merged, stored);
    boundActivity(merged);
    expect(merged).toEqual(a);
    expect(Object.getPrototypeOf(merged.names)).toBe(Object.prototype);
  });
});
