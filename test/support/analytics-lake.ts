import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { SEGMENT_DETAIL_TYPES, SEGMENT_EVENT_SOURCE, SegmentEventDetail, segmentEventDetail } from '../../lambdas/shared/domain/segment-events';
import type { SegmentNotice } from '../../lambdas/shared/domain/segment-membership';
import type { BadEventLine } from '../../lambdas/shared/store/bad-event-store';
import { deliverRecords } from '../../local/firehose';
import { LAKE_BAD_EVENTS_PREFIX, LAKE_SEGMENT_EVENTS_PREFIX } from '../../local/lake-query';
import { writeLakeBatch } from '../../local/lake-writer';
import { mulberry32, Random } from '../../local/random';
import { LOCAL_ACCOUNT, LOCAL_REGION, LocalDeliveryStream } from '../../local/template-model';
import { alias, DAY, EventOptions, group, HOUR, identify, iso, MINUTE, page, screen, SECOND, track } from './events';
import { kinesisEvent, kinesisRecord } from './kinesis';

/**
 * A small but varied lake for the saved analyses (analytics/*.sql), relative to a "now": about 30 people over the
 * last 30 days and some before, with anonymous and known people, product views (every id key the analyses read),
 * adds and orders with products[], recommendation exposures of two variants with attributed clicks and orders,
 * late and future-stamped events, duplicates (the same messageId in another object, sometimes received later),
 * events just inside and just outside the window, rejected events from both sources, and segment entries and exits
 * (memberships of several segments, some begun before the window, some still going; late and repeated events).
 *
 * What is returned is what the lake holds, line by line, so tests can compute every answer independently.
 */

/** One line of `events/`: the event as written (its `receivedAt` is this copy's) and the partition it is in. */
export interface LakeRow {
  event: StreamEvent;
  dt: string;
  hour: string;
}

/** One line of `bad-events/`, and its partition (by `detectedAt`). */
export interface BadEventRow extends BadEventLine {
  dt: string;
  hour: string;
}

/** A segment event as EventBridge delivers it to a target. */
export interface SegmentBusEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: SegmentEventDetail;
}

/** One line of `segment-events/`, and its partition (by arrival in the lake). */
export interface SegmentEventRow {
  event: SegmentBusEvent;
  dt: string;
  hour: string;
}

/** A generated segment membership (the truth the segment events tell): from `since` to `until` (absent: still in). */
export interface SegmentMembership {
  segmentId: string;
  profileId: string;
  since: number;
  until?: number;
}

export interface AnalyticsLake {
  now: number;
  /** First UTC day of the 30-day window: `current_date - 30 days`, `YYYY-MM-DD`. */
  startDay: string;
  rows: LakeRow[];
  badEvents: BadEventRow[];
  segmentEvents: SegmentEventRow[];
  segmentMemberships: SegmentMembership[];
}

export const EXPOSURE_EVENT = 'Recommendations Shown';
export const EXPERIMENT = 'ranker-test';

const CATALOG = [
  { id: 'tent-2p', category: 'Tents', price: 199.5 },
  { id: 'tent-4p', category: 'Tents', price: 349 },
  { id: 'bag-down', category: 'Sleeping bags', price: 259.99 },
  { id: 'bag-synth', category: 'Sleeping bags', price: 89.9 },
  { id: 'stove', category: 'Cooking', price: 49.95 },
  { id: 'pot-set', category: 'Cooking', price: 35 },
  { id: 'mug', category: 'Cooking', price: 12.5 },
  { id: 'lamp', category: 'Lighting', price: 24 },
  { id: 'headlamp', category: 'Lighting', price: 39.99 },
  { id: 'map', category: 'Books', price: 9.5 },
];
const ID_KEYS = ['product_id', 'productId', 'sku', 'id'] as const;

const pad = (n: number) => String(n).padStart(2, '0');
const partitionOf = (ms: number) => ({ dt: iso(ms).slice(0, 10), hour: pad(new Date(ms).getUTCHours()) });

