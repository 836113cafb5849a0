import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadAnalyses } from '../../analytics';
import type { StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { LakeQuery, openLake, Row } from '../../local/lake-query';
import { AnalyticsLake, BadEventRow, buildAnalyticsLake, EXPERIMENT, EXPOSURE_EVENT, LakeRow, SegmentEventRow, SegmentMembership, standardNormalCdf } from '../support/analytics-lake';
import { DAY, iso } from '../support/events';

/**
 * Every saved analysis (analytics/*.sql) runs on DuckDB through `openLake`, over a generated lake, and must give
 * the answer computed here in plain TypeScript from the generated lines: the SQL is never the reference.
 */

// ---------------------------------------------------------------------------------------------------------------
// The lake's semantics, in TypeScript: window, de-duplication, JSON access.

type Json = Record<string, unknown>;

/** `json_extract_scalar(obj, '$.key')`: a string, number or boolean as text; NULL for anything else. */
function scalar(obj: unknown, key: string): string | null {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return null;
  const value = (obj as Json)[key];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}
/** `TRY_CAST(text AS DOUBLE)`. */
const toDouble = (text: string | null): number | null => (text === null || text.trim() === '' || !Number.isFinite(Number(text)) ? null : Number(text));
const props = (e: StreamEvent): Json | undefined => e.properties as Json | undefined;
const itemIdOf = (obj: unknown) => scalar(obj, 'product_id') ?? scalar(obj, 'productId') ?? scalar(obj, 'sku') ?? scalar(obj, 'id');
/** `TRY_CAST(json_extract(properties, '$.products') AS ARRAY(JSON))`, as a list (empty when NULL). */
const productsOf = (e: StreamEvent): unknown[] => {
  const products = props(e)?.products;
  return Array.isArray(products) ? products : [];
};
const personOf = (e: StreamEvent) => (e.userId ?? e.anonymousId) as string;
const dayOf = (isoTime: string) => isoTime.slice(0, 10);
const isExposure = (e: StreamEvent) => e.type === 'track' && e.event === EXPOSURE_EVENT;
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const countIf = <T>(values: readonly T[], test: (v: T) => boolean) => values.filter(test).length;
const sum = (values: readonly number[]) => values.reduce((s, v) => s + v, 0);
const groupBy = <T>(values: readonly T[], key: (v: T) => string): Map<string, T[]> => {
  const groups = new Map<string, T[]>();
  for (const v of values) groups.set(key(v), [...(groups.get(key(v)) ?? []), v]);
  return groups;
};
const sortedGroups = <T>(values: readonly T[], key: (v: T) => string) => [...groupBy(values, key)].sort(([a], [b]) => byText(a, b));

/** Lines in partitions of the window (`dt >= current_date - 30 days`). */
const receivedInWindow = (lake: AnalyticsLake) => lake.rows.filter((r) => r.dt >= lake.startDay);

/** Each line with its copy number among the lines of the same messageId (earliest receivedAt, then dt, hour first). */
function numberCopies<T>(rows: readonly T[], idOf: (r: T) => string, order: (r: T) => string[]): Array<{ row: T; copy: number }> {
  const numbered: Array<{ row: T; copy: number }> = [];
  for (const copies of groupBy(rows, idOf).values()) {
    const sorted = [...copies].sort((a, b) => {
      const [x, y] = [order(a), order(b)];
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return byText(x[i], y[i]);
      return 0;
    });
    sorted.forEach((row, i) => numbered.push({ row, copy: i + 1 }));
  }
  return numbered;
}
const numberEventCopies = (rows: readonly LakeRow[]) => numberCopies(rows, (r) => r.event.messageId, (r) => [r.event.receivedAt, r.dt, r.hour]);
const firstCopies = (rows: readonly LakeRow[]) => numberEventCopies(rows).filter((c) => c.copy === 1).map((c) => c.row);

/** The events the analyses see: received in the window, each once, and happened in the window. */
const windowEvents = (lake: AnalyticsLake): StreamEvent[] =>
  firstCopies(receivedInWindow(lake))
    .map((r) => r.event)
    .filter((e) => dayOf(e.timestamp) >= lake.startDay);

const currentDay = (lake: AnalyticsLake) => dayOf(new Date(lake.now).toISOString());
const daysBetween = (from: string, to: string) => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY);
/** The Monday (UTC) of a day's week. */
const weekOf = (day: string) => {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return new Date(ms - ((new Date(ms).getUTCDay() + 6) % 7) * DAY).toISOString().slice(0, 10);
};

