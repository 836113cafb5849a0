import { INTERACTION_WEIGHTS } from './commerce';
import { RankedItem } from './model';

/**
 * The serving scorer: from one person's signals and the model lists fetched for them to every candidate, best
 * first. Pure, two passes over the lists and one sort: its cost grows with the distinct candidates, about a
 * millisecond for 50 recent items × 50 neighbours plus the popularity lists (~2,500 candidates), several for a
 * full 200-item profile whose neighbourhoods do not overlap (~10,000).
 *
 * 1. Collaborative filtering. Each recent item j is a source with weight
 *      w_j = min(maxItemWeight, Σ over its interactions of eventWeight · 2^(−age / recencyHalfLife)),
 *    so repeated interactions with one item add up (to a cap) instead of expanding its neighbours again. A
 *    candidate's score is cf(i) = Σ_j w_j · neighbour score(j → i): with EASE lists this is the model's own
 *    prediction Σ_j x_uj·B[j,i], truncated to the stored neighbours: positive weights make candidates, negative
 *    ones (EASE's "people who chose j rarely choose i") then lower them. The context item ("more like this") is a
 *    source too, weighted so that its strongest neighbour gets `contextItemWeight` times the most the history
 *    alone can give any candidate: it dominates, and the history reorders its neighbours.
 * 2. Content. Affinity a(i) = the best relative affinity among i's categories (affinity[c] / the top affinity,
 *    so in [0, 1]); a CF candidate scores cf(i) · (1 + affinityBoost · a(i)).
 * 3. Popularity fallback, for candidates CF did not reach (all of them for a cold visitor): trending, then popular
 *    in the preferred categories, then global. Each tier is a band of scores strictly below the previous one, and
 *    all bands lie below the lowest CF score, so the order is the chain order. Within a band, an item ranks by
 *    (1 − s)·p(i) + s·a(i), s = affinityBoost / (1 + affinityBoost), where p(i) is its popularity relative to the
 *    top of its list (each further preferred category's list counts `preferredCategoryDecay` times less): a new
 *    catalog item (popularity 0, at the tail of its category list) still rises above established items of
 *    categories the person does not care for.
 *
 * Items the person already interacted with are scored like any other: the caller's rules decide whether to show
 * them. The result is never empty when any popularity list has an item.
 */

export interface ScoringInput {
  /** Epoch ms. */
  now: number;
  /** The profile's recent item interactions, newest first. */
  recent: ReadonlyArray<{ itemId: string; event: string; at: number; category?: string }>;
  /** Category → affinity score, already decayed to `now`. */
  affinity: Readonly<Record<string, number>>;
  /** The item the person is looking at ("more like this"). */
  contextItemId?: string;
  /** Neighbour lists the model has for the recent items and the context item. */
  neighbours: ReadonlyMap<string, readonly RankedItem[]>;
  /** Popularity lists; `byCategory` holds only the categories fetched. */
  popularity: { trending: readonly RankedItem[]; global: readonly RankedItem[]; byCategory: ReadonlyMap<string, readonly RankedItem[]> };
  /** The requested category and/or the person's top affinity categories, in order of preference. */
  preferredCategories?: readonly string[];
}

export interface ScoringWeights {
  /** An interaction this many hours old counts half as much as one now. */
  recencyHalfLifeHours: number;
  /** Weight of each event type in `recent`; events not listed count 0. */
  eventWeights: Readonly<Record<string, number>>;
  /** Cap on one recent item's summed weight (its interactions add up to this). */
  maxItemWeight: number;
  /**
   * Weight of the context item: its strongest neighbour scores this multiple of the most the history alone can give
   * any candidate (Σ_j w_j · the top score of j's list; 1 with no history), so it leads when this is above
   * 1 + affinityBoost.
   */
  contextItemWeight: number;
  /** Content boost: a score is multiplied by 1 + affinityBoost · a(i), a(i) ∈ [0, 1] (1 for the person's top category). */
  affinityBoost: number;
  /** In the popularity fallback, each further preferred category's list counts this much relative to the one before. */
  preferredCategoryDecay: number;
}

/**
 * Defaults for a live shop. The recency half-life (2 days), the event weights, the cap and the context weight express
 * what a shop's sessions look like; they are not fitted to any dataset (`contextItemWeight` must exceed
 * 1 + `affinityBoost` for the context item to dominate). `affinityBoost` was chosen with
 * `npm run bench:quality -- --tune` on a validation split carved out of MovieLens-100k's training data only: 0.3
 * was best of 0, 0.1, 0.3, 1 and 3 at every recency half-life tried (48 h: 0.2290 against 0.2276 for 1).
 */
export const DEFAULT_SCORING_WEIGHTS: ScoringWeights = {
  recencyHalfLifeHours: 48,
  eventWeights: INTERACTION_WEIGHTS,
  maxItemWeight: 10,
  contextItemWeight: 3,
  affinityBoost: 0.3,
  preferredCategoryDecay: 0.5,
};