export async function buildAnalyticsLake(lakeDir: string, now: number = Date.now()): Promise<AnalyticsLake> {
  const random = mulberry32(20_241);
  const chance = (p: number) => random() < p;
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
  const today = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate());
  const dayStart = (daysAgo: number) => today - daysAgo * DAY;
  let sequence = 0;
  const next = (prefix: string) => `${prefix}-${String(++sequence).padStart(4, '0')}`;

  const originals: StreamEvent[] = [];
  const emit = (event: StreamEvent) => {
    originals.push(event);
    return event;
  };

  interface Person {
    userId?: string;
    anonymousId?: string;
    variant: string;
    experiment?: string;
  }
  const people: Person[] = [];
  for (let i = 1; i <= 24; i++) {
    people.push({
      userId: `user-${pad(i)}`,
      ...(i % 3 === 0 ? { anonymousId: `device-${pad(i)}` } : {}),
      variant: i % 2 === 0 ? 'control' : 'treatment',
      experiment: EXPERIMENT,
    });
  }
  for (let i = 1; i <= 8; i++) {
    // Anonymous visitors see recommendations outside the experiment (variant 'default'), except a few.
    people.push({ anonymousId: `anon-${pad(i)}`, ...(i <= 3 ? { variant: i % 2 === 0 ? 'control' : 'treatment', experiment: EXPERIMENT } : { variant: 'default' }) });
  }

  /** Options of an event at `at`, mostly received at once, sometimes late, sometimes a little late. */
  const optionsFor = (person: Person, at: number, extra: Partial<EventOptions> = {}): EventOptions => {
    let receivedAt = at + Math.floor(random() * 900);
    const lateness = random();
    if (lateness < 0.08) receivedAt = at + Math.round((1.5 + random() * 20) * HOUR);
    else if (lateness < 0.12) receivedAt = at + 30 * MINUTE;
    return {
      at,
      receivedAt: Math.min(receivedAt, now - MINUTE),
      ...(person.userId !== undefined ? { userId: person.userId } : {}),
      ...(person.anonymousId !== undefined ? { anonymousId: person.anonymousId } : {}),
      ...(chance(0.85) ? { context: { library: { name: 'analytics.js', version: '2.1.0' }, page: { path: '/' } } } : {}),
      messageId: next('msg'),
      ...extra,
    };
  };

  const productProperties = (item: (typeof CATALOG)[number], extra: Record<string, unknown> = {}) => ({
    [pick(ID_KEYS)]: item.id,
    ...(chance(0.85) ? { category: item.category } : {}),
    price: item.price,
    ...extra,
  });

  const session = (person: Person, start: number) => {
    let t = start;
    const step = () => (t += (1 + Math.floor(random() * 5)) * MINUTE);
    const opts = (extra: Partial<EventOptions> = {}) => optionsFor(person, step(), extra);
    emit(page('Home', { path: '/' }, opts()));
    if (person.userId !== undefined && chance(0.3)) emit(identify({ plan: pick(['free', 'pro']) }, opts()));
    if (chance(0.15)) emit(screen('Catalog', opts()));
    if (chance(0.1)) emit(track('Product Added', productProperties(pick(CATALOG), { quantity: 1 }), opts())); // before any view
    if (chance(0.06)) emit(track('Signed Up', undefined, opts()));
    const viewed = Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(CATALOG));
    for (const item of viewed) emit(track('Product Viewed', productProperties(item), opts()));
    if (chance(0.12)) emit(track('Product Viewed', { name: 'Gift card' }, opts()));

    let recommendationId: string | undefined;
    if (chance(0.6)) {
      recommendationId = next('rec');
      const shown = [pick(CATALOG), pick(CATALOG)];
      emit(
        track(
          EXPOSURE_EVENT,
          {
            recommendation_id: recommendationId,
            strategy: 'hybrid',
            variant: person.variant,
            ...(person.experiment !== undefined ? { experiment: person.experiment } : {}),
            products: shown.map((item, i) => ({ product_id: item.id, position: i + 1 })),
          },
          { ...opts({ messageId: `rec-${recommendationId}`, sourceId: 'recommendations-api' }), context: undefined },
        ),
      );
      const clickRate = person.variant === 'treatment' ? 0.6 : 0.35;
      if (chance(clickRate)) {
        const key = chance(0.1) ? 'recommendationId' : 'recommendation_id';
        emit(track('Product Clicked', { product_id: shown[0].id, [key]: recommendationId }, opts()));
        viewed.push(shown[0]);
      } else if (chance(0.5)) {
        recommendationId = undefined; // shown, ignored
      }
    }

    if (!chance(0.55)) return;
    const added = pick(viewed);
    emit(track('Product Added', productProperties(added, { quantity: 1 + Math.floor(random() * 2), ...(recommendationId ? { recommendation_id: recommendationId } : {}) }), opts()));
    if (!chance(0.65)) return;
    const lines = [added, ...Array.from({ length: Math.floor(random() * 3) }, () => pick(CATALOG))].map((item) => ({
      [chance(0.8) ? 'product_id' : 'sku']: item.id,
      ...(chance(0.9) ? { category: item.category } : {}),
      ...(chance(0.9) ? { price: item.price } : {}),
      ...(chance(0.7) ? { quantity: 1 + Math.floor(random() * 3) } : {}),
    }));
    const value = lines.reduce((sum, l) => sum + ((l.price as number | undefined) ?? 0) * ((l.quantity as number | undefined) ?? 1), 0);
    const money = random();
    emit(
      track(
        'Order Completed',
        {
          order_id: next('order'),
          ...(money < 0.45 ? { revenue: Math.round(value * 0.9 * 100) / 100 } : money < 0.7 ? { total: Math.round(value * 100) / 100 } : {}),
          ...(chance(0.08) ? {} : { products: chance(0.05) ? [] : lines }),
          ...(recommendationId && chance(0.8) ? { recommendation_id: recommendationId } : {}),
        },
        opts(),
      ),
    );
  };

  for (const person of people) {
    const sessions = 1 + Math.floor(random() * 5);
    for (let s = 0; s < sessions; s++) session(person, dayStart(1 + Math.floor(random() * 28)) + Math.floor(random() * 20) * HOUR);
    // Some history before the window, which every analysis must leave out.
    if (chance(0.3)) session(person, dayStart(32 + Math.floor(random() * 8)) + Math.floor(random() * 20) * HOUR);
  }

  // Edge cases, fixed.
  const u1 = people[0];
  const fixed = (person: Person, at: number, extra: Partial<EventOptions> = {}): EventOptions => ({
    ...(person.userId !== undefined ? { userId: person.userId } : {}),
    ...(person.anonymousId !== undefined ? { anonymousId: person.anonymousId } : {}),
    at,
    receivedAt: at + 100,
    messageId: next('edge'),
    ...extra,
  });
  // First and last minute of the window's edges: 30 days ago is in, 31 days ago is out.
  emit(track('Product Viewed', { product_id: 'lamp', category: 'Lighting' }, fixed(u1, dayStart(30) + HOUR)));
  emit(track('Product Viewed', { product_id: 'lamp', category: 'Lighting' }, fixed(u1, dayStart(31) + 22 * HOUR)));
  // Happened before the window, received inside it: in the (arrival-based) data quality, out of the rest.
  emit(track('Product Viewed', { product_id: 'map', category: 'Books' }, fixed(people[1], dayStart(31) + 10 * HOUR, { receivedAt: dayStart(29) + 10 * HOUR })));
  // Exactly one hour late: not late (the rule is "more than an hour").
  emit(page('Home', { path: '/' }, fixed(people[2], dayStart(6) + 9 * HOUR, { receivedAt: dayStart(6) + 10 * HOUR })));
  // Stamped two hours after it arrived (a client clock ahead).
  emit(page('Home', { path: '/' }, fixed(people[3], dayStart(5) + 14 * HOUR, { receivedAt: dayStart(5) + 12 * HOUR })));
  // Stamped half an hour after it arrived: within tolerance, not "future".
  emit(page('Home', { path: '/' }, fixed(people[3], dayStart(5) + 16 * HOUR + 30 * MINUTE, { receivedAt: dayStart(5) + 16 * HOUR })));
  emit(alias('device-03', fixed(people[2], dayStart(4) + 8 * HOUR)));
  emit(group('acme', { plan: 'team' }, fixed(people[4], dayStart(3) + 8 * HOUR)));
  // An exposure clicked with the camelCase property, then bought from.
  const shown = { recommendation_id: 'rec-fixed', strategy: 'hybrid', variant: u1.variant, experiment: EXPERIMENT, products: [{ product_id: 'stove', position: 1 }] };
  emit(track(EXPOSURE_EVENT, shown, fixed(u1, dayStart(2) + 8 * HOUR, { messageId: 'rec-rec-fixed', sourceId: 'recommendations-api' })));
  emit(track('Product Clicked', { product_id: 'stove', recommendationId: 'rec-fixed' }, fixed(u1, dayStart(2) + 8 * HOUR + MINUTE)));
  emit(track('Order Completed', { revenue: 49.95, products: [{ product_id: 'stove', price: 49.95 }], recommendation_id: 'rec-fixed' }, fixed(u1, dayStart(2) + 8 * HOUR + 9 * MINUTE)));
  // Recommendations for someone otherwise inactive (say, for an email): an exposure is not activity.
  emit(track(EXPOSURE_EVENT, { recommendation_id: 'rec-email', strategy: 'popular', variant: 'default', products: shown.products }, fixed({ anonymousId: 'mailing-01', variant: 'default' }, dayStart(12) + 6 * HOUR, { messageId: 'rec-rec-email', sourceId: 'recommendations-api' })));
  const acrossMidnight = emit(page('Home', { path: '/' }, fixed(people[6], dayStart(10) + 23 * HOUR + 55 * MINUTE)));
  const acrossWindow = emit(page('Home', { path: '/' }, fixed(people[5], dayStart(31) + 23 * HOUR + 30 * MINUTE)));

  // Duplicates: the same event in another object, as Kinesis/Firehose retries and client resends give them.
  const duplicates: StreamEvent[] = [];
  for (const event of originals) {
    if (!chance(0.12)) continue;
    duplicates.push(chance(0.67) ? event : { ...event, receivedAt: iso(Math.min(Date.parse(event.receivedAt) + 10 * MINUTE, now - MINUTE)) });
  }
  // Received before the window and resent inside it: only the resent copy is in the window.
  duplicates.push({ ...acrossWindow, receivedAt: iso(dayStart(30) + 10 * MINUTE) });
  // Resent the next day: the copy of the day before is the event, this one the duplicate.
  duplicates.push({ ...acrossMidnight, receivedAt: iso(dayStart(9) + 5 * MINUTE) });

  const rows: LakeRow[] = [];
  for (const batch of [originals, duplicates]) {
    const outcome = await writeLakeBatch(lakeDir, kinesisEvent(batch.map((e) => kinesisRecord(e, { partitionKey: e.userId ?? e.anonymousId }))));
    if (!outcome.ok) throw new Error(`lake write failed: ${JSON.stringify(outcome.error)}`);
    for (const event of batch) rows.push({ event, ...partitionOf(Date.parse(event.receivedAt)) });
  }

  const badEvents = writeBadEvents(lakeDir, dayStart, random, now);
  const { memberships: segmentMemberships, rows: segmentEvents } = await writeSegmentEvents(lakeDir, dayStart, now);
  return { now, startDay: iso(dayStart(30)).slice(0, 10), rows, badEvents, segmentEvents, segmentMemberships };
}

