import {
  CATEGORY_SIGNAL_WEIGHTS,
  INTERACTION_WEIGHTS,
  itemsOf,
  normalizeCategory,
  ORDER_COMPLETED,
  orderRevenue,
  PRODUCT_ADDED,
  PRODUCT_REMOVED,
} from './commerce';
import { parseIsoTimestamp, StreamEvent } from './event-schema';
import { isPlainObject, jsonBytes } from './json';

/**
 * The unified profile of one person and the pure reducer that folds events into it.
 *
 * The reducer is order-insensitive: the state is a function of the *set* of events applied, whatever their
 * order or batching. Each field is built from an operation that commutes:
 * - counters and order revenue are sums (revenue in integer 1/10,000 units, so the sum is exact);
 * - first/last seen and order dates are min/max;
 * - traits, group traits and last context are last-writer-wins on (timestamp, messageId);
 * - recent items and cart additions are the top N of a total order, which composes across batches;
 * - category affinity is kept relative to the newest event time seen, so it equals
 *   Σ weight·2^((t − t_max)/half-life) in any order (exact up to floating-point rounding).
 * Bounds keep the item small; where a bound is hit (more than `PROFILE_LIMITS.eventNames` event names,
 * `categories` categories or `cartLines` cart lines) the oldest or weakest entries are dropped, and only
 * there can two orders of the same events differ.
 *
 * De-duplication (applying an event at most once) is not the reducer's job: see `profile-record.ts`.
 */

/** Upper bounds on every collection in a profile, so an item stays far below DynamoDB's 400 KB whatever the traffic. */
export const PROFILE_LIMITS = {
  anonymousIds: 20,
  traits: 64,
  traitKeyLength: 128,
  traitValueBytes: 1024,
  eventNames: 200,
  recentItems: 50,
  categories: 100,
  cartLines: 50,
  cartAddsPerLine: 10,
  groups: 10,
  contextStringLength: 256,
} as const;

/** Counter that absorbs event names beyond `PROFILE_LIMITS.eventNames`. */
export const OTHER_EVENTS = '(other)';
/** Affinity scores below this (after decay) are dropped. */
const MIN_AFFINITY = 1e-6;
/** Revenue is summed in integer units of 1/10,000 so that the sum is exact in any order. */
export const REVENUE_SCALE = 10_000;

/** Last-writer-wins stamp: event time in ms, then `messageId` to break ties deterministically. */
export type Stamp = [number, string];

export interface RecentItem {
  itemId: string;
  event: string;
  at: number;
  category?: string;
}

export interface CartAdd {
  at: number;
  quantity: number;
  price?: number;
}

export interface CartLine {
  /** Additions after `clearedAt`, newest first. */
  adds: CartAdd[];
  /** Time of the latest removal of this product or order containing it. */
  clearedAt: number;
}

export interface LastContext {
  device?: Record<string, string>;
  os?: Record<string, string>;
  app?: Record<string, string>;
  locale?: string;
  timezone?: string;
  referrer?: Record<string, string>;
  campaign?: Record<string, string>;
}

export interface ProfileState {
  profileId: string;
  userId?: string;
  /** Anonymous ids seen with this profile, with when each was last seen (epoch ms). */
  anonymousIds: Record<string, number>;
  /** Time of the earliest and the latest event (epoch ms); absent until the first event. */
  firstSeen?: number;
  lastSeen?: number;
  /** Calls by type: track, page, screen, identify, alias, group. */
  counts: Record<string, number>;
  /** Track calls by event name. */
  events: Record<string, number>;
  traits: Record<string, unknown>;
  traitStamps: Record<string, Stamp>;
  orders: { count: number; revenueUnits: number; firstAt?: number; lastAt?: number };
  /** Category scores decayed to `at` (the newest contributing event time). */
  affinity: { at: number; scores: Record<string, number> };
  /** Newest item interactions first. */
  recent: RecentItem[];
  cart: { clearedAt: number; lines: Record<string, CartLine> };
  context?: { stamp: Stamp; value: LastContext };
  groups: Record<string, { stamp: Stamp; traits: Record<string, unknown> }>;
}

