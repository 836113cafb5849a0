import { auditTrail, ConsentSource } from './consent';
import { CartAdd, LastContext, MergeScope, ProfileState, REVENUE_SCALE } from './profile';
import { ProfileRecord } from './profile-record';

/** A profile as the API returns it: ISO dates, decayed affinities, the cart as lines, no internal bookkeeping. */
export interface ProfileView {
  profileId: string;
  userId?: string;
  anonymousIds: string[];
  traits: Record<string, unknown>;
  firstSeen?: string;
  lastSeen?: string;
  counts: Record<string, number>;
  events: Record<string, number>;
  /** Recency, frequency and monetary value from `Order Completed` events. */
  rfm: { recencyDays?: number; frequency: number; monetary: number; firstOrderAt?: string; lastOrderAt?: string };
  /** Category affinities decayed to the time of the read, strongest first. */
  affinities: Array<{ category: string; score: number }>;
  recentItems: Array<{ itemId: string; event: string; at: string; category?: string }>;
  cart: { items: Array<{ itemId: string; quantity: number; price?: number; addedAt: string }>; value: number };
  context?: LastContext;
  groups: Array<{ groupId: string; traits: Record<string, unknown> }>;
  /** The latest statement per consent category. */
  consent: Record<string, { granted: boolean; at: string; source: ConsentSource }>;
  /** Every distinct consent statement (category, value, source), with when it was first and last made. */
  consentHistory: Array<{ category: string; granted: boolean; source: ConsentSource; firstAt: string; lastAt: string }>;
  /** Other ids merged into this profile (identity resolution), oldest first. */
  linkedIds: Array<{ id: string; scope: MergeScope; at: string }>;
  /** Segments the person is in, with when they entered. */
  segments: Array<{ id: string; since: string }>;
  version: number;
  updatedAt: string;
  expiresAt: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const round = (n: number, digits = 6) => Number(n.toPrecision(digits));

export function toProfileView(record: ProfileRecord, nowMs: number, halfLifeDays: number): ProfileView {
  const p: ProfileState = record.state;
  return {
    profileId: p.profileId,
    ...(p.userId !== undefined ? { userId: p.userId } : {}),
    anonymousIds: Object.entries(p.anonymousIds)
      .sort((a, b) => b[1] - a[1])
      .map(([id]) => id),
    traits: p.traits,
    ...(p.firstSeen !== undefined ? { firstSeen: iso(p.firstSeen) } : {}),
    ...(p.lastSeen !== undefined ? { lastSeen: iso(p.lastSeen) } : {}),
    counts: p.counts,
    events: p.events,
    rfm: {
      ...(p.orders.lastAt !== undefined ? { recencyDays: recencyDays(p.orders.lastAt, nowMs) } : {}),
      frequency: p.orders.count,
      monetary: p.orders.revenueUnits / REVENUE_SCALE,
      ...(p.orders.firstAt !== undefined ? { firstOrderAt: iso(p.orders.firstAt) } : {}),
      ...(p.orders.lastAt !== undefined ? { lastOrderAt: iso(p.orders.lastAt) } : {}),
    },
    affinities: Object.entries(decayedAffinities(p.affinity, nowMs, halfLifeDays))
      .map(([category, score]) => ({ category, score: round(score) }))
      .sort((a, b) => b.score - a.score),
    recentItems: p.recent.map((r) => ({ itemId: r.itemId, event: r.event, at: iso(r.at), ...(r.category ? { category: r.category } : {}) })),
    cart: cartView(p.cart),
    ...(p.context ? { context: p.context.value } : {}),
    groups: Object.entries(p.groups).map(([groupId, g]) => ({ groupId, traits: g.traits })),
    consent: Object.fromEntries(Object.entries(p.consent?.categories ?? {}).map(([category, e]) => [category, { granted: e.granted, at: iso(e.stamp[0]), source: e.source }])),
    consentHistory: auditTrail(p.consent).map((s) => ({ ...s, firstAt: iso(s.firstAt), lastAt: iso(s.lastAt) })),
    linkedIds: (record.linked ?? []).map((l) => ({ id: l.id, scope: l.scope, at: iso(l.at) })),
    segments: Object.entries(record.memberships?.segments ?? {}).map(([id, m]) => ({ id, since: iso(m.since) })),
    version: record.version,
    updatedAt: iso(record.updatedAt),
    expiresAt: iso(record.expiresAt * 1000),
  };
}

/** Whole days since the last order (RFM recency); 0 for an order stamped in the future. */
export function recencyDays(lastOrderAt: number, nowMs: number): number {
  return Math.max(0, Math.floor((nowMs - lastOrderAt) / 86_400_000));
}

/** Category affinities decayed from the time they were last updated (`affinity.at`) to `nowMs`. */
export function decayedAffinities(affinity: ProfileState['affinity'], nowMs: number, halfLifeDays: number): Record<string, number> {
  const decay = 2 ** ((affinity.at - nowMs) / (halfLifeDays * 86_400_000));
  return Object.fromEntries(Object.entries(affinity.scores).map(([category, score]) => [category, score * decay]));
}

/** The cart as lines with a positive quantity, newest addition first, and its value. */
export function cartView(cart: ProfileState['cart']): ProfileView['cart'] {
  const items = cartLines(cart)
    .map(({ itemId, adds, quantity }) => {
      const price = adds.find((a) => a.price !== undefined)?.price;
      return { itemId, quantity, ...(price !== undefined ? { price } : {}), addedAt: iso(adds[0]?.at ?? 0) };
    })
    .sort((a, b) => (a.addedAt < b.addedAt ? 1 : -1));
  return { items, value: round(items.reduce((sum, i) => sum + (i.price ?? 0) * i.quantity, 0), 12) };
}

/** The ids of the items in the cart (lines with a positive quantity), in no particular order. */
export function cartItemIds(cart: ProfileState['cart']): string[] {
  return cartLines(cart).map((line) => line.itemId);
}

/** The cart's lines with a positive quantity, each with its additions since the line or the cart was last cleared. */
function cartLines(cart: ProfileState['cart']): Array<{ itemId: string; adds: CartAdd[]; quantity: number }> {
  return Object.entries(cart.lines).flatMap(([itemId, line]) => {
    const adds = line.adds.filter((a) => a.at > Math.max(line.clearedAt, cart.clearedAt));
    const quantity = adds.reduce((sum, a) => sum + a.quantity, 0);
    return quantity > 0 ? [{ itemId, adds, quantity }] : [];
  });
}