/** Rejected events from ingest and the processor, some truncated, one delivered twice, one before the window. */
function writeBadEvents(lakeDir: string, dayStart: (daysAgo: number) => number, random: () => number, now: number): BadEventRow[] {
  const reasons = [
    { source: 'ingest', reason: 'timestamp: must be an ISO-8601 date-time such as 2024-05-01T12:00:00.000Z' },
    { source: 'ingest', reason: 'userId: userId or anonymousId is required' },
    { source: 'ingest', reason: 'Event is larger than 32 KB' },
    { source: 'processor', reason: 'Record data is not JSON' },
    { source: 'processor', reason: 'Not a stream event: receivedAt: is required' },
  ] as const;
  const rows: BadEventRow[] = [];
  for (let i = 1; i <= 24; i++) {
    const { source, reason } = reasons[Math.floor(random() * reasons.length)];
    const detected = Math.min(dayStart(1 + Math.floor(random() * 28)) + Math.floor(random() * 24 * 60) * MINUTE, now - MINUTE);
    const truncated = reason.includes('32 KB') || random() < 0.1;
    rows.push({
      id: `bad-${String(i).padStart(3, '0')}`,
      source,
      reason,
      payload: truncated ? '{"type":"track","event":"Huge' : `{"type":"track","event":"Broken ${i}"}`,
      truncated,
      ...(source === 'processor' ? { partitionKey: `user-${i}` } : {}),
      ...(random() < 0.7 ? { sourceId: random() < 0.5 ? 'src_web' : 'src_app' } : {}),
      arrivedAt: iso(detected - 2 * SECOND),
      detectedAt: iso(detected),
      ...partitionOf(detected),
    });
  }
  // Written again (a retried delivery): same id, another object.
  rows.push({ ...rows[3] }, { ...rows[7] });
  const outside = dayStart(35) + 5 * HOUR;
  rows.push({ id: 'bad-old', source: 'ingest', reason: reasons[0].reason, payload: '{}', truncated: false, detectedAt: iso(outside), ...partitionOf(outside) });

  const objects = new Map<string, BadEventRow[]>();
  rows.forEach((row, i) => {
    const key = `dt=${row.dt}/hour=${row.hour}/bad-events-${i >= 24 ? 'retry' : 'first'}.json.gz`;
    objects.set(key, [...(objects.get(key) ?? []), row]);
  });
  for (const [key, lines] of objects) {
    const file = path.join(lakeDir, LAKE_BAD_EVENTS_PREFIX, key);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const text = lines.map(({ dt: _dt, hour: _hour, ...line }) => JSON.stringify(line)).join('\n') + '\n';
    fs.writeFileSync(file, zlib.gzipSync(text));
  }
  return rows;
}