/** The key of a person's profile: their `userId` if known, their `anonymousId` otherwise. */
export function profileIdOf(event: { userId?: string; anonymousId?: string }): string {
  return event.userId !== undefined ? `user#${event.userId}` : `anon#${event.anonymousId}`;
}

export function emptyProfile(profileId: string): ProfileState {
  return {
    profileId,
    anonymousIds: {},
    counts: {},
    events: {},
    traits: {},
    traitStamps: {},
    orders: { count: 0, revenueUnits: 0 },
    affinity: { at: 0, scores: {} },
    recent: [],
    cart: { clearedAt: 0, lines: {} },
    groups: {},
  };
}

/**
 * Folds events into a copy of `state` (the input is not modified). Events must be distinct (de-duplicated by
 * the caller) and belong to the profile.
 */
export function reduceEvents(state: ProfileState, events: readonly StreamEvent[], halfLifeDays: number): ProfileState {
  const next = structuredClone(state);
  const halfLifeMs = halfLifeDays * 86_400_000;
  for (const event of events) applyEvent(next, event, halfLifeMs);
  enforceBounds(next);
  return next;
}

function applyEvent(p: ProfileState, e: StreamEvent, halfLifeMs: number): void {
  const at = parseIsoTimestamp(e.timestamp) as number;
  const stamp: Stamp = [at, e.messageId];
  p.firstSeen = Math.min(p.firstSeen ?? at, at);
  p.lastSeen = Math.max(p.lastSeen ?? at, at);
  increment(p.counts, e.type);
  if (e.userId !== undefined && p.profileId === profileIdOf({ userId: e.userId })) p.userId = e.userId;
  if (e.anonymousId !== undefined) setOwn(p.anonymousIds, e.anonymousId, Math.max(own(p.anonymousIds, e.anonymousId) ?? 0, at));
  if (e.context) applyContext(p, e.context, stamp);

  if (e.type === 'identify' && e.traits) mergeTraits(p.traits, p.traitStamps, e.traits, stamp);
  if (e.type === 'group' && typeof e.groupId === 'string') applyGroup(p, e.groupId, e.traits ?? {}, stamp);
  if (e.type === 'track' && e.event) applyTrack(p, e.event, e.properties, at, halfLifeMs);
}

function applyTrack(p: ProfileState, name: string, properties: Record<string, unknown> | undefined, at: number, halfLifeMs: number): void {
  if (own(p.events, name) !== undefined || Object.keys(p.events).length < PROFILE_LIMITS.eventNames) increment(p.events, name);
  else increment(p.events, OTHER_EVENTS);

  const weight = own(INTERACTION_WEIGHTS, name);
  if (weight !== undefined) {
    const items = itemsOf(name, properties);
    for (const item of items) {
      p.recent.push({ itemId: item.itemId, event: name, at, ...(item.category ? { category: item.category } : {}) });
      if (item.category && weight > 0) addAffinity(p.affinity, item.category, weight, at, halfLifeMs);
    }
    if (name === PRODUCT_ADDED) for (const item of items) cartLine(p, item.itemId).adds.push(cartAdd(at, item.quantity, item.price));
    if (name === PRODUCT_REMOVED) for (const item of items) clearLine(cartLine(p, item.itemId), at);
    if (name === ORDER_COMPLETED) applyOrder(p, properties, items.map((i) => i.itemId), at);
  }

  const categoryWeight = own(CATEGORY_SIGNAL_WEIGHTS, name);
  const category = normalizeCategory(properties?.category);
  if (categoryWeight !== undefined && category) addAffinity(p.affinity, category, categoryWeight, at, halfLifeMs);
}

function applyOrder(p: ProfileState, properties: Record<string, unknown> | undefined, itemIds: string[], at: number): void {
  p.orders.count += 1;
  p.orders.revenueUnits += Math.round(orderRevenue(properties) * REVENUE_SCALE);
  p.orders.firstAt = Math.min(p.orders.firstAt ?? at, at);
  p.orders.lastAt = Math.max(p.orders.lastAt ?? at, at);
  // An order empties the cart of what it bought; an order that lists no products empties the whole cart.
  if (itemIds.length === 0) p.cart.clearedAt = Math.max(p.cart.clearedAt, at);
  for (const itemId of itemIds) clearLine(cartLine(p, itemId), at);
}