/** A value the SQL rounds to `digits` decimals. */
const rounded = (value: number, digits: number) => expect.closeTo(value, digits - 1);
const roundedOrNull = (value: number | null, digits: number) => (value === null ? null : rounded(value, digits));

/** ntile(n) over values already in order: bucket sizes differ by at most one, larger ones first. */
function ntile(count: number, n: number): number[] {
  const size = Math.floor(count / n);
  const larger = count % n;
  const buckets: number[] = [];
  for (let b = 1; b <= n; b++) for (let i = 0; i < size + (b <= larger ? 1 : 0); i++) buckets.push(b);
  return buckets;
}

// ---------------------------------------------------------------------------------------------------------------
// The expected answer of each analysis.

function dailyActiveUsers(lake: AnalyticsLake): Row[] {
  const activity = windowEvents(lake).filter((e) => !isExposure(e));
  return sortedGroups(activity, (e) => dayOf(e.timestamp)).map(([day, events]) => ({
    day,
    active_people: new Set(events.map(personOf)).size,
    known_users: new Set(events.filter((e) => e.userId !== undefined).map((e) => e.userId)).size,
    anonymous_visitors: new Set(events.filter((e) => e.userId === undefined).map((e) => e.anonymousId)).size,
    events: events.length,
    track_events: countIf(events, (e) => e.type === 'track'),
    page_events: countIf(events, (e) => e.type === 'page'),
    screen_events: countIf(events, (e) => e.type === 'screen'),
    identify_events: countIf(events, (e) => e.type === 'identify'),
    alias_events: countIf(events, (e) => e.type === 'alias'),
    group_events: countIf(events, (e) => e.type === 'group'),
  }));
}

function productFunnel(lake: AnalyticsLake): Row[] {
  const steps = ['Product Viewed', 'Product Added', 'Order Completed'];
  const events = windowEvents(lake).filter((e) => e.type === 'track' && steps.includes(e.event as string));
  const reached = [0, 0, 0];
  for (const personal of groupBy(events, personOf).values()) {
    let after = -Infinity;
    for (let s = 0; s < steps.length; s++) {
      const times = personal.filter((e) => e.event === steps[s]).map((e) => Date.parse(e.timestamp)).filter((t) => t > after);
      if (times.length === 0) break;
      after = Math.min(...times);
      reached[s] += 1;
    }
  }
  return steps.map((event, s) => ({
    step: s + 1,
    event,
    people: reached[s],
    conversion_from_previous: rounded(reached[s] / (s === 0 ? reached[0] : reached[s - 1]), 4),
    conversion_from_first: rounded(reached[s] / reached[0], 4),
  }));
}

/** Product lines of views, adds and orders: what top items and top categories aggregate. */
function commerceLines(lake: AnalyticsLake) {
  const lines: Array<{ messageId: string; event: string; product: unknown }> = [];
  for (const e of windowEvents(lake)) {
    if (e.type !== 'track') continue;
    if (e.event === 'Product Viewed' || e.event === 'Product Added') lines.push({ messageId: e.messageId, event: e.event, product: e.properties });
    if (e.event === 'Order Completed') for (const product of productsOf(e)) lines.push({ messageId: e.messageId, event: e.event, product });
  }
  return lines.map((l) => ({
    ...l,
    quantity: toDouble(scalar(l.product, 'quantity')) ?? 1,
    price: toDouble(scalar(l.product, 'price')) ?? 0,
  }));
}