/** The segment events' delivery stream, as the template defines it: arrival-hour partitions, a newline after each record. */
const SEGMENT_EVENTS_STREAM: LocalDeliveryStream = {
  logicalId: 'SegmentEventsDelivery',
  name: 'segment-events',
  arn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/segment-events',
  type: 'DirectPut',
  prefix: `${LAKE_SEGMENT_EVENTS_PREFIX}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/`,
  appendsNewline: true,
};

/**
 * Segment memberships of 16 people in three segments over the last 60 days, and the entry and exit events they
 * give, written as the segment bus's rule delivers them (through the local Firehose's Direct PUT delivery):
 * - `cart-abandoners`: memberships of minutes to hours; `vip`: of days to weeks, some begun before the window and
 *   some still going; `winback`: long ones, several begun before the window;
 * - most events reach the lake within seconds, some hours late (a retried publish), so some cross midnight;
 * - about one in eight is there twice: the same event again (a Firehose retry), or published again (a new event id,
 *   the same `noticeId`), up to a day later;
 * - fixed cases at the window's edges (see below).
 * No event reaches the lake after `now` (those are not there yet).
 */
async function writeSegmentEvents(lakeDir: string, dayStart: (daysAgo: number) => number, now: number): Promise<{ memberships: SegmentMembership[]; rows: SegmentEventRow[] }> {
  const random = mulberry32(5_150);
  const latest = now - 2 * MINUTE;
  const memberships: SegmentMembership[] = [];
  const profiles = Array.from({ length: 16 }, (_, i) => (i % 4 === 3 ? `anon#visitor-${pad(i)}` : `user#member-${pad(i)}`));
  const durations: Record<string, () => number> = {
    'cart-abandoners': () => (10 + Math.floor(random() * 170)) * MINUTE,
    vip: () => (2 + Math.floor(random() * 20)) * DAY + Math.floor(random() * DAY),
    winback: () => (20 + Math.floor(random() * 40)) * DAY,
  };
  for (const profileId of profiles) {
    for (const [segmentId, duration] of Object.entries(durations)) {
      // Consecutive memberships of one person in one segment, from 60 days ago to now, a day or more apart.
      let since = dayStart(60) + Math.floor(random() * 20 * DAY);
      while (since < latest) {
        const until = since + duration();
        memberships.push({ segmentId, profileId, since, ...(until <= latest ? { until } : {}) });
        since = until + Math.floor((1 + random() * 6) * DAY);
      }
    }
  }
  // Fixed: entered a minute before the window, published in it (so its partition is in the window), left in it.
  memberships.push({ segmentId: 'vip', profileId: 'user#edge-1', since: dayStart(30) - MINUTE, until: dayStart(12) + 3 * HOUR });
  // Fixed: entered at the very first instant of the window, and still in.
  memberships.push({ segmentId: 'vip', profileId: 'user#edge-2', since: dayStart(30) });
  // Fixed: left at the very first instant of the window.
  memberships.push({ segmentId: 'winback', profileId: 'user#edge-3', since: dayStart(45), until: dayStart(30) });
  // Fixed: the only membership of a segment, over before the window, its exit published in it (the segment is not listed).
  memberships.push({ segmentId: 'spring-sale', profileId: 'user#edge-4', since: dayStart(33), until: dayStart(30) - MINUTE });

  const events = memberships.flatMap((m) => [notice(m, 'entered', m.since), ...(m.until !== undefined ? [notice(m, 'exited', m.until)] : [])]);
  const rows: SegmentEventRow[] = [];
  for (const n of events) {
    const arrival = arrivalOf(n, random, latest);
    const event = busEvent(n, random);
    rows.push({ event, ...partitionOf(arrival) });
    if (random() < 0.06) rows.push({ event, ...partitionOf(Math.min(arrival + SECOND, latest)) });
    else if (random() < 0.07) rows.push({ event: { ...event, id: uuidOf(random) }, ...partitionOf(Math.min(arrival + Math.floor(random() * DAY), latest)) });
  }
  await writeSegmentEventObjects(lakeDir, rows);
  return { memberships, rows };
}

