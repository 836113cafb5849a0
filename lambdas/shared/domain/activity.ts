import { compareStrings, jsonBytes, own, prefixWithin, setOwn } from './json';

/**
 * When a profile's events happened: per activity key (a track event's name, or `$page`, `$screen`, … for the other
 * calls), event counts in time buckets, kept inside the profile so real-time segments ("added to cart in the last
 * 10 minutes") can be evaluated from one item read.
 *
 * Two tiers, relative to the newest event time recorded (`at`):
 * - minute buckets (UTC minute index, floor(t / 60 000)) for events whose minute starts less than `fineHours` (48)
 *   before `at`;
 * - day buckets (UTC day index, floor(t / 86 400 000)) for older events; a day that ends `retentionDays` (90) or
 *   more before `at` is dropped.
 * An event's tier is a function of its own time and the newest time only, the newest time only grows, and a roll-up
 * from minute to day only sums counts. So the state is a function of the SET of events recorded, whatever their
 * order and batching, as for the rest of the profile (profile.ts); `mergeActivity` of two disjoint sets equals
 * recording their union. Only where a bound on names is hit can two orders differ (the dropped name's history is
 * lost, as for the profile's other bounded collections).
 *
 * Precision: `countWithin` counts a bucket [start, end) when it overlaps the window [from, to]. So an event counts
 * from the start of its minute (or day) until the window no longer reaches the end of it: with a 10-minute window,
 * an event at 12:03:40 counts until 12:14:00 (exclusive), up to one minute longer than its exact time would, never
 * shorter. A window reaching back more than 48 hours before the newest event also counts those older events per
 * whole UTC day. Conditions such as "at least 1 in the last 10 minutes" therefore never exit early.
 *
 * Size: a bucket is `[index, count]`, about 13 bytes as JSON for a minute, 12 for a day; one name holds at most
 * 48·60 minute and 91 day buckets (about 39 KB in the worst case, a few dozen bytes typically). The whole record is
 * bounded by `ACTIVITY_LIMITS`: the names with the newest activity are kept.
 */

export const ACTIVITY_LIMITS = {
  /** Activity keys kept (the newest by their newest bucket). */
  names: 50,
  /** JSON bytes of the whole record (bytes, not characters). */
  bytes: 48 * 1024,
  /** Events this close to the newest one are counted per minute; older ones per day. */
  fineHours: 48,
  /** Days kept before the newest event (the longest window a segment may ask for). */
  retentionDays: 90,
} as const;

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const MINUTES_PER_DAY = DAY_MS / MINUTE_MS;
const FINE_MS = ACTIVITY_LIMITS.fineHours * 3_600_000;
const RETENTION_MS = ACTIVITY_LIMITS.retentionDays * DAY_MS;

/** `[bucket index, event count]`. */
export type Bucket = [number, number];

/** One activity key's counts: minute buckets and day buckets, each in ascending index order, counts > 0. */
export interface ActivitySeries {
  m: Bucket[];
  d: Bucket[];
}

export interface Activity {
  /** The newest event time recorded (epoch ms), 0 when empty. */
  at: number;
  names: Record<string, ActivitySeries>;
}

export function emptyActivity(): Activity {
  return { at: 0, names: {} };
}

/**
 * The activity key of a call: a track call's event name; `$page`, `$screen`, `$identify`, `$alias`, `$group` for the
 * other calls (and `$track` for a track call without a name, which validation never lets through).
 */
export function activityKeyOf(event: { type: string; event?: string }): string {
  return event.type === 'track' && event.event !== undefined ? event.event : `$${event.type}`;
}

/** Counts one event of `key` at `at` (epoch ms). Call `boundActivity` after a batch. */
export function recordActivity(a: Activity, key: string, at: number): void {
  a.at = Math.max(a.at, at);
  const minute = Math.floor(at / MINUTE_MS);
  const day = Math.floor(at / DAY_MS);
  if (isFine(minute, a.at)) addTo(seriesOf(a, key).m, minute, 1);
  else if (isRetained(day, a.at)) addTo(seriesOf(a, key).d, day, 1);
}

/** Adds the events of `from` (disjoint from those of `into`) to `into`. Call `boundActivity` after. */
export function mergeActivity(into: Activity, from: Activity): void {
  into.at = Math.max(into.at, from.at);
  for (const [key, series] of Object.entries(from.names)) {
    const target = seriesOf(into, key);
    target.m = mergeBuckets(target.m, series.m);
    target.d = mergeBuckets(target.d, series.d);
  }
}

/**
 * Moves minute buckets that are no longer within `fineHours` of the newest event into day buckets, drops days past
 * the retention, then keeps the names with the newest activity within `ACTIVITY_LIMITS`.
 */
export function boundActivity(a: Activity): void {
  const kept: Array<[string, ActivitySeries, number]> = [];
  for (const [key, series] of Object.entries(a.names)) {
    rollUp(series, a.at);
    if (series.m.length > 0 || series.d.length > 0) kept.push([key, series, newestBucketStart(series)]);
  }
  kept.sort((x, y) => y[2] - x[2] || compareStrings(x[0], y[0]));
  const budget = ACTIVITY_LIMITS.bytes - jsonBytes({ at: a.at, names: {} });
  const bounded = prefixWithin(kept, ACTIVITY_LIMITS.names, budget, ([key, series]) => jsonBytes(key) + jsonBytes(series) + 2);
  a.names = {};
  for (const [key, series] of bounded) setOwn(a.names, key, series);
}