function topBy(lake: AnalyticsLake, keyName: 'item_id' | 'category', keyOf: (product: unknown) => string | null): Row[] {
  const lines = commerceLines(lake).flatMap((l) => {
    const key = keyOf(l.product);
    return key === null ? [] : [{ ...l, key }];
  });
  const rows = [...groupBy(lines, (l) => l.key)].map(([key, group]) => {
    const orders = group.filter((l) => l.event === 'Order Completed');
    const revenue = sum(orders.map((l) => l.price * l.quantity));
    return {
      key,
      views: countIf(group, (l) => l.event === 'Product Viewed'),
      adds: countIf(group, (l) => l.event === 'Product Added'),
      orders: new Set(orders.map((l) => l.messageId)).size,
      units: sum(orders.map((l) => l.quantity)),
      revenue,
      revenueRounded: Math.round(revenue * 100) / 100,
    };
  });
  rows.sort((a, b) => b.units - a.units || b.revenueRounded - a.revenueRounded || b.views - a.views || byText(a.key, b.key));
  return rows.slice(0, 100).map((r) => ({ [keyName]: r.key, views: r.views, adds: r.adds, orders: r.orders, units: r.units, revenue: rounded(r.revenue, 2) }));
}

const SEGMENT_ORDER = ['Champions', 'Loyal', 'New customers', 'Potential loyalists', 'At risk', 'Hibernating', 'Lost'];

function rfmSegments(lake: AnalyticsLake): Row[] {
  const orders = windowEvents(lake).filter((e) => e.type === 'track' && e.event === 'Order Completed' && e.userId !== undefined);
  const valueOf = (e: StreamEvent) => {
    const products = productsOf(e);
    const lineValue = products.length > 0 ? sum(products.map((p) => (toDouble(scalar(p, 'price')) ?? 0) * (toDouble(scalar(p, 'quantity')) ?? 1))) : null;
    return toDouble(scalar(props(e), 'revenue')) ?? toDouble(scalar(props(e), 'total')) ?? lineValue ?? 0;
  };
  const today = currentDay(lake);
  const customers = [...groupBy(orders, (e) => e.userId as string)].map(([userId, own]) => ({
    userId,
    recency: daysBetween(own.map((e) => dayOf(e.timestamp)).sort().at(-1) as string, today),
    orders: own.length,
    monetary: sum(own.map(valueOf)),
  }));
  const scoreBy = (compare: (a: (typeof customers)[number], b: (typeof customers)[number]) => number) => {
    const sorted = [...customers].sort((a, b) => compare(a, b) || byText(a.userId, b.userId));
    const buckets = ntile(sorted.length, 5);
    return new Map(sorted.map((c, i) => [c.userId, buckets[i]]));
  };
  const r = scoreBy((a, b) => b.recency - a.recency);
  const f = scoreBy((a, b) => a.orders - b.orders);
  const m = scoreBy((a, b) => a.monetary - b.monetary);
  const segmentOf = (userId: string) => {
    const [R, F, M] = [r.get(userId) as number, f.get(userId) as number, m.get(userId) as number];
    if (R >= 4 && F >= 4 && M >= 4) return 'Champions';
    if (R >= 3 && F >= 4) return 'Loyal';
    if (R >= 4 && F <= 2) return 'New customers';
    if (R >= 3) return 'Potential loyalists';
    if (F >= 3) return 'At risk';
    if (R === 2) return 'Hibernating';
    return 'Lost';
  };
  const avg = (values: number[]) => sum(values) / values.length;
  return [...groupBy(customers, (c) => segmentOf(c.userId))]
    .sort(([a], [b]) => SEGMENT_ORDER.indexOf(a) - SEGMENT_ORDER.indexOf(b))
    .map(([segment, members]) => ({
      segment,
      customers: members.length,
      share: rounded(members.length / customers.length, 4),
      avg_recency_days: rounded(avg(members.map((c) => c.recency)), 2),
      avg_orders: rounded(avg(members.map((c) => c.orders)), 2),
      avg_monetary: rounded(avg(members.map((c) => c.monetary)), 2),
      total_monetary: rounded(sum(members.map((c) => c.monetary)), 2),
    }));
}