/** The notice of a membership's entry or exit, as the profile processor and the segment clock produce it. */
function notice(m: SegmentMembership, type: SegmentNotice['type'], at: number): SegmentNotice {
  const userId = m.profileId.startsWith('user#') ? m.profileId.slice('user#'.length) : undefined;
  return { id: `${m.segmentId}/${m.profileId}/${m.since}/${type}`, type, segmentId: m.segmentId, profileId: m.profileId, ...(userId ? { userId } : {}), at, since: m.since, reason: 'condition' };
}

/** Fixed publishing delays: transitions just before the window that reach the lake in it. */
const FIXED_DELAYS: Record<string, number> = { 'vip/user#edge-1/entered': 6 * MINUTE, 'spring-sale/user#edge-4/exited': 3 * MINUTE };

/** When a notice's event reaches the lake: seconds after the transition, sometimes hours. */
function arrivalOf(n: SegmentNotice, random: Random, latest: number): number {
  const fixed = FIXED_DELAYS[`${n.segmentId}/${n.profileId}/${n.type}`];
  if (fixed !== undefined) return n.at + fixed;
  const delay = random() < 0.1 ? Math.floor((1 + random() * 5) * HOUR) : Math.floor(random() * 30 * SECOND);
  return Math.min(n.at + delay, latest);
}

