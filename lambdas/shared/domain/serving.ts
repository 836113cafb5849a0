import { ORDER_COMPLETED } from './commerce';
import { RankedItem } from './model';
import { ProfileState } from './profile';
import { cartView } from './profile-view';
import { Strategy } from './recommend-config';
import { Candidate } from './rules';
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
  const decay = 2 ** ((profile.affinity.at - nowMs) / (affinityHalfLifeDays * 86_400_000));
  return {
    recent: profile.recent,
    affinity: Object.fromEntries(Object.entries(profile.affinity.scores).map(([category, score]) => [category, score * decay])),
    purchased: new Set(profile.recent.filter((r) => r.event === ORDER_COMPLETED).map((r) => r.itemId)),
    inCart: new Set(cartView(profile.cart).items.map((i) => i.itemId)),
  };
}

/** What the second read must fetch for `strategy`: neighbour lists of the recent and context items, and category lists. */
export function listsToFetch(
  signals: PersonalSignals,
  strategy: Strategy,
  request: { contextItemId?: string; category?: string },
): { itemIds: string[]; categories: string[] } {
  const personal = strategy !== 'popular';
  const itemIds = new Set(personal ? signals.recent.map((r) => r.itemId) : []);
  if (request.contextItemId !== undefined) itemIds.add(request.contextItemId);
  return { itemIds: [...itemIds], categories: preferredCategories(signals, strategy, request.category) };
}

function preferredCategories(signals: PersonalSignals, strategy: Strategy, category: string | undefined): string[] {
  const interests = strategy === 'popular' ? [] : topAffinityCategories(signals.affinity, PREFERRED_CATEGORIES);
  return [...new Set([...(category !== undefined ? [category] : []), ...interests])];
}

/** Candidates best first: the hybrid scorer over whatever signals the strategy allows. */
export function rankCandidates(args: {
  signals: PersonalSignals;
  strategy: Strategy;
  nowMs: number;
  weights: ScoringWeights;
  contextItemId?: string;
  category?: string;
  neighbours: ReadonlyMap<string, readonly RankedItem[]>;
  popularity: ScoringInput['popularity'];
}): Candidate[] {
  const personal = args.strategy !== 'popular';
  const input: ScoringInput = {
    now: args.nowMs,
    recent: personal ? args.signals.recent : [],
    affinity: personal ? args.signals.affinity : {},
    ...(args.contextItemId !== undefined ? { contextItemId: args.contextItemId } : {}),
    neighbours: args.neighbours,
    popularity: args.popularity,
    preferredCategories: preferredCategories(args.signals, args.strategy, args.category),
  };
  return scoreItems(input, args.weights);
}