function weeklyRetention(lake: AnalyticsLake): Row[] {
  const activity = windowEvents(lake).filter((e) => !isExposure(e));
  const weeksOf = new Map<string, Set<string>>();
  for (const e of activity) weeksOf.set(personOf(e), (weeksOf.get(personOf(e)) ?? new Set()).add(weekOf(dayOf(e.timestamp))));
  const allWeeks = [...new Set(activity.map((e) => weekOf(dayOf(e.timestamp))))].sort();
  const cohorts = groupBy([...weeksOf], ([, weeks]) => [...weeks].sort()[0]);
  const rows: Row[] = [];
  for (const [cohortWeek, members] of [...cohorts].sort(([a], [b]) => byText(a, b))) {
    for (const week of allWeeks.filter((w) => w >= cohortWeek)) {
      const active = countIf(members, ([, weeks]) => weeks.has(week));
      rows.push({
        cohort_week: cohortWeek,
        cohort_size: members.length,
        week_number: daysBetween(cohortWeek, week) / 7,
        active_people: active,
        retention: rounded(active / members.length, 4),
      });
    }
  }
  return rows;
}

function experimentResults(lake: AnalyticsLake): Row[] {
  const events = windowEvents(lake).filter((e) => e.type === 'track');
  const exposures = events.filter(isExposure).map((e) => ({
    id: scalar(props(e), 'recommendation_id') as string,
    experiment: scalar(props(e), 'experiment') ?? '(none)',
    variant: scalar(props(e), 'variant') as string,
    person: personOf(e),
  }));
  const responses = events.filter((e) => !isExposure(e) && ['Product Clicked', 'Product Added', 'Order Completed'].includes(e.event as string));
  const attributedTo = (id: string) => responses.filter((e) => (scalar(props(e), 'recommendation_id') ?? scalar(props(e), 'recommendationId')) === id);
  const variants = [...groupBy(exposures, (x) => `${x.experiment}\u0000${x.variant}`).values()].map((group) => {
    const outcomes = group.map((x) => attributedTo(x.id));
    const orders = outcomes.flat().filter((e) => e.event === 'Order Completed');
    return {
      experiment: group[0].experiment,
      variant: group[0].variant,
      exposures: new Set(group.map((x) => x.id)).size,
      people: new Set(group.map((x) => x.person)).size,
      clicks: countIf(outcomes, (o) => o.some((e) => e.event === 'Product Clicked')),
      adds: countIf(outcomes, (o) => o.some((e) => e.event === 'Product Added')),
      conversions: countIf(outcomes, (o) => o.some((e) => e.event === 'Order Completed')),
      revenue: sum(orders.map((e) => toDouble(scalar(props(e), 'revenue')) ?? toDouble(scalar(props(e), 'total')) ?? 0)),
    };
  });
  const zTest = (x1: number, n1: number, x0: number, n0: number) => {
    const pooled = (x1 + x0) / (n1 + n0);
    const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0));
    if (se === 0) return { z: null, p: null };
    const z = (x1 / n1 - x0 / n0) / se;
    return { z, p: 2 * standardNormalCdf(-Math.abs(z)) };
  };
  const rows: Row[] = [];
  for (const [experiment, group] of sortedGroups(variants, (v) => v.experiment)) {
    const control = group.find((v) => v.variant === 'control') ?? [...group].sort((a, b) => byText(a.variant, b.variant))[0];
    const ordered = [control, ...group.filter((v) => v !== control).sort((a, b) => byText(a.variant, b.variant))];
    for (const v of ordered) {
      const isControl = v === control;
      const ctr = zTest(v.clicks, v.exposures, control.clicks, control.exposures);
      const conversion = zTest(v.conversions, v.exposures, control.conversions, control.exposures);
      rows.push({
        experiment,
        variant: v.variant,
        is_control: isControl,
        exposures: v.exposures,
        people: v.people,
        clicks: v.clicks,
        ctr: rounded(v.clicks / v.exposures, 4),
        ctr_vs_control: rounded(v.clicks / v.exposures - control.clicks / control.exposures, 4),
        ctr_z: isControl ? null : roundedOrNull(ctr.z, 3),
        ctr_p_value: isControl ? null : roundedOrNull(ctr.p, 4),
        adds: v.adds,
        conversions: v.conversions,
        conversion_rate: rounded(v.conversions / v.exposures, 4),
        conversion_vs_control: rounded(v.conversions / v.exposures - control.conversions / control.exposures, 4),
        conversion_z: isControl ? null : roundedOrNull(conversion.z, 3),
        conversion_p_value: isControl ? null : roundedOrNull(conversion.p, 4),
        attributed_revenue: rounded(v.revenue, 2),
      });
    }
  }
  return rows;
}