/** Events of `key` in the buckets that overlap [fromMs, toMs] (see the module header for the precision). */
export function countWithin(a: Activity, key: string, fromMs: number, toMs: number): number {
  const series = own(a.names, key);
  if (series === undefined) return 0;
  return sumOverlapping(series.m, MINUTE_MS, fromMs, toMs) + sumOverlapping(series.d, DAY_MS, fromMs, toMs);
}

/**
 * The earliest time t > nowMs at which `countWithin(a, key, t − windowMs, t)` differs from its value at nowMs with
 * no new event: when a counted bucket leaves the window (at its end + windowMs) or, for events timestamped after
 * nowMs (clock skew), when a bucket enters it (at its start). Undefined when the count never changes.
 */
export function nextCountChangeAfter(a: Activity, key: string, windowMs: number, nowMs: number): number | undefined {
  const series = own(a.names, key);
  if (series === undefined) return undefined;
  // Step through the times at which buckets enter or leave the window until the count changes (buckets entering
  // and leaving at the same instant can cancel out).
  let after = nowMs;
  for (;;) {
    const step = { at: Infinity, delta: 0 };
    earliestChange(series.m, MINUTE_MS, windowMs, after, step);
    earliestChange(series.d, DAY_MS, windowMs, after, step);
    if (step.at === Infinity) return undefined;
    if (step.delta !== 0) return step.at;
    after = step.at;
  }
}

/** Lowers `step` to the earliest time after `after` at which one of `buckets` enters or leaves the window, summing the count changes then. */
function earliestChange(buckets: readonly Bucket[], size: number, windowMs: number, after: number, step: { at: number; delta: number }): void {
  for (let i = buckets.length - 1; i >= 0; i--) {
    const [index, count] = buckets[i];
    const start = index * size;
    const leaves = start + size + windowMs;
    // Buckets are in ascending order: this one and all older ones have left the window for good.
    if (leaves <= after) break;
    if (start > after) change(step, start, count);
    change(step, leaves, -count);
  }
}

function change(step: { at: number; delta: number }, at: number, delta: number): void {
  if (at < step.at) {
    step.at = at;
    step.delta = delta;
  } else if (at === step.at) step.delta += delta;
}

/** Whether a minute (by index) is counted per minute when the newest event is at `newest`. */
const isFine = (minute: number, newest: number) => newest - minute * MINUTE_MS < FINE_MS;
/** Whether a day (by index) still overlaps the retention window ending at `newest`. */
const isRetained = (day: number, newest: number) => (day + 1) * DAY_MS > newest - RETENTION_MS;

function rollUp(series: ActivitySeries, newest: number): void {
  let firstFine = 0;
  while (firstFine < series.m.length && !isFine(series.m[firstFine][0], newest)) firstFine += 1;
  if (firstFine > 0) {
    for (const [minute, count] of series.m.slice(0, firstFine)) addTo(series.d, Math.floor(minute / MINUTES_PER_DAY), count);
    series.m = series.m.slice(firstFine);
  }
  let firstRetained = 0;
  while (firstRetained < series.d.length && !isRetained(series.d[firstRetained][0], newest)) firstRetained += 1;
  if (firstRetained > 0) series.d = series.d.slice(firstRetained);
}

function newestBucketStart(series: ActivitySeries): number {
  const minute = series.m.at(-1);
  const day = series.d.at(-1);
  return Math.max(minute ? minute[0] * MINUTE_MS : -Infinity, day ? day[0] * DAY_MS : -Infinity);
}

function sumOverlapping(buckets: readonly Bucket[], size: number, fromMs: number, toMs: number): number {
  let sum = 0;
  for (let i = buckets.length - 1; i >= 0; i--) {
    const start = buckets[i][0] * size;
    if (start + size <= fromMs) break;
    if (start <= toMs) sum += buckets[i][1];
  }
  return sum;
}

/** Adds `count` to bucket `index` of an ascending list, searching from the end (new events are usually the newest). */
function addTo(buckets: Bucket[], index: number, count: number): void {
  let i = buckets.length;
  while (i > 0 && buckets[i - 1][0] > index) i -= 1;
  if (i > 0 && buckets[i - 1][0] === index) buckets[i - 1][1] += count;
  else buckets.splice(i, 0, [index, count]);
}

/** The sum of two ascending bucket lists, as a new list (neither input is modified or shared). */
function mergeBuckets(a: readonly Bucket[], b: readonly Bucket[]): Bucket[] {
  const out: Bucket[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j === b.length || (i < a.length && a[i][0] < b[j][0])) out.push([a[i][0], a[i++][1]]);
    else if (i === a.length || b[j][0] < a[i][0]) out.push([b[j][0], b[j++][1]]);
    else out.push([a[i][0], a[i++][1] + b[j++][1]]);
  }
  return out;
}

function seriesOf(a: Activity, key: string): ActivitySeries {
  const existing = own(a.names, key);
  if (existing !== undefined) return existing;
  const created: ActivitySeries = { m: [], d: [] };
  setOwn(a.names, key, created);
  return created;
}
