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
import { Activity, activityKeyOf, boundActivity, emptyActivity, mergeActivity, recordActivity } from './activity';
import { ADMIN_SOURCE_ID, applyStatements, ConsentSettings, ConsentState, DEFAULT_CONSENT_SETTINGS, emptyConsent, eventPermits, isGranted, mergeConsent, statedPreferences } from './consent';
import { parseIsoTimestamp, StreamEvent } from './event-schema';
import { compareStrings, isPlainObject, jsonBytes, own, prefixWithin, setOwn } from './json';

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
 *   Σ weight·2^((t − t_max)/half-life) in any order (exact up to floating-point rounding);
 * - activity (event counts per name in minute and day buckets, what segments' time windows read) is a sum per
 *   bucket (`activity.ts`).
 * Bounds keep the item small whatever the traffic: every collection is limited in entries (`PROFILE_LIMITS`) and
 * in JSON bytes (`PROFILE_BYTE_BUDGETS`; bytes, not characters, since one character can take 6). A bounded
 * collection keeps the longest prefix of its order that fits both limits, which composes across batches. Only
 * where a bound is hit on event names, categories or cart lines can two orders of the same events differ.
 *
 * De-duplication (applying an event at most once) is not the reducer's job: see `profile-record.ts`.
 *
 * Consent (`consent.ts`) is the one deliberate exception to order-insensitivity: an event that states no consent
 * is judged by the profile's consent when it is processed, and a withdrawal of personalization consent clears the
 * personalization features the profile held at that moment. The effective consent itself is last-writer-wins.
 */

/** Upper bounds on every collection in a profile, so an item stays far below DynamoDB's 400 KB whatever the traffic. */
export const PROFILE_LIMITS = {
  anonymousIds: 20,
  traits: 64,
  traitKeyLength: 128,
  traitValueBytes: 1024,
  eventNames: 200,
  /** The recommender's history: each recent item's neighbour list is read per request (see `bench:quality`). */
  recentItems: 200,
  categories: 100,
  cartLines: 50,
  cartAddsPerLine: 10,
  groups: 10,
  traitsPerGroup: 16,
  contextStringLength: 128,
} as const;

/**
 * JSON bytes each collection may take. With the ids (under 2 KB), the activity counts (at most 48 KB,
 * `ACTIVITY_LIMITS`), the de-duplication set (at most 60 KB), the linked ids (about 30 KB) and the segment
 * memberships (`SEGMENT_LIMITS`), a profile item stays below about 360 KB, under DynamoDB's 400 KB limit.
 */
export const PROFILE_BYTE_BUDGETS = {
  anonymousIds: 8 * 1024,
  traits: 64 * 1024,
  eventNames: 16 * 1024,
  recentItems: 48 * 1024,
  categories: 12 * 1024,
  cartLines: 24 * 1024,
  groups: 24 * 1024,
  traitsPerGroup: 2 * 1024,
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
  /** Consent per category with its audit trail (absent in profiles written before consent was kept). */
  consent?: ConsentState;
  /** Event counts per name over time, for segments' windows (absent in profiles written before segments). */
  activity?: Activity;
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
    consent: emptyConsent(),
    activity: emptyActivity(),
  };
}

/**
 * Folds events into a copy of `state` (the input is not modified). Events must be distinct (de-duplicated by
 * the caller) and belong to the profile.
 */
export function reduceEvents(state: ProfileState, events: readonly StreamEvent[], halfLifeDays: number, consent: ConsentSettings = DEFAULT_CONSENT_SETTINGS): ProfileState {
  const next = structuredClone(state);
  next.consent ??= emptyConsent();
  next.activity ??= emptyActivity();
  const personalizedBefore = isGranted(next.consent, consent.personalizationCategory, consent);
  const halfLifeMs = halfLifeDays * 86_400_000;
  for (const event of events) applyEvent(next, event, halfLifeMs, consent);
  enforceConsent(next, personalizedBefore, consent);
  enforceBounds(next);
  return next;
}

/**
 * When personalization consent has just been withdrawn, forgets what the profile learnt for personalization:
 * event counters, activity, recent items, affinities, cart, orders and the last context. Ids, traits, call counts and
 * consent stay (erasure removes everything: `DELETE /v1/profiles/{userId}`).
 */