function eventsByType(lake: AnalyticsLake): Row[] {
  const copies = numberEventCopies(receivedInWindow(lake));
  return sortedGroups(copies, (c) => `${c.row.dt} ${c.row.event.type}`).map(([, group]) => ({
    received_day: group[0].row.dt,
    type: group[0].row.event.type,
    copies: group.length,
    events: countIf(group, (c) => c.copy === 1),
    duplicates: countIf(group, (c) => c.copy > 1),
    duplicate_share: rounded(countIf(group, (c) => c.copy > 1) / group.length, 4),
    sources: new Set(group.map((c) => c.row.event.sourceId)).size,
  }));
}

function lateEvents(lake: AnalyticsLake): Row[] {
  const rows = firstCopies(receivedInWindow(lake));
  return sortedGroups(rows, (r) => r.dt).map(([dt, group]) => {
    const delays = group.map((r) => (Date.parse(r.event.receivedAt) - Date.parse(r.event.timestamp)) / 1000);
    const late = delays.filter((d) => d > 3600);
    return {
      received_day: dt,
      events: group.length,
      late_events: late.length,
      late_share: rounded(late.length / group.length, 4),
      avg_late_delay_hours: late.length === 0 ? null : rounded(sum(late) / late.length / 3600, 2),
      max_late_delay_hours: late.length === 0 ? null : rounded(Math.max(...late) / 3600, 2),
      future_events: countIf(delays, (d) => d < -3600),
    };
  });
}

function nullRates(lake: AnalyticsLake): Row[] {
  const events = firstCopies(receivedInWindow(lake)).map((r) => r.event);
  const tracks = events.filter((e) => e.type === 'track');
  const productEvents = tracks.filter((e) => ['Product Viewed', 'Product Clicked', 'Product Added', 'Product Removed'].includes(e.event as string));
  const orders = tracks.filter((e) => e.event === 'Order Completed');
  const lines = orders.flatMap(productsOf);
  const check = <T>(field: string, scope: string, mustBeZero: boolean, applicable: readonly T[], missing: (v: T) => boolean): Row => {
    const count = countIf(applicable, missing);
    return { field, scope, must_be_zero: mustBeZero, applicable: applicable.length, missing: count, missing_rate: applicable.length === 0 ? null : rounded(count / applicable.length, 4) };
  };
  const absent = (v: unknown) => v === undefined || v === null;
  return [
    check('messageid', 'all events', true, events, (e) => absent(e.messageId)),
    check('userid and anonymousid (both)', 'all events', true, events, (e) => absent(e.userId) && absent(e.anonymousId)),
    check('timestamp', 'all events', true, events, (e) => absent(e.timestamp)),
    check('receivedat', 'all events', true, events, (e) => absent(e.receivedAt)),
    check('sourceid', 'all events', true, events, (e) => absent(e.sourceId)),
    check('event', 'track events', true, tracks, (e) => absent(e.event)),
    check('userid', 'all events', false, events, (e) => absent(e.userId)),
    check('anonymousid', 'all events', false, events, (e) => absent(e.anonymousId)),
    check('context', 'all events', false, events, (e) => absent(e.context)),
    check('properties', 'track events', false, tracks, (e) => absent(e.properties)),
    check('product id (product_id, productId, sku or id)', 'Product Viewed/Clicked/Added/Removed events', false, productEvents, (e) => itemIdOf(e.properties) === null),
    check('products (missing or empty)', 'Order Completed events', false, orders, (e) => productsOf(e).length === 0),
    check('revenue and total (both)', 'Order Completed events', false, orders, (e) => scalar(props(e), 'revenue') === null && scalar(props(e), 'total') === null),
    check('product id (product_id, productId, sku or id)', 'Order Completed products[] lines', false, lines, (p) => itemIdOf(p) === null),
  ];
}

