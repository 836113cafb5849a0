import { z } from 'zod';
import { normalizeCategory } from './commerce';
import { LIMITS } from './event-schema';

/**
 * Business rules applied after scoring: what must never be shown, what the business wants higher or lower,
 * and how varied the list must be. Defined in the deployment config (`recommendations.rules`), overridable
 * per experiment variant.
 */

const category = z.string().transform((value, ctx) => {
  const normalized = normalizeCategory(value);
  if (normalized === undefined) ctx.addIssue({ code: 'custom', message: `"${value}" is not a valid category (1-100 characters)` });
  return normalized ?? '';
});
const itemId = z.string().trim().min(1).max(LIMITS.maxIdLength);

const selectorFields = { itemId: itemId.optional(), category: category.optional() };
const oneTarget = (s: { itemId?: string; category?: string }) => (s.itemId === undefined) !== (s.category === undefined);
const ONE_TARGET = 'give exactly one of itemId or category';
/** Selects items by id or by category (exactly one). */
const Selector = z.object(selectorFields).strict().refine(oneTarget, ONE_TARGET);
const Boost = z
  .object({ ...selectorFields, factor: z.number().positive().max(1000) })
  .strict()
  .refine(oneTarget, ONE_TARGET);

export const RulesSchema = z
  .object({
    /** Leave out items the person has bought (from the profile's recent interactions). */
    excludePurchased: z.boolean(),
    /** Leave out items in the person's cart. */
    excludeInCart: z.boolean(),
    /** Only recommend items in one of these categories (empty: any). A request's `category` narrows further. */
    includeCategories: z.array(category).max(100),
    /** Never recommend items in these categories. */
    excludeCategories: z.array(category).max(100),
    /** Items placed at a fixed 1-based position whatever their score (if available and not excluded). */
    pins: z.array(z.object({ itemId, position: z.number().int().min(1).max(100) }).strict()).max(20),
    /** Score multipliers (> 1 lifts, < 1 lowers) for an item or a category. */
    boosts: z.array(Boost).max(100),
    /** Items or categories shown only after everything else. */
    burials: z.array(Selector).max(100),
    /** At most this many items per category in one list (0: no cap); items over the cap only fill an otherwise short list. */
    maxPerCategory: z.number().int().min(0).max(100),
  })
  .strict();

export type Rules = z.infer<typeof RulesSchema>;

export const DEFAULT_RULES: Rules = {
  excludePurchased: true,
  excludeInCart: true,
  includeCategories: [],
  excludeCategories: [],
  pins: [],
  boosts: [],
  burials: [],
  maxPerCategory: 0,
};

/** A scored candidate as rules see it. */
export interface Candidate {
  itemId: string;
  score: number;
  categories: string[];
  reasons: string[];
}

/** Per-request facts the rules need. */
export interface RuleContext {
  limit: number;
  /** Items that must not be shown: unavailable or deleted in the catalog. */
  unavailable: ReadonlySet<string>;
  /** The request's `exclude` list and its context item. */
  excluded: ReadonlySet<string>;
  purchased: ReadonlySet<string>;
  inCart: ReadonlySet<string>;
  /** The request's `category` filter, normalized. */
  category?: string;
}

/**
 * Applies `rules` to candidates sorted best first and returns at most `limit` items:
 * hard filters (unavailable, excluded, purchased, in cart, category filters) → pins set aside → boosts →
 * burials → diversity cap (pins count against it) → pins placed at their positions. Items with unknown
 * categories pass category exclusions but not a category filter.
 */
export function applyRules(candidates: readonly Candidate[], rules: Rules, ctx: RuleContext): Candidate[] {
  const allowed = candidates.filter((c) => isAllowed(c.itemId, c.categories, rules, ctx));
  const pins = pinnedItems(candidates, rules, ctx);
  const pinnedIds = new Set(pins.map((p) => p.item.itemId));
  // Only pins within the list take places from (and count against the cap of) the ranked items.
  const shownPins = pins.filter((p) => p.position <= ctx.limit).map((p) => p.item);
  const unpinned = allowed.filter((c) => !pinnedIds.has(c.itemId));
  // Candidates arrive best first: only boosts can change their order.
  const boosted = rules.boosts.length > 0 ? unpinned.map((c) => boost(c, rules)).sort(byScore) : unpinned;
  const ranked = rules.burials.length > 0 ? buryLast(boosted, rules) : boosted;
  // Pinned items count against the diversity cap like any other.
  const diverse = capPerCategory(ranked, rules.maxPerCategory, ctx.limit - shownPins.length, shownPins);
  for (const pin of pins) diverse.splice(Math.min(pin.position - 1, diverse.length), 0, pin.item);
  return diverse.slice(0, ctx.limit);
}