function cartLine(p: ProfileState, itemId: string): CartLine {
  const line = own(p.cart.lines, itemId);
  if (line) return line;
  const created: CartLine = { adds: [], clearedAt: 0 };
  setOwn(p.cart.lines, itemId, created);
  return created;
}

function clearLine(line: CartLine, at: number): void {
  line.clearedAt = Math.max(line.clearedAt, at);
}

function cartAdd(at: number, quantity: number | undefined, price: number | undefined): CartAdd {
  return { at, quantity: quantity ?? 1, ...(price !== undefined ? { price } : {}) };
}

/** Adds `weight` at time `at` to a decayed score: scores are kept relative to the newest time seen. */
function addAffinity(affinity: ProfileState['affinity'], category: string, weight: number, at: number, halfLifeMs: number): void {
  if (Object.keys(affinity.scores).length === 0 || at > affinity.at) {
    const factor = Object.keys(affinity.scores).length === 0 ? 1 : 2 ** ((affinity.at - at) / halfLifeMs);
    for (const key of Object.keys(affinity.scores)) affinity.scores[key] *= factor;
    affinity.at = at;
  }
  setOwn(affinity.scores, category, (own(affinity.scores, category) ?? 0) + weight * 2 ** ((at - affinity.at) / halfLifeMs));
}

function mergeTraits(traits: Record<string, unknown>, stamps: Record<string, Stamp>, incoming: Record<string, unknown>, stamp: Stamp): void {
  for (const [key, value] of Object.entries(incoming)) {
    if (key.length > PROFILE_LIMITS.traitKeyLength || jsonBytes(value) > PROFILE_LIMITS.traitValueBytes) continue;
    const current = own(stamps, key);
    if (current === undefined || compareStamps(stamp, current) > 0) {
      setOwn(traits, key, value);
      setOwn(stamps, key, stamp);
    }
  }
}

function applyGroup(p: ProfileState, groupId: string, traits: Record<string, unknown>, stamp: Stamp): void {
  const current = own(p.groups, groupId);
  if (current === undefined || compareStamps(stamp, current.stamp) > 0) {
    const kept: Record<string, unknown> = {};
    mergeTraits(kept, {}, traits, stamp);
    setOwn(p.groups, groupId, { stamp, traits: kept });
  }
}

function applyContext(p: ProfileState, context: Record<string, unknown>, stamp: Stamp): void {
  if (p.context !== undefined && compareStamps(stamp, p.context.stamp) <= 0) return;
  const value = pickContext(context);
  if (Object.keys(value).length > 0) p.context = { stamp, value };
}

/** The parts of Segment's `context` a profile keeps: no IP address, user agent or page URLs. */
function pickContext(ctx: Record<string, unknown>): LastContext {
  const page = isPlainObject(ctx.page) ? ctx.page : {};
  const referrer = pickStrings(ctx.referrer, ['type', 'name', 'url', 'link']) ?? (typeof page.referrer === 'string' && page.referrer ? { url: clip(page.referrer) } : undefined);
  const picked: LastContext = {
    device: pickStrings(ctx.device, ['type', 'manufacturer', 'model', 'name']),
    os: pickStrings(ctx.os, ['name', 'version']),
    app: pickStrings(ctx.app, ['name', 'version', 'build']),
    locale: typeof ctx.locale === 'string' && ctx.locale ? clip(ctx.locale) : undefined,
    timezone: typeof ctx.timezone === 'string' && ctx.timezone ? clip(ctx.timezone) : undefined,
    referrer,
    campaign: pickStrings(ctx.campaign, ['name', 'source', 'medium', 'term', 'content']),
  };
  return Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined)) as LastContext;
}

