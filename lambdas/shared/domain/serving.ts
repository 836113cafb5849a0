import { ORDER_COMPLETED } from './commerce';
import { RankedItem } from './model';
import { ProfileState } from './profile';
import { cartItemIds, decayedAffinities } from './profile-view';
import { Strategy } from './recommend-config';
import { Candidate, RuleContext } from './rules';
import { ScoringInput, ScoringWeights, scoreItems, topAffinityCategories } from './scoring';

/**
 * From a profile and the model lists to ranked candidates: the pure part of `GET /v1/recommendations`,
 * shared by the function, the benchmarks and the tests.
 */

/** The person's signals as serving reads them from the profile (all empty for an unknown visitor). */
export interface PersonalSignals {
  recent: ProfileState['recent'];
  /** Category affinities decayed to now. */
  affinity: Record<string, number>;
  purchased: Set<string>;
  inCart: Set<string>;
}

/** Category lists fetched per request: the requested category first, then the person's strongest interests. */
export const PREFERRED_CATEGORIES = 3;

export function signalsOf(profile: ProfileState | undefined, nowMs: number, affinityHalfLifeDays: number): PersonalSignals {
  if (!profile) return { recent: [], affinity: {}, purchased: new Set(), inCart: new Set() };
  return {
    recent: profile.recent,
    affinity: decayedAffinities(profile.affinity, nowMs, affinityHalfLifeDays),
    purchased: new Set(profile.recent.filter((r) => r.event === ORDER_COMPLETED).map((r) => r.itemId)),
    inCart: new Set(cartItemIds(profile.cart)),
  };
}

/** What serving reads from a request: the context item, the category filter, the ids to leave out. */
export interface ServingRequest {
  limit: number;
  itemId?: string;
  category?: string;
  exclude: readonly string[];
}

/** What the second read must fetch for `strategy`: neighbour lists of the recent and context items, and category lists. */
export function listsToFetch(signals: PersonalSignals, strategy: Strategy, request: Pick<ServingRequest, 'itemId' | 'category'>): { itemIds: string[]; categories: string[] } {
  const personal = strategy !== 'popular';
  const itemIds = new Set(personal ? signals.recent.map((r) => r.itemId) : []);
  if (request.itemId !== undefined) itemIds.add(request.itemId);
  return { itemIds: [...itemIds], categories: preferredCategories(signals, strategy, request.category) };
}

function preferredCategories(signals: PersonalSignals, strategy: Strategy, category: string | undefined): string[] {
  const interests = strategy === 'popular' ? [] : topAffinityCategories(signals.affinity, PREFERRED_CATEGORIES);
  return [...new Set([...(category !== undefined ? [category] : []), ...interests])];
}

/**
 * The built-in strategies' candidates, best first, from what the two reads returned: the hybrid scorer over the
 * signals the strategy allows, then (before any model exists) the newest catalog items, so the list is not empty.
 * `preferredCategories` are the categories `listsToFetch` returned for the same signals, strategy and request.
 */
export function builtInCandidates(args: {
  request: ServingRequest;
  signals: PersonalSignals;
  strategy: Strategy;
  preferredCategories: readonly string[];
  weights: ScoringWeights;
  nowMs: number;
  neighbours: ReadonlyMap<string, readonly RankedItem[]>;
  popularity: ScoringInput['popularity'];
  catalogFallback: readonly RankedItem[];
}): Candidate[] {
  const { request, signals, strategy } = args;
  const personal = strategy !== 'popular';
  const candidates = scoreItems(
    {
      now: args.nowMs,
      recent: personal ? signals.recent : [],
      affinity: personal ? signals.affinity : {},
      ...(request.itemId !== undefined ? { contextItemId: request.itemId } : {}),
      neighbours: args.neighbours,
      popularity: args.popularity,
      preferredCategories: args.preferredCategories,
    },
    args.weights,
  );
  if (args.catalogFallback.length === 0) return candidates;
  const seen = new Set(candidates.map((c) => c.itemId));
  const catalog = args.catalogFallback.filter((i) => !seen.has(i.itemId)).map((i) => ({ ...i, reasons: ['new'] }));
  return [...candidates, ...catalog];
}

/** The per-request facts the rules apply: the request's filters and the person's purchases and cart. */
export function ruleContextOf(request: ServingRequest, signals: PersonalSignals, unavailable: ReadonlySet<string>): RuleContext {
  return {
    limit: request.limit,
    unavailable,
    excluded: new Set([...request.exclude, ...(request.itemId !== undefined ? [request.itemId] : [])]),
    purchased: signals.purchased,
    inCart: signals.inCart,
    ...(request.category !== undefined ? { category: request.category } : {}),
  };
}