/** A notice's event as EventBridge delivers it (`time`: the transition, to the second). */
function busEvent(n: SegmentNotice, random: Random): SegmentBusEvent {
  return {
    version: '0',
    id: uuidOf(random),
    'detail-type': SEGMENT_DETAIL_TYPES[n.type],
    source: SEGMENT_EVENT_SOURCE,
    account: LOCAL_ACCOUNT,
    time: iso(Math.floor(n.at / SECOND) * SECOND).replace('.000Z', 'Z'),
    region: LOCAL_REGION,
    resources: [],
    detail: segmentEventDetail(n),
  };
}

const uuidOf = (random: Random) => Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');

/** One object per arrival hour, and the second copies in objects of their own, delivered as the rule delivers them. */
async function writeSegmentEventObjects(lakeDir: string, rows: readonly SegmentEventRow[]): Promise<void> {
  const objects = new Map<string, SegmentEventRow[]>();
  const seen = new Set<string>();
  for (const row of rows) {
    const copy = seen.has(row.event.detail.noticeId) ? 'again' : 'first';
    seen.add(row.event.detail.noticeId);
    const key = `${row.dt} ${row.hour} ${copy}`;
    objects.set(key, [...(objects.get(key) ?? []), row]);
  }
  for (const lines of objects.values()) {
    const at = Date.parse(`${lines[0].dt}T${lines[0].hour}:00:00Z`);
    await deliverRecords(SEGMENT_EVENTS_STREAM, lakeDir, lines.map((line) => Buffer.from(JSON.stringify(line.event))), at);
  }
}