/** A scored candidate with the reasons it is there. */
export interface ScoredItem {
  itemId: string;
  score: number;
  categories: string[];
  /**
   * Short machine-readable reasons: `context:<itemId>`, `similar:<itemId>` (the recent item contributing most),
   * `trending`, `popular:<category>`, `popular`, and `affinity:<category>` when the content boost applied.
   */
  reasons: string[];
}

/** Popularity tiers, in fallback order. */
const TRENDING = 0;
const PREFERRED = 1;
const GLOBAL = 2;
const TIERS = 3;
/** Each tier's band is [base + margin, base + 1 − margin) in units of ceiling / TIERS, so bands never touch. */
const BAND_MARGIN = 0.05;

/** What scoring knows about one candidate while collecting. */
interface Candidate {
  itemId: string;
  categories: string[];
  cf: number;
  /** `context:<itemId>` when the context item contributed. */
  context: string | undefined;
  /** `similar:<itemId>` of the recent item contributing most, and its contribution. */
  source: string | undefined;
  sourceScore: number;
  /** Best popularity tier reached (TIERS: none), the within-tier strength in [0, 1] and the tier's reason. */
  tier: number;
  strength: number;
  tierReason: string | undefined;
}

/** Scores every candidate reachable from `input`, best first (ties by itemId). */
export function scoreItems(input: ScoringInput, weights: ScoringWeights = DEFAULT_SCORING_WEIGHTS): ScoredItem[] {
  const candidates = new Map<string, Candidate>();
  const sources: Array<[readonly RankedItem[] | undefined, number]> = [];
  // The most any candidate can get from the history alone: Σ_j w_j · (the strongest score in j's list).
  let historyBound = 0;
  for (const [itemId, w] of sourceWeights(input.recent, input.now, weights)) {
    const list = input.neighbours.get(itemId);
    historyBound += w * topScore(list);
    expand(candidates, list, w, `similar:${itemId}`, false);
    sources.push([list, w]);
  }
  if (input.contextItemId !== undefined) {
    // The context item's strongest neighbour gets contextItemWeight × that bound: with contextItemWeight above
    // 1 + affinityBoost it outranks everything the history alone reaches.
    const list = input.neighbours.get(input.contextItemId);
    const w = (weights.contextItemWeight * (historyBound > 0 ? historyBound : 1)) / (topScore(list) || 1);
    expand(candidates, list, w, `context:${input.contextItemId}`, true);
    sources.push([list, w]);
  }
  // Negative weights only lower candidates the positive ones made (after all of them, so the order of sources
  // does not matter); a candidate that ends at or below 0 is left to the popularity chain.
  for (const [list, w] of sources) lower(candidates, list, w);

  const affinity = relativeAffinity(input.affinity);
  addPopularity(candidates, input, affinity, weights);
  return rank(candidates, affinity, weights);
}

/** Source weight per recent item: recency-weighted event weights, summed per item and capped. */
function sourceWeights(recent: ScoringInput['recent'], now: number, weights: ScoringWeights): Map<string, number> {
  const halfLifeMs = weights.recencyHalfLifeHours * 3_600_000;
  const out = new Map<string, number>();
  for (const r of recent) {
    const eventWeight = Object.hasOwn(weights.eventWeights, r.event) ? weights.eventWeights[r.event] : 0;
    if (!(eventWeight > 0)) continue;
    const w = eventWeight * 2 ** (-Math.max(0, now - r.at) / halfLifeMs);
    out.set(r.itemId, Math.min(weights.maxItemWeight, (out.get(r.itemId) ?? 0) + w));
  }
  return out;
}

/** Adds w × each positive neighbour score to its candidate; `reason` is `similar:<source>` or `context:<source>`. */
function expand(candidates: Map<string, Candidate>, list: readonly RankedItem[] | undefined, w: number, reason: string, isContext: boolean): void {
  if (list === undefined || !(w > 0)) return;
  for (const n of list) {
    const contribution = w * n.score;
    if (!(contribution > 0)) continue;
    const c = candidateOf(candidates, n);
    c.cf += contribution;
    if (isContext) {
      c.context = reason;
    } else if (contribution > c.sourceScore) {
      c.source = reason;
      c.sourceScore = contribution;
    }
  }
}

/** Adds w × each negative neighbour score to the candidates that exist. */
function lower(candidates: Map<string, Candidate>, list: readonly RankedItem[] | undefined, w: number): void {
  if (list === undefined || !(w > 0)) return;
  for (const n of list) {
    if (!(n.score < 0)) continue;
    const c = candidates.get(n.itemId);
    if (c !== undefined) c.cf += w * n.score;
  }
}

/** The highest score in a list (0 for none). */
function topScore(list: readonly RankedItem[] | undefined): number {
  let top = 0;
  for (const r of list ?? []) if (r.score > top) top = r.score;
  return top;
}