function buryLast(ranked: Candidate[], rules: Rules): Candidate[] {
  const buried = (c: Candidate) => rules.burials.some((s) => selects(s, c));
  return [...ranked.filter((c) => !buried(c)), ...ranked.filter(buried).map((c) => ({ ...c, reasons: [...c.reasons, 'buried'] }))];
}

function isAllowed(itemId: string, categories: readonly string[], rules: Rules, ctx: RuleContext): boolean {
  if (ctx.unavailable.has(itemId) || ctx.excluded.has(itemId)) return false;
  if (rules.excludePurchased && ctx.purchased.has(itemId)) return false;
  if (rules.excludeInCart && ctx.inCart.has(itemId)) return false;
  if (categories.some((c) => rules.excludeCategories.includes(c))) return false;
  if (rules.includeCategories.length > 0 && !categories.some((c) => rules.includeCategories.includes(c))) return false;
  return ctx.category === undefined || categories.includes(ctx.category);
}

function selects(selector: { itemId?: string; category?: string }, c: Candidate): boolean {
  return selector.itemId !== undefined ? selector.itemId === c.itemId : c.categories.includes(selector.category as string);
}

function boost(c: Candidate, rules: Rules): Candidate {
  const factors = rules.boosts.filter((b) => selects(b, c)).map((b) => b.factor);
  if (factors.length === 0) return c;
  const factor = factors.reduce((a, b) => a * b, 1);
  return { ...c, score: c.score * factor, reasons: [...c.reasons, factor >= 1 ? 'boosted' : 'lowered'] };
}

/**
 * Keeps at most `max` items per category (an item counts against each of its categories); the items held back
 * fill the end of the list only when there are not enough others, so the cap never empties a list.
 */
function capPerCategory(ranked: Candidate[], max: number, limit: number, alreadyShown: readonly Candidate[]): Candidate[] {
  if (max === 0) return ranked;
  const counts = new Map<string, number>();
  for (const c of alreadyShown) for (const cat of c.categories) counts.set(cat, (counts.get(cat) ?? 0) + 1);
  const kept: Candidate[] = [];
  const held: Candidate[] = [];
  for (const c of ranked) {
    if (kept.length >= limit) break;
    if (c.categories.some((cat) => (counts.get(cat) ?? 0) >= max)) {
      held.push(c);
      continue;
    }
    for (const cat of c.categories) counts.set(cat, (counts.get(cat) ?? 0) + 1);
    kept.push(c);
  }
  return [...kept, ...held];
}

/**
 * The pinned items to show, by position. A pin passes the same filters as any item; one the scorer did not
 * produce has unknown categories, so it is left out when a category filter applies.
 */
function pinnedItems(candidates: readonly Candidate[], rules: Rules, ctx: RuleContext): Array<{ position: number; item: Candidate }> {
  if (rules.pins.length === 0) return [];
  // Pins take their score and categories from the candidate of the same id, when the scorer produced one.
  const known = new Map(candidates.map((c) => [c.itemId, c]));
  const seen = new Set<string>();
  return rules.pins
    .filter((p) => !seen.has(p.itemId) && seen.add(p.itemId) && isAllowed(p.itemId, known.get(p.itemId)?.categories ?? [], rules, ctx))
    .sort((a, b) => a.position - b.position)
    .map((p) => {
      const found = known.get(p.itemId);
      return {
        position: p.position,
        item: { itemId: p.itemId, score: found?.score ?? 0, categories: found?.categories ?? [], reasons: [...(found?.reasons ?? []), 'pinned'] },
      };
    });
}

const byScore = (a: Candidate, b: Candidate) => b.score - a.score || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0);