function rejectedEvents(lake: AnalyticsLake): Row[] {
  const inWindow = lake.badEvents.filter((b) => b.dt >= lake.startDay);
  const rejected = numberCopies(inWindow, (b) => b.id, (b) => [b.detectedAt, b.dt, b.hour])
    .filter((c) => c.copy === 1)
    .map((c) => c.row);
  const rows = [...groupBy(rejected, (b) => `${b.source}\u0000${b.reason}`).values()].map((group: BadEventRow[]) => ({
    source: group[0].source,
    reason: group[0].reason,
    rejected: group.length,
    truncated: countIf(group, (b) => b.truncated),
    sources: new Set(group.flatMap((b) => (b.sourceId === undefined ? [] : [b.sourceId]))).size,
    first_detected_at: group.map((b) => b.detectedAt).sort()[0],
    last_detected_at: group.map((b) => b.detectedAt).sort().at(-1),
  }));
  return rows.sort((a, b) => b.rejected - a.rejected || byText(a.source, b.source) || byText(a.reason, b.reason));
}

/** Every UTC day from `first` to `last`, both included. */
const daysFrom = (first: string, last: string): string[] =>
  Array.from({ length: daysBetween(first, last) + 1 }, (_, i) => new Date(Date.parse(`${first}T00:00:00Z`) + i * DAY).toISOString().slice(0, 10));

/** Segment event lines in partitions of the window, each transition once (first copy by partition, then event id). */
const segmentTransitions = (lake: AnalyticsLake) =>
  numberCopies(lake.segmentEvents.filter((r) => r.dt >= lake.startDay), (r: SegmentEventRow) => r.event.detail.noticeId, (r) => [r.dt, r.hour, r.event.id])
    .filter((c) => c.copy === 1)
    .map((c) => c.row.event.detail);

/**
 * Per segment with a transition in the window, per day of the window: the day's entries and exits, the running
 * net change, and the memberships begun in the window still open at the day's end, tracked one by one.
 */
function segmentSizes(lake: AnalyticsLake): Row[] {
  const transitions = segmentTransitions(lake).filter((d) => dayOf(d.at) >= lake.startDay);
  const days = daysFrom(lake.startDay, currentDay(lake));
  return sortedGroups(transitions, (d) => d.segmentId).flatMap(([segmentId, own]) => {
    let netChange = 0;
    const joinedInWindow = new Set<string>();
    return days.map((day) => {
      const ofDay = own.filter((d) => dayOf(d.at) === day).sort((a, b) => byText(a.at, b.at));
      for (const d of ofDay) {
        const membership = `${d.profileId} ${d.since}`;
        netChange += d.type === 'entered' ? 1 : -1;
        if (d.type === 'entered') joinedInWindow.add(membership);
        else joinedInWindow.delete(membership);
      }
      return {
        day,
        segment_id: segmentId,
        entries: countIf(ofDay, (d) => d.type === 'entered'),
        exits: countIf(ofDay, (d) => d.type === 'exited'),
        net_change: netChange,
        members_joined_in_window: joinedInWindow.size,
      };
    });
  });
}