function enforceConsent(p: ProfileState, personalizedBefore: boolean, consent: ConsentSettings): void {
  if (!personalizedBefore || isGranted(p.consent, consent.personalizationCategory, consent)) return;
  const empty = emptyProfile(p.profileId);
  p.events = empty.events;
  p.orders = empty.orders;
  p.affinity = empty.affinity;
  p.recent = empty.recent;
  p.cart = empty.cart;
  p.activity = empty.activity;
  delete p.context;
}

/** What a merge takes from the profile merged in: everything, or its history only (a lower-confidence device link). */
export type MergeScope = 'all' | 'history';

/**
 * Merges the profile of another id of the same person into a copy of `into` (the inputs are not modified).
 * The result is the profile the union of both event sets would have given (each operation of the reducer
 * commutes, so the two halves combine like two batches): counters and revenue summed, first/last times min/max,
 * recent items, cart lines and anonymous ids united, affinities decayed to the newer time and summed, traits,
 * groups and context last-writer-wins. The events behind the two profiles must be distinct (the caller unites
 * their de-duplication sets, so a replay of one of them is still recognised).
 *
 * With scope `history`, the other profile's traits and groups (who the person says they are) are left out: only
 * what they did is merged. `into` keeps its `profileId` and `userId`.
 */
export function mergeProfileState(into: ProfileState, from: ProfileState, scope: MergeScope, halfLifeDays: number, consent: ConsentSettings = DEFAULT_CONSENT_SETTINGS): ProfileState {
  const p = structuredClone(into);
  p.consent ??= emptyConsent();
  p.activity ??= emptyActivity();
  const personalizedBefore = isGranted(p.consent, consent.personalizationCategory, consent);
  const halfLifeMs = halfLifeDays * 86_400_000;
  if (from.firstSeen !== undefined) p.firstSeen = Math.min(p.firstSeen ?? from.firstSeen, from.firstSeen);
  if (from.lastSeen !== undefined) p.lastSeen = Math.max(p.lastSeen ?? from.lastSeen, from.lastSeen);
  for (const [id, at] of Object.entries(from.anonymousIds)) setOwn(p.anonymousIds, id, Math.max(own(p.anonymousIds, id) ?? 0, at));
  for (const [type, n] of Object.entries(from.counts)) setOwn(p.counts, type, (own(p.counts, type) ?? 0) + n);
  // Names in the order they would have been admitted one event at a time are not known; merging the other
  // profile's names in name order keeps the result deterministic, and within the bounds it is exact.
  for (const [name, n] of Object.entries(from.events).sort((a, b) => compareStrings(a[0], b[0]))) {
    const key = own(p.events, name) !== undefined || admitsEventName(p.events, name) ? name : OTHER_EVENTS;
    setOwn(p.events, key, (own(p.events, key) ?? 0) + n);
  }
  p.orders.count += from.orders.count;
  p.orders.revenueUnits += from.orders.revenueUnits;
  if (from.orders.firstAt !== undefined) p.orders.firstAt = Math.min(p.orders.firstAt ?? from.orders.firstAt, from.orders.firstAt);
  if (from.orders.lastAt !== undefined) p.orders.lastAt = Math.max(p.orders.lastAt ?? from.orders.lastAt, from.orders.lastAt);
  for (const [category, score] of Object.entries(from.affinity.scores)) {
    // A score kept relative to `from.affinity.at` is that weight added at that time.
    addAffinity(p.affinity, category, score, from.affinity.at, halfLifeMs);
  }
  p.recent.push(...from.recent);
  if (from.activity) mergeActivity(p.activity, from.activity);
  p.cart.clearedAt = Math.max(p.cart.clearedAt, from.cart.clearedAt);
  for (const [itemId, line] of Object.entries(from.cart.lines)) {
    const target = cartLine(p, itemId);
    target.adds.push(...line.adds);
    clearLine(target, line.clearedAt);
  }
  if (from.context && (p.context === undefined || compareStamps(from.context.stamp, p.context.stamp) > 0)) p.context = from.context;
  if (scope === 'all') {
    for (const [key, stamp] of Object.entries(from.traitStamps)) {
      const current = own(p.traitStamps, key);
      if (current === undefined || compareStamps(stamp, current) > 0) {
        setOwn(p.traits, key, own(from.traits, key));
        setOwn(p.traitStamps, key, stamp);
      }
    }
    for (const [groupId, group] of Object.entries(from.groups)) {
      const current = own(p.groups, groupId);
      if (current === undefined || compareStamps(group.stamp, current.stamp) > 0) setOwn(p.groups, groupId, group);
    }
    // Consent is the person's statement: a device link (another person, maybe) does not carry it over.
    if (from.consent) mergeConsent(p.consent, from.consent);
  }
  enforceConsent(p, personalizedBefore, consent);
  enforceBounds(p);
  return p;
}