function pickStrings(source: unknown, keys: string[]): Record<string, string> | undefined {
  if (!isPlainObject(source)) return undefined;
  const out: Record<string, string> = {};
  for (const key of keys) {
    const v = source[key];
    if ((typeof v === 'string' && v !== '') || typeof v === 'number') out[key] = clip(String(v));
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

const clip = (s: string) => s.slice(0, PROFILE_LIMITS.contextStringLength);

/** Trims every collection to its bound. Each trim keeps the top N of a total order, so it composes across batches. */
function enforceBounds(p: ProfileState): void {
  p.anonymousIds = topEntries(p.anonymousIds, PROFILE_LIMITS.anonymousIds, (a, b) => b[1] - a[1] || cmp(a[0], b[0]));

  const keptTraits = Object.entries(p.traitStamps)
    .sort((a, b) => compareStamps(b[1], a[1]) || cmp(a[0], b[0]))
    .slice(0, PROFILE_LIMITS.traits)
    .map(([key]) => key);
  p.traits = Object.fromEntries(keptTraits.map((k) => [k, p.traits[k]]));
  p.traitStamps = Object.fromEntries(keptTraits.map((k) => [k, p.traitStamps[k]]));

  p.recent = p.recent.sort(compareRecent).slice(0, PROFILE_LIMITS.recentItems);

  const scores = Object.entries(p.affinity.scores).filter(([, s]) => s >= MIN_AFFINITY);
  p.affinity.scores = Object.fromEntries(scores.sort((a, b) => b[1] - a[1] || cmp(a[0], b[0])).slice(0, PROFILE_LIMITS.categories));

  p.groups = Object.fromEntries(
    Object.entries(p.groups)
      .sort((a, b) => compareStamps(b[1].stamp, a[1].stamp) || cmp(a[0], b[0]))
      .slice(0, PROFILE_LIMITS.groups),
  );

  boundCart(p.cart);
}

function boundCart(cart: ProfileState['cart']): void {
  const lines: Array<[string, CartLine, number]> = [];
  for (const [itemId, line] of Object.entries(cart.lines)) {
    const threshold = Math.max(line.clearedAt, cart.clearedAt);
    const adds = line.adds
      .filter((a) => a.at > threshold)
      .sort((a, b) => b.at - a.at || b.quantity - a.quantity || (b.price ?? 0) - (a.price ?? 0))
      .slice(0, PROFILE_LIMITS.cartAddsPerLine);
    // A line with nothing left is kept as a tombstone while its removal is newer than the cart-wide one,
    // so an addition that arrives late (older than the removal) still stays removed.
    if (adds.length === 0 && line.clearedAt <= cart.clearedAt) continue;
    lines.push([itemId, { adds, clearedAt: line.clearedAt }, Math.max(adds[0]?.at ?? 0, line.clearedAt)]);
  }
  lines.sort((a, b) => b[2] - a[2] || cmp(a[0], b[0]));
  cart.lines = Object.fromEntries(lines.slice(0, PROFILE_LIMITS.cartLines).map(([id, line]) => [id, line]));
}

function topEntries<V>(record: Record<string, V>, limit: number, order: (a: [string, V], b: [string, V]) => number): Record<string, V> {
  const entries = Object.entries(record);
  return entries.length <= limit ? record : Object.fromEntries(entries.sort(order).slice(0, limit));
}

function compareRecent(a: RecentItem, b: RecentItem): number {
  return b.at - a.at || cmp(a.itemId, b.itemId) || cmp(a.event, b.event) || cmp(a.category ?? '', b.category ?? '');
}

export function compareStamps(a: Stamp, b: Stamp): number {
  return a[0] - b[0] || cmp(a[1], b[1]);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function increment(counter: Record<string, number>, key: string): void {
  setOwn(counter, key, (own(counter, key) ?? 0) + 1);
}

/**
 * Keys come from events ("constructor", "toString", "__proto__" are valid product ids, event names and traits):
 * read only own properties, never Object.prototype's, and create keys as own data properties (assigning
 * `__proto__` would replace the prototype instead).
 */
function own<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function setOwn<V>(record: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
}