/**
 * Φ(v), the standard normal CDF, as the double nearest to it: erf by its Taylor series in BigInt fixed point
 * (60 decimals, so at least 35 significant digits even at v = -10), so the reference owes nothing to floating-point
 * arithmetic. For |v| ≤ 10.
 */
export function standardNormalCdf(v: number): number {
  if (!(Math.abs(v) <= 10)) throw new Error(`standardNormalCdf is for |v| <= 10, got ${v}`);
  const scale = 10n ** 60n;
  // π to 100 decimals.
  const pi = 31415926535897932384626433832795028841971693993751058209749445923078164062862089986280348253421170679n / 10n ** 40n;
  const sqrt = (n: bigint) => {
    let x = n;
    let y = (x + 1n) / 2n;
    while (y < x) [x, y] = [y, (y + n / y) / 2n];
    return x;
  };
  // v exactly: a double is m · 2^-e.
  let m = v;
  let e = 0n;
  while (!Number.isInteger(m)) [m, e] = [m * 2, e + 1n];
  const x = (BigInt(m) * scale * scale) / 2n ** e / sqrt(2n * scale * scale); // v / √2, scaled
  const x2 = (x * x) / scale;
  let term = x; // x^(2n+1) / n!
  let sum = 0n;
  for (let n = 0n; term !== 0n; n++) {
    sum += (n % 2n === 0n ? term : -term) / (2n * n + 1n);
    term = (term * x2) / scale / (n + 1n);
  }
  const erf = (2n * sum * scale) / sqrt(pi * scale);
  // Φ = (1 + erf) / 2, 60 decimals, read as a decimal string: correctly rounded, tails keep their relative accuracy.
  const digits = ((scale + erf) / 2n).toString().padStart(61, '0');
  return parseFloat(`${digits.slice(0, -60)}.${digits.slice(-60)}`);
}