function applyEvent(p: ProfileState, e: StreamEvent, halfLifeMs: number, consent: ConsentSettings): void {
  const at = parseIsoTimestamp(e.timestamp) as number;
  const stamp: Stamp = [at, e.messageId];
  p.firstSeen = Math.min(p.firstSeen ?? at, at);
  p.lastSeen = Math.max(p.lastSeen ?? at, at);
  increment(p.counts, e.type);
  if (e.userId !== undefined && p.profileId === profileIdOf({ userId: e.userId })) p.userId = e.userId;
  if (e.anonymousId !== undefined) setOwn(p.anonymousIds, e.anonymousId, Math.max(own(p.anonymousIds, e.anonymousId) ?? 0, at));
  const stated = statedPreferences(e.context);
  if (stated) applyStatements(p.consent as ConsentState, stated, stamp, e.sourceId === ADMIN_SOURCE_ID ? 'admin' : 'event');

  if (e.type === 'identify' && e.traits) mergeTraits(p.traits, p.traitStamps, e.traits, stamp);
  if (e.type === 'group' && typeof e.groupId === 'string') applyGroup(p, e.groupId, e.traits ?? {}, stamp);
  // Without personalization consent, what the person does is not learnt.
  if (!eventPermits(stated, p.consent, consent.personalizationCategory, consent)) return;
  if (e.context) applyContext(p, e.context, stamp);
  recordActivity(p.activity as Activity, activityKeyOf(e), at);
  if (e.type === 'track' && e.event) applyTrack(p, e.event, e.properties, at, halfLifeMs);
}