/** The expected rows of every analysis, by file name. An analysis without an entry here fails the suite. */
const EXPECTED: Record<string, (lake: AnalyticsLake) => Row[]> = {
  'daily-active-users': dailyActiveUsers,
  'product-funnel': productFunnel,
  'top-items': (lake) => topBy(lake, 'item_id', itemIdOf),
  'top-categories': (lake) => topBy(lake, 'category', (product) => scalar(product, 'category')),
  'rfm-segments': rfmSegments,
  'weekly-retention': weeklyRetention,
  'experiment-results': experimentResults,
  'data-quality-events-by-type': eventsByType,
  'data-quality-late-events': lateEvents,
  'data-quality-null-rates': nullRates,
  'data-quality-rejected-events': rejectedEvents,
  'segment-sizes': segmentSizes,
};

// ---------------------------------------------------------------------------------------------------------------

describe('saved analyses (analytics/*.sql) on the local lake', () => {
  const analyses = loadAnalyses();
  let lakeDir: string;
  let lake: AnalyticsLake;
  let query: LakeQuery;

  beforeAll(async () => {
    lakeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'analyses-'));
    lake = await buildAnalyticsLake(lakeDir);
    query = await openLake(lakeDir);
  });
  afterAll(() => {
    query?.close();
    fs.rmSync(lakeDir, { recursive: true, force: true });
  });

  it('has a test case for every analysis file, and a file for every test case', () => {
    expect(analyses.map((a) => a.name)).toEqual(Object.keys(EXPECTED).sort());
  });

  it('every analysis fits an Athena named query: title ≤ 128 characters, description ≤ 1024, one statement', () => {
    for (const { name, title, description, sql } of analyses) {
      expect({ name, title: title.length <= 128, description: description.length <= 1024, statements: sql.replace(/--[^\n]*/g, '').includes(';') }).toEqual({
        name,
        title: true,
        description: true,
        statements: false,
      });
    }
  });

  it('every analysis prunes partitions to the last 30 days and de-duplicates', () => {
    for (const { name, sql } of analyses) {
      expect({ name, prunes: sql.includes("dt >= CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR)") }).toEqual({ name, prunes: true });
      expect({ name, deduplicates: /row_number\(\) OVER \(PARTITION BY (messageid|id|detail\.noticeid) ORDER BY/.test(sql) }).toEqual({ name, deduplicates: true });
    }
  });

  it('the generated lake has the cases the analyses must handle', () => {
    const copies = numberEventCopies(receivedInWindow(lake));
    const events = windowEvents(lake);
    expect(countIf(copies, (c) => c.copy > 1)).toBeGreaterThan(10);
    expect(lake.rows.some((r) => r.dt < lake.startDay)).toBe(true);
    expect(events.length).toBeLessThan(firstCopies(receivedInWindow(lake)).length); // received in, happened before
    expect(countIf(events, (e) => Date.parse(e.receivedAt) - Date.parse(e.timestamp) > 3_600_000)).toBeGreaterThan(5);
    expect(countIf(events, (e) => e.userId === undefined)).toBeGreaterThan(10);
    expect(countIf(events, (e) => e.event === 'Order Completed' && productsOf(e).length > 1)).toBeGreaterThan(5);
    const exposures = events.filter(isExposure);
    for (const variant of ['control', 'treatment']) {
      expect(countIf(exposures, (e) => scalar(props(e), 'experiment') === EXPERIMENT && scalar(props(e), 'variant') === variant)).toBeGreaterThan(10);
    }
    expect(countIf(events, (e) => e.event === 'Product Clicked' && scalar(props(e), 'recommendationId') !== null)).toBeGreaterThan(0);
    expect(new Set(lake.badEvents.map((b) => b.source))).toEqual(new Set(['ingest', 'processor']));

    const segmentLines = lake.segmentEvents.filter((r) => r.dt >= lake.startDay);
    const transitionCopies = [...groupBy(segmentLines, (r) => r.event.detail.noticeId).values()];
    expect(countIf(transitionCopies, (c) => c.length > 1 && c[0].event.id === c[1].event.id)).toBeGreaterThan(5); // delivered twice
    expect(countIf(transitionCopies, (c) => c.length > 1 && c[0].event.id !== c[1].event.id)).toBeGreaterThan(5); // published twice
    expect(countIf(transitionCopies, (c) => new Set(c.map((r) => r.dt)).size > 1)).toBeGreaterThan(0); // copies on two days
    expect(lake.segmentEvents.some((r) => r.dt < lake.startDay)).toBe(true);
    expect(segmentLines.some((r) => dayOf(r.event.detail.at) < lake.startDay)).toBe(true); // published in the window, happened before
    const transitions = segmentTransitions(lake).filter((d) => dayOf(d.at) >= lake.startDay);
    expect(new Set(transitions.map((d) => d.segmentId)).size).toBe(3);
    expect(new Set(segmentLines.map((r) => r.event.detail.segmentId)).size).toBe(4); // one with no transition in the window
    expect(countIf(transitions, (d) => d.type === 'exited' && dayOf(d.since) < lake.startDay)).toBeGreaterThan(5); // joined before the window
    expect(countIf(transitions, (d) => d.type === 'exited' && dayOf(d.since) < dayOf(d.at))).toBeGreaterThan(10); // across days
    expect(lake.segmentMemberships.some((m) => m.until === undefined && iso(m.since).slice(0, 10) < lake.startDay)).toBe(true); // no event in the window
  });

  it('segment-sizes tells the sizes of the generated memberships: the change since the window began, and the members who joined in it', async () => {
    const rows = await query.run(analyses.find((a) => a.name === 'segment-sizes')?.sql as string);
    const windowStart = Date.parse(`${lake.startDay}T00:00:00Z`);
    /** Whether the membership holds at an instant (a member from `since` on, until `until`). */
    const holdsAt = (m: SegmentMembership, instant: number) => m.since < instant && (m.until === undefined || m.until >= instant);
    expect(rows).toHaveLength(3 * 31);
    for (const { day, segment_id, net_change, members_joined_in_window } of rows) {
      const endOfDay = Date.parse(`${day}T00:00:00Z`) + DAY;
      const own = lake.segmentMemberships.filter((m) => m.segmentId === segment_id);
      expect({ day, segment_id, net_change, members_joined_in_window }).toEqual({
        day,
        segment_id,
        net_change: countIf(own, (m) => holdsAt(m, endOfDay)) - countIf(own, (m) => holdsAt(m, windowStart)),
        members_joined_in_window: countIf(own, (m) => m.since >= windowStart && holdsAt(m, endOfDay)),
      });
    }
  });

  it.each(analyses.map((a) => [a.name, a] as const))('%s gives the values computed from the generated events', async (name, analysis) => {
    const expected = EXPECTED[name];
    if (!expected) throw new Error(`No expected values for analysis "${name}": add it to EXPECTED`);
    const rows = await query.run(analysis.sql);
    const want = expected(lake);
    expect(want.length).toBeGreaterThan(0);
    expect(rows).toEqual(want);
  });

  it('runs every analysis on an empty lake (no events, no bad events) without error', async () => {
    const empty = await openLake(path.join(lakeDir, 'no-such-lake'));
    try {
      for (const { name, sql } of analyses) {
        const rows = await empty.run(sql);
        // The funnel always lists its three steps; the null-rate report always lists its checks.
        if (name === 'product-funnel') expect(rows.map((r) => r.people)).toEqual([0, 0, 0]);
        else if (name === 'data-quality-null-rates') expect(rows.every((r) => r.applicable === 0 && r.missing === 0 && r.missing_rate === null)).toBe(true);
        else expect({ name, rows }).toEqual({ name, rows: [] });
      }
    } finally {
      empty.close();
    }
  });
});