function candidateOf(candidates: Map<string, Candidate>, item: RankedItem): Candidate {
  let c = candidates.get(item.itemId);
  if (c === undefined) {
    // Every field set up front: one object shape for all candidates keeps V8's property access fast.
    c = { itemId: item.itemId, categories: item.categories, cf: 0, context: undefined, source: undefined, sourceScore: 0, tier: TIERS, strength: 0, tierReason: undefined };
    candidates.set(item.itemId, c);
  }
  return c;
}

/** Affinity relative to the person's top category, in [0, 1]. */
function relativeAffinity(affinity: Readonly<Record<string, number>>): Map<string, number> {
  const entries = Object.entries(affinity).filter(([, score]) => score > 0 && Number.isFinite(score));
  const top = Math.max(0, ...entries.map(([, score]) => score));
  return new Map(entries.map(([category, score]) => [category, score / top]));
}

/** The category of `categories` the person likes best (undefined when they like none of them). */
function bestCategory(categories: readonly string[], affinity: ReadonlyMap<string, number>): string | undefined {
  let best: string | undefined;
  let value = 0;
  for (const c of categories) {
    const a = affinity.get(c) ?? 0;
    if (a > value) {
      best = c;
      value = a;
    }
  }
  return best;
}

/** a(i): the relative affinity of the best of `categories`, in [0, 1]. */
function affinityOf(categories: readonly string[], affinity: ReadonlyMap<string, number>): number {
  const best = bestCategory(categories, affinity);
  return best === undefined ? 0 : (affinity.get(best) as number);
}

/** Records each popularity list's items (not reached by CF) in their best tier, with their within-tier strength. */
function addPopularity(candidates: Map<string, Candidate>, input: ScoringInput, affinity: ReadonlyMap<string, number>, weights: ScoringWeights): void {
  const boostShare = weights.affinityBoost / (1 + weights.affinityBoost);
  const offer = (list: readonly RankedItem[] | undefined, tier: number, factor: number, reason: string) => {
    const top = topScore(list);
    for (const item of list ?? []) {
      const c = candidateOf(candidates, item);
      if (c.cf > 0 || c.tier < tier) continue;
      const popularity = top > 0 && item.score > 0 ? (item.score / top) * factor : 0;
      // Popularity and affinity are both in [0, 1]; the mix stays in [0, 1].
      const strength = (1 - boostShare) * popularity + boostShare * affinityOf(c.categories, affinity);
      if (c.tier > tier || strength > c.strength) {
        c.tier = tier;
        c.strength = strength;
        c.tierReason = reason;
      }
    }
  };
  offer(input.popularity.trending, TRENDING, 1, 'trending');
  let factor = 1;
  for (const category of new Set(input.preferredCategories ?? [])) {
    offer(input.popularity.byCategory.get(category), PREFERRED, factor, `popular:${category}`);
    factor *= weights.preferredCategoryDecay;
  }
  offer(input.popularity.global, GLOBAL, 1, 'popular');
}

function rank(candidates: Map<string, Candidate>, affinity: ReadonlyMap<string, number>, weights: ScoringWeights): ScoredItem[] {
  const affinityReason = reasonCache('affinity:');
  const withAffinity = (reasons: string[], category: string | undefined) => {
    if (category !== undefined && weights.affinityBoost > 0) reasons.push(affinityReason(category));
    return reasons;
  };
  const scored: ScoredItem[] = [];
  let ceiling = Infinity;
  for (const c of candidates.values()) {
    if (c.cf <= 0) continue;
    const category = bestCategory(c.categories, affinity);
    const score = c.cf * (1 + weights.affinityBoost * (category === undefined ? 0 : (affinity.get(category) as number)));
    ceiling = Math.min(ceiling, score);
    const reasons = c.context !== undefined ? [c.context] : [];
    if (c.source !== undefined) reasons.push(c.source);
    scored.push({ itemId: c.itemId, score, categories: c.categories, reasons: withAffinity(reasons, category) });
  }
  // The fallback bands lie below the weakest CF candidate (or below 1 when there is none).
  const band = (ceiling === Infinity ? 1 : ceiling) / TIERS;
  for (const c of candidates.values()) {
    if (c.cf > 0 || c.tier === TIERS) continue;
    const score = band * (TIERS - 1 - c.tier + BAND_MARGIN + (1 - 2 * BAND_MARGIN) * c.strength);
    const reasons = withAffinity([c.tierReason as string], bestCategory(c.categories, affinity));
    scored.push({ itemId: c.itemId, score, categories: c.categories, reasons });
  }
  return scored.sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
}

/** `prefix + key`, built once per key (thousands of candidates share a few categories). */
function reasonCache(prefix: string): (key: string) => string {
  const strings = new Map<string, string>();
  return (key) => {
    let reason = strings.get(key);
    if (reason === undefined) {
      reason = prefix + key;
      strings.set(key, reason);
    }
    return reason;
  };
}

/** The `n` categories with the highest affinity (ties by name): the category lists serving fetches. */
export function topAffinityCategories(affinity: Readonly<Record<string, number>>, n: number): string[] {
  return Object.entries(affinity)
    .filter(([, score]) => score > 0 && Number.isFinite(score))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, Math.max(0, n))
    .map(([category]) => category);
}