function applyTrack(p: ProfileState, name: string, properties: Record<string, unknown> | undefined, at: number, halfLifeMs: number): void {
  increment(p.events, own(p.events, name) !== undefined || admitsEventName(p.events, name) ? name : OTHER_EVENTS);

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
  // An amount beyond exact integer arithmetic (or Infinity, which JSON stores as null and so would wipe the
  // total on the next write) is not a real order value: count the order, not its revenue.
  const units = Math.round(orderRevenue(properties) * REVENUE_SCALE);
  if (Number.isSafeInteger(units)) p.orders.revenueUnits += units;
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

/** A new event name gets its own counter while there is room in entries and bytes; later ones count as `(other)`. */
function admitsEventName(events: Record<string, number>, name: string): boolean {
  const names = Object.keys(events);
  if (names.length >= PROFILE_LIMITS.eventNames) return false;
  const bytes = names.reduce((sum, n) => sum + entryBytes(n, 0), 0);
  return bytes + entryBytes(name, 0) <= PROFILE_BYTE_BUDGETS.eventNames;
}

function applyGroup(p: ProfileState, groupId: string, traits: Record<string, unknown>, stamp: Stamp): void {
  const current = own(p.groups, groupId);
  if (current === undefined || compareStamps(stamp, current.stamp) > 0) {
    const kept: Record<string, unknown> = {};
    mergeTraits(kept, {}, traits, stamp);
    // One group call replaces the group's traits: keep the first ones by name within the group's bounds.
    const entries = Object.entries(kept).sort((a, b) => compareStrings(a[0], b[0]));
    const bounded = prefixWithin(entries, PROFILE_LIMITS.traitsPerGroup, PROFILE_BYTE_BUDGETS.traitsPerGroup, ([k, v]) => entryBytes(k, v));
    setOwn(p.groups, groupId, { stamp, traits: Object.fromEntries(bounded) });
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

/** Trims every collection to its bounds, keeping the longest prefix of its order (so it composes across batches). */
function enforceBounds(p: ProfileState): void {
  if (p.activity) boundActivity(p.activity);
  p.anonymousIds = Object.fromEntries(
    prefixWithin(
      Object.entries(p.anonymousIds).sort((a, b) => b[1] - a[1] || compareStrings(a[0], b[0])),
      PROFILE_LIMITS.anonymousIds,
      PROFILE_BYTE_BUDGETS.anonymousIds,
      ([id, at]) => entryBytes(id, at),
    ),
  );

  const keptTraits = prefixWithin(
    Object.entries(p.traitStamps).sort((a, b) => compareStamps(b[1], a[1]) || compareStrings(a[0], b[0])),
    PROFILE_LIMITS.traits,
    PROFILE_BYTE_BUDGETS.traits,
    ([key, stamp]) => entryBytes(key, p.traits[key]) + entryBytes(key, stamp),
  ).map(([key]) => key);
  p.traits = Object.fromEntries(keptTraits.map((k) => [k, p.traits[k]]));
  p.traitStamps = Object.fromEntries(keptTraits.map((k) => [k, p.traitStamps[k]]));

  p.recent = prefixWithin(p.recent.sort(compareRecent), PROFILE_LIMITS.recentItems, PROFILE_BYTE_BUDGETS.recentItems, (r) => jsonBytes(r) + 1);

  const scores = Object.entries(p.affinity.scores).filter(([, s]) => s >= MIN_AFFINITY);
  p.affinity.scores = Object.fromEntries(
    prefixWithin(
      scores.sort((a, b) => b[1] - a[1] || compareStrings(a[0], b[0])),
      PROFILE_LIMITS.categories,
      PROFILE_BYTE_BUDGETS.categories,
      ([category, score]) => entryBytes(category, score),
    ),
  );

  p.groups = Object.fromEntries(
    prefixWithin(
      Object.entries(p.groups).sort((a, b) => compareStamps(b[1].stamp, a[1].stamp) || compareStrings(a[0], b[0])),
      PROFILE_LIMITS.groups,
      PROFILE_BYTE_BUDGETS.groups,
      ([id, group]) => entryBytes(id, group),
    ),
  );

  boundCart(p.cart);
}

function boundCart(cart: ProfileState['cart']): void {
  const lines: Array<[string, CartLine, number]> = [];
  for (const [itemId, line] of Object.entries(cart.lines)) {
    const threshold = Math.max(line.clearedAt, cart.clearedAt);
    const adds = line.adds
      .filter((a) => a.at > threshold)
      .sort((a, b) => b.at - a.at || b.quantity - a.quantity || (b.price ?? 0) - (a.price ?? 0) || Number(b.price !== undefined) - Number(a.price !== undefined))
      .slice(0, PROFILE_LIMITS.cartAddsPerLine);
    // A line with nothing left is kept as a tombstone while its removal is newer than the cart-wide one,
    // so an addition that arrives late (older than the removal) still stays removed.
    if (adds.length === 0 && line.clearedAt <= cart.clearedAt) continue;
    // A removal older than the cart-wide one no longer matters: forget it, so the state does not depend on
    // whether the line was dropped (and later re-created) in between.
    const clearedAt = line.clearedAt > cart.clearedAt ? line.clearedAt : 0;
    lines.push([itemId, { adds, clearedAt }, Math.max(adds[0]?.at ?? 0, clearedAt)]);
  }
  lines.sort((a, b) => b[2] - a[2] || compareStrings(a[0], b[0]));
  const kept = prefixWithin(lines, PROFILE_LIMITS.cartLines, PROFILE_BYTE_BUDGETS.cartLines, ([id, line]) => entryBytes(id, line));
  cart.lines = Object.fromEntries(kept.map(([id, line]) => [id, line]));
}

/** JSON bytes of `"key":value,` in an object. */
function entryBytes(key: string, value: unknown): number {
  return jsonBytes(key) + jsonBytes(value) + 2;
}

function compareRecent(a: RecentItem, b: RecentItem): number {
  return b.at - a.at || compareStrings(a.itemId, b.itemId) || compareStrings(a.event, b.event) || compareStrings(a.category ?? '', b.category ?? '');
}

export function compareStamps(a: Stamp, b: Stamp): number {
  return a[0] - b[0] || compareStrings(a[1], b[1]);
}

function increment(counter: Record<string, number>, key: string): void {
  setOwn(counter, key, (own(counter, key) ?? 0) + 1);
}
