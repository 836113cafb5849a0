/**
 * The recommendation model as training produces it and serving reads it. Pure data: the training module
 * (`training.ts`) builds a `TrainedModel` from interactions; the model store writes it as one version in
 * the items table; the recommend function reads back only the parts one request needs.
 */

/** One user-item interaction, as the training input (from the lake, the local event log or a dataset). */
export interface Interaction {
  /** Who interacted: a profile id, a user id or a session id; only equality matters. */
  subject: string;
  itemId: string;
  /** Segment event name, e.g. `Product Viewed`; its weight comes from `INTERACTION_WEIGHTS` unless `weight` is given. */
  event: string;
  /** Epoch ms. */
  at: number;
  /** Categories of the item as the event described it (used when the catalog does not know the item). */
  categories?: string[];
  /** Explicit strength of the signal (e.g. a rating); overrides the event's weight. */
  weight?: number;
  /**
   * How many identical interactions this row stands for (an aggregate, as the lake's aggregate query returns
   * them): the weight and the category counts are multiplied by it, and `at` is the latest of them. @default 1
   */
  count?: number;
}

/** An item with a score and its categories, as neighbour lists and popularity lists hold them. */
export interface RankedItem {
  itemId: string;
  score: number;
  /** Normalized categories (see `normalizeCategory`); empty when unknown. */
  categories: string[];
}

export interface PopularityLists {
  /** Most interacted-with items overall (weighted). */
  global: RankedItem[];
  /** Items whose weighted interactions in the recent window are highest. */
  trending: RankedItem[];
  /** Most popular items per category. */
  byCategory: Map<string, RankedItem[]>;
}

export interface TrainedModel {
  /** Which algorithm produced the neighbours, e.g. `ease` or `cooccurrence`. */
  algorithm: string;
  trainedAt: number;
  stats: { interactions: number; subjects: number; items: number; modelItems: number };
  /** Top-K neighbours per item, strongest first, already truncated to what is stored and served. */
  neighbours: Map<string, RankedItem[]>;
  popularity: PopularityLists;
}

/**
 * The lists of `model` that serving reads for `itemIds` and `categories`, as the model store returns them: lists
 * of unknown items or categories are absent, and so are empty neighbour lists (the store does not write them).
 */
export function listsFor(
  model: TrainedModel,
  itemIds: readonly string[],
  categories: readonly string[],
): { neighbours: Map<string, RankedItem[]>; byCategory: Map<string, RankedItem[]> } {
  const result = { neighbours: new Map<string, RankedItem[]>(), byCategory: new Map<string, RankedItem[]>() };
  for (const id of itemIds) {
    const list = model.neighbours.get(id);
    if (list && list.length > 0) result.neighbours.set(id, list);
  }
  for (const category of categories) {
    const list = model.popularity.byCategory.get(category);
    if (list) result.byCategory.set(category, list);
  }
  return result;
}
