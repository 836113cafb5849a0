import { CATALOG_LIMITS } from './catalog';
import { INTERACTION_WEIGHTS, normalizeCategory } from './commerce';
import { Interaction, PopularityLists, RankedItem, TrainedModel } from './model';

/**
 * Training of the recommendation model: item-to-item neighbours and popularity lists from interactions. Pure,
 * synchronous and deterministic (the same interactions in any order give the same model, up to floating-point
 * rounding of non-integer weights); no AWS imports, so the scheduled job, the local runtime, the benchmark and
 * the tests all run exactly this code.
 *
 * The user-item matrix X holds one value per (subject, item): the subject's interactions with the item summed by
 * weight and capped (`maxPairWeight`), so ten views do not outweigh a purchase by much and one busy subject cannot
 * dominate an item. Two ways to turn X into neighbour lists:
 * - `cooccurrence`: cosine similarity of item columns, sim(i, j) = Σ_u x_ui·x_uj / (‖x_i‖·‖x_j‖). Cost
 *   O(Σ_u n_u²) time for n_u items per subject (bounded by `maxItemsPerSubject`) and O(items) scratch memory.
 * - `ease`: EASE (H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019): the item-item
 *   weights B minimizing ‖X − XB‖² + λ‖B‖² with diag(B) = 0, in closed form
 *   P = (XᵀX + λI)⁻¹,  B = I − P·diag(1/diag(P)),  i.e. B[j,i] = −P[j,i] / P[i,i] for i ≠ j.
 *   A subject's score for item i is Σ_j x_uj·B[j,i], so the neighbours of j are the strongest positive entries of
 *   row j. Only the `maxEaseItems` most frequent items take part: the Gram matrix is dense, so EASE costs
 *   8·N² bytes (72 MB for N = 3000; the inversion works in place) and about N³/2 multiply-adds (a few seconds
 *   for N = 1,700, ~15-30 s for N = 3000 on one core). Items outside that set keep co-occurrence neighbours,
 *   rescaled to EASE's range (see `calibrate`).
 */

export type TrainingAlgorithm = 'ease' | 'cooccurrence';

export interface TrainingOptions {
  /** How neighbours are computed. */
  algorithm: TrainingAlgorithm;
  /** Neighbours kept per item (K): what is stored and served (Infinity keeps every positive one, for analysis). */
  neighbours: number;
  /**
   * EASE only: besides the `neighbours` strongest positive weights, keep this many of the most negative ones. A
   * negative weight cannot make an item a candidate, but it lowers candidates that other lists reached ("people who
   * watched j rarely want i"), which is part of what EASE learned.
   */
  negativeNeighbours: number;
  /** EASE runs on at most this many items, the most frequent ones (memory 8·N² bytes, time O(N³)). */
  maxEaseItems: number;
  /** EASE's L2 regularization λ, in units of X's squared values (X holds summed event weights, see `maxPairWeight`). */
  easeLambda: number;
  /** Cap on one subject's summed weight for one item. */
  maxPairWeight: number;
  /** Neighbour computation uses at most this many items per subject (its strongest, then most recent); bounds O(Σ n_u²). */
  maxItemsPerSubject: number;
  /** Trending counts interactions in this many days before the newest interaction. */
  trendingWindowDays: number;
  /** Length of the global popularity list. */
  globalSize: number;
  /** Length of the trending list. */
  trendingSize: number;
  /** Length of each category's popularity list. */
  categorySize: number;
  /** Slots at the tail of each category list kept for catalog items nobody has interacted with yet (newest first). */
  newItemsPerCategory: number;
  /** Clock for `trainedAt`. */
  clock: () => number;
}

/**
 * Defaults. `algorithm`, `easeLambda` and `negativeNeighbours` were chosen with `npm run bench:quality -- --tune`,
 * on a validation split carved out of MovieLens-100k's training data only (never its test split), with the
 * profile's 200-item window: EASE beat co-occurrence everywhere (validation nDCG@10 0.2599 against 0.2246), and
 * λ = 800 with 100 negative weights was the best of λ ∈ {200 … 3200} × negatives ∈ {0, 50, 100} (λ = 800 without
 * negatives: 0.2548; λ = 1600: 0.2570). λ is in units of X's squared values (there, one view per rating, so X is
 * 0/1); a shop whose X mixes views (1) and purchases (5) may want it re-tuned on its own data. K = 50 positive plus
 * 100 negative weights bound the items table and the serving read (about 4 KB per row with short ids).
 */
export const DEFAULT_TRAINING_OPTIONS: TrainingOptions = {
  algorithm: 'ease',
  neighbours: 50,
  negativeNeighbours: 100,
  maxEaseItems: 3000,
  easeLambda: 800,
  maxPairWeight: 10,
  maxItemsPerSubject: 1000,
  trendingWindowDays: 7,
  globalSize: 200,
  trendingSize: 200,
  categorySize: 100,
  newItemsPerCategory: 20,
  clock: Date.now,
};

const DAY_MS = 86_400_000;

/** Interactions aggregated per (subject, item), both indexed in sorted id order. */
interface Matrix {
  itemIds: string[];
  subjects: number;
  interactions: number;
  /** Compressed rows by subject: items of subject s are `items[rowStart[s] .. rowStart[s + 1])`, ascending. */
  rowStart: Int32Array;
  items: Int32Array;
  values: Float64Array;
  /** Latest interaction time per entry (to choose which items of a very busy subject to keep). */
  lastAt: Float64Array;
  /** Summed capped weight per item over all subjects, and over the trending window only. */
  globalScore: Float64Array;
  trendingScore: Float64Array;
  /** Categories seen on each item's events, by count. */
  eventCategories: Array<Map<string, number>>;
}

/** Compressed columns: the subjects of item i are `subjects[colStart[i] .. colStart[i + 1])`. */
interface Columns {
  colStart: Int32Array;
  subjects: Int32Array;
  values: Float64Array;
}

/**
 * Trains the model: neighbours per item and popularity lists.
 *
 * @param interactions each interaction's weight is `weight` when given, else `INTERACTION_WEIGHTS[event]`, times its
 *   `count` (an aggregate row stands for `count` interactions); interactions with an unknown event, or a weight that
 *   is not positive, are ignored.
 * @param catalog item categories (normalized here) and creation times. An item in the catalog takes the catalog's
 *   categories, one only seen in events takes the categories its events named. Catalog items nobody interacted
 *   with are appended at the tail of their categories' lists, newest first, so new items can surface through
 *   category affinity.
 */
export function trainModel(
  interactions: Iterable<Interaction>,
  options: Partial<TrainingOptions> = {},
  catalog: ReadonlyMap<string, { categories: string[]; createdAt?: number }> = new Map(),
): TrainedModel {
  const opts: TrainingOptions = { ...DEFAULT_TRAINING_OPTIONS, ...options };
  const matrix = buildMatrix(interactions, opts);
  const categoriesOf = categoryLookup(matrix, catalog);
  const neighbourScores = computeNeighbours(boundSubjects(matrix, opts.maxItemsPerSubject), matrix.itemIds.length, opts);

  const neighbours = new Map<string, RankedItem[]>();
  neighbourScores.forEach((list, item) => {
    if (list.length > 0) neighbours.set(matrix.itemIds[item], list.map(([j, score]) => ranked(matrix.itemIds[j], score, categoriesOf)));
  });

  return {
    algorithm: opts.algorithm,
    trainedAt: opts.clock(),
    stats: { interactions: matrix.interactions, subjects: matrix.subjects, items: matrix.itemIds.length, modelItems: neighbours.size },
    neighbours,
    popularity: popularityLists(matrix, categoriesOf, catalog, opts),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The interaction matrix

/** The usable interactions as read, one entry per interaction, with subjects and items indexed on first sight. */
interface RawInteractions {
  subjectIndex: Map<string, number>;
  itemIndex: Map<string, number>;
  subject: number[];
  item: number[];
  weight: number[];
  at: number[];
  /** Per item index: categories its events named, with counts. */
  categoryCounts: Array<Map<string, number>>;
  newest: number;
  /** Interactions read, aggregates counted by their `count`. */
  total: number;
}

/** Reads the interactions once (the input may be a one-shot stream), keeping those with a positive weight. */
function readInteractions(interactions: Iterable<Interaction>): RawInteractions {
  const raw: RawInteractions = {
    subjectIndex: new Map(),
    itemIndex: new Map(),
    subject: [],
    item: [],
    weight: [],
    at: [],
    categoryCounts: [],
    newest: -Infinity,
    total: 0,
  };
  for (const x of interactions) {
    const w = x.weight ?? (Object.hasOwn(INTERACTION_WEIGHTS, x.event) ? INTERACTION_WEIGHTS[x.event] : undefined);
    const count = x.count ?? 1;
    if (w === undefined || !(w > 0) || !Number.isFinite(w) || !Number.isFinite(x.at) || !(count > 0) || !Number.isFinite(count)) continue;
    const i = indexOf(raw.itemIndex, x.itemId);
    if (i === raw.categoryCounts.length) raw.categoryCounts.push(new Map());
    for (const value of x.categories ?? []) {
      const c = normalizeCategory(value);
      if (c !== undefined) raw.categoryCounts[i].set(c, (raw.categoryCounts[i].get(c) ?? 0) + count);
    }
    raw.subject.push(indexOf(raw.subjectIndex, x.subject));
    raw.item.push(i);
    raw.weight.push(w * count);
    raw.at.push(x.at);
    raw.newest = Math.max(raw.newest, x.at);
    raw.total += count;
  }
  return raw;
}

/**
 * One matrix entry per (subject, item): the summed weight, capped. Subjects and items are re-indexed in sorted id
 * order, so the result does not depend on the input order.
 */
function buildMatrix(interactions: Iterable<Interaction>, opts: TrainingOptions): Matrix {
  const raw = readInteractions(interactions);
  const subjectRank = sortedRanks(raw.subjectIndex);
  const itemRank = sortedRanks(raw.itemIndex);
  const itemIds = new Array<string>(raw.itemIndex.size);
  for (const [id, i] of raw.itemIndex) itemIds[itemRank[i]] = id;
  const eventCategories = new Array<Map<string, number>>(itemIds.length);
  raw.categoryCounts.forEach((counts, i) => (eventCategories[itemRank[i]] = counts));

  const s = raw.subject.map((x) => subjectRank[x]);
  const it = raw.item.map((x) => itemRank[x]);
  const { weight, at } = raw;
  const order = Array.from(s.keys()).sort((a, b) => s[a] - s[b] || it[a] - it[b] || at[a] - at[b] || weight[a] - weight[b]);

  const trendingFrom = raw.newest - opts.trendingWindowDays * DAY_MS;
  const globalScore = new Float64Array(itemIds.length);
  const trendingScore = new Float64Array(itemIds.length);
  const rowStart = new Int32Array(raw.subjectIndex.size + 1);
  const items: number[] = [];
  const values: number[] = [];
  const lastAt: number[] = [];
  for (let k = 0; k < order.length; ) {
    const subject = s[order[k]];
    const i = it[order[k]];
    let sum = 0;
    let trending = 0;
    let last = -Infinity;
    for (; k < order.length && s[order[k]] === subject && it[order[k]] === i; k++) {
      const e = order[k];
      sum += weight[e];
      if (at[e] >= trendingFrom) trending += weight[e];
      last = Math.max(last, at[e]);
    }
    const value = Math.min(sum, opts.maxPairWeight);
    globalScore[i] += value;
    trendingScore[i] += Math.min(trending, opts.maxPairWeight);
    items.push(i);
    values.push(value);
    lastAt.push(last);
    rowStart[subject + 1] = items.length;
  }
  return {
    itemIds,
    subjects: raw.subjectIndex.size,
    interactions: raw.total,
    rowStart,
    items: Int32Array.from(items),
    values: Float64Array.from(values),
    lastAt: Float64Array.from(lastAt),
    globalScore,
    trendingScore,
    eventCategories,
  };
}

function indexOf(index: Map<string, number>, key: string): number {
  let i = index.get(key);
  if (i === undefined) {
    i = index.size;
    index.set(key, i);
  }
  return i;
}

/** rank[i] = position of the key with index i in sorted key order. */
function sortedRanks(index: Map<string, number>): Int32Array {
  const keys = [...index.keys()].sort();
  const rank = new Int32Array(keys.length);
  keys.forEach((key, r) => (rank[index.get(key) as number] = r));
  return rank;
}

/**
 * The matrix with at most `max` items per subject: a subject's strongest items, then its most recent. Bounds the
 * Σ n_u² cost of neighbour computation (one crawler or shared account would otherwise dominate it).
 */
function boundSubjects(m: Matrix, max: number): Matrix {
  let needed = false;
  for (let s = 0; s < m.subjects && !needed; s++) needed = m.rowStart[s + 1] - m.rowStart[s] > max;
  if (!needed) return m;
  const rowStart = new Int32Array(m.subjects + 1);
  const items: number[] = [];
  const values: number[] = [];
  for (let s = 0; s < m.subjects; s++) {
    const entries = range(m.rowStart[s], m.rowStart[s + 1]);
    if (entries.length > max) {
      entries.sort((a, b) => m.values[b] - m.values[a] || m.lastAt[b] - m.lastAt[a] || m.items[a] - m.items[b]);
      entries.length = max;
      entries.sort((a, b) => a - b);
    }
    for (const e of entries) {
      items.push(m.items[e]);
      values.push(m.values[e]);
    }
    rowStart[s + 1] = items.length;
  }
  return { ...m, rowStart, items: Int32Array.from(items), values: Float64Array.from(values) };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, k) => from + k);
}

/** The transpose of the subject rows. */
function columns(m: Matrix, itemCount: number): Columns {
  const colStart = new Int32Array(itemCount + 1);
  for (let e = 0; e < m.items.length; e++) colStart[m.items[e] + 1] += 1;
  for (let i = 0; i < itemCount; i++) colStart[i + 1] += colStart[i];
  const fill = colStart.slice(0, itemCount);
  const subjects = new Int32Array(m.items.length);
  const values = new Float64Array(m.items.length);
  for (let s = 0; s < m.subjects; s++) {
    for (let e = m.rowStart[s]; e < m.rowStart[s + 1]; e++) {
      const slot = fill[m.items[e]]++;
      subjects[slot] = s;
      values[slot] = m.values[e];
    }
  }
  return { colStart, subjects, values };
}

// ---------------------------------------------------------------------------------------------------------------
// Neighbours

/** A neighbour list as item indices and scores, strongest first (ties: lower index, i.e. smaller itemId, first). */
type IndexedList = Array<[number, number]>;

function computeNeighbours(m: Matrix, itemCount: number, opts: TrainingOptions): IndexedList[] {
  const cols = columns(m, itemCount);
  const cooccurrence = cosineNeighbours(m, cols, itemCount, opts.neighbours);
  if (opts.algorithm === 'cooccurrence') return cooccurrence;

  const easeItems = mostFrequentItems(cols, itemCount, opts.maxEaseItems);
  const ease = easeNeighbours(m, easeItems, opts.easeLambda, opts.neighbours, opts.negativeNeighbours);
  const scale = calibrate(ease, cooccurrence);
  return cooccurrence.map((list, i) => {
    const fromEase = ease.get(i);
    // A list is used when it has a candidate to offer (positives come first).
    return fromEase !== undefined && fromEase.length > 0 && fromEase[0][1] > 0 ? fromEase : list.map(([j, score]): [number, number] => [j, score * scale]);
  });
}

/**
 * Cosine similarity of item columns, top `k` per item. For each item i, the co-occurrence counts Σ_u x_ui·x_uj are
 * accumulated in a dense scratch row over the subjects of i and their items: O(Σ_u n_u²) in all.
 */
function cosineNeighbours(m: Matrix, cols: Columns, itemCount: number, k: number): IndexedList[] {
  const norm = new Float64Array(itemCount);
  for (let e = 0; e < m.items.length; e++) norm[m.items[e]] += m.values[e] * m.values[e];
  for (let i = 0; i < itemCount; i++) norm[i] = Math.sqrt(norm[i]);

  const acc = new Float64Array(itemCount);
  const touched: number[] = [];
  const lists: IndexedList[] = [];
  for (let i = 0; i < itemCount; i++) {
    for (let c = cols.colStart[i]; c < cols.colStart[i + 1]; c++) {
      const s = cols.subjects[c];
      const xi = cols.values[c];
      for (let e = m.rowStart[s]; e < m.rowStart[s + 1]; e++) {
        const j = m.items[e];
        if (j === i) continue;
        if (acc[j] === 0) touched.push(j);
        acc[j] += xi * m.values[e];
      }
    }
    const best = new TopK(k, strongerFirst);
    for (const j of touched) {
      best.offer(j, acc[j] / (norm[i] * norm[j]));
      acc[j] = 0;
    }
    touched.length = 0;
    lists.push(best.sorted());
  }
  return lists;
}

/** Indices of the `max` items with the most subjects (ties: smaller itemId), ascending. */
function mostFrequentItems(cols: Columns, itemCount: number, max: number): number[] {
  const all = range(0, itemCount).filter((i) => cols.colStart[i + 1] > cols.colStart[i]);
  if (all.length <= max) return all;
  const count = (i: number) => cols.colStart[i + 1] - cols.colStart[i];
  return all
    .sort((a, b) => count(b) - count(a) || a - b)
    .slice(0, max)
    .sort((a, b) => a - b);
}

/** EASE neighbours of the items in `easeItems` (item index → list), see the module comment. */
function easeNeighbours(m: Matrix, easeItems: readonly number[], lambda: number, k: number, negatives: number): Map<number, IndexedList> {
  const n = easeItems.length;
  const local = new Map(easeItems.map((item, a) => [item, a]));
  const p = gramMatrix(m, local, n);
  for (let a = 0; a < n; a++) p[a * n + a] += lambda;
  invertSpd(p, n);

  const result = new Map<number, IndexedList>();
  for (let j = 0; j < n; j++) {
    const row = j * n;
    const positive = new TopK(k, strongerFirst);
    const negative = new TopK(negatives, mostNegativeFirst);
    for (let i = 0; i < n; i++) {
      // B[j,i] = −P[j,i] / P[i,i].
      const b = i === j ? 0 : -p[row + i] / p[i * n + i];
      if (b > 0) positive.offer(easeItems[i], b);
      else if (b < 0) negative.offer(easeItems[i], b);
    }
    // Strongest positive first, then the most negative (most negative first).
    result.set(easeItems[j], [...positive.sorted(), ...negative.sorted()]);
  }
  return result;
}

/** XᵀX over the items in `local` (item index → row of the n×n result), row-major. */
function gramMatrix(m: Matrix, local: ReadonlyMap<number, number>, n: number): Float64Array {
  const g = new Float64Array(n * n);
  const idx: number[] = [];
  const val: number[] = [];
  for (let s = 0; s < m.subjects; s++) {
    idx.length = 0;
    val.length = 0;
    for (let e = m.rowStart[s]; e < m.rowStart[s + 1]; e++) {
      const a = local.get(m.items[e]);
      if (a === undefined) continue;
      idx.push(a);
      val.push(m.values[e]);
    }
    for (let x = 0; x < idx.length; x++) {
      const row = idx[x] * n;
      const vx = val[x];
      for (let y = 0; y < idx.length; y++) g[row + idx[y]] += vx * val[y];
    }
  }
  return g;
}

/**
 * Inverts a symmetric positive definite n×n matrix (row-major) in place, through its Cholesky factor:
 * A = L·Lᵀ, M = L⁻¹, A⁻¹ = Mᵀ·M. Each phase costs about n³/6 multiply-adds (n³/2 in all, half of Gauss-Jordan),
 * every inner loop runs over a contiguous row, and the only extra memory is one row. Throws when A is not
 * positive definite (a non-positive pivot), which for EASE means λ ≤ 0.
 */
export function invertSpd(a: Float64Array, n: number): void {
  if (a.length !== n * n) throw new RangeError(`expected ${n}×${n} values, got ${a.length}`);
  choleskyInPlace(a, n);
  const row = new Float64Array(n);
  invertLowerInPlace(a, n, row);
  lowerGramInPlace(a, n, row);
  // Mirror the lower triangle into the upper one.
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[j * n + i] = a[i * n + j];
}

/** L in the lower triangle (diagonal included) of `a`, row by row: L[i,j] = (A[i,j] − Σ_{k<j} L[i,k]·L[j,k]) / L[j,j]. */
function choleskyInPlace(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      const s = a[ri + j] - dot(a, ri, rj, j);
      if (j < i) {
        a[ri + j] = s / a[rj + j];
      } else {
        if (!(s > 0)) throw new RangeError(`matrix is not positive definite (pivot ${i} is ${s})`);
        a[ri + i] = Math.sqrt(s);
      }
    }
  }
}

/** Replaces lower-triangular L by M = L⁻¹, row by row: M[i,·] = (e_i − Σ_{k<i} L[i,k]·M[k,·]) / L[i,i]. */
function invertLowerInPlace(a: Float64Array, n: number, row: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const lii = a[ri + i];
    for (let k = 0; k < i; k++) row[k] = a[ri + k];
    a.fill(0, ri, ri + i);
    a[ri + i] = 1;
    // Row k of M is zero beyond column k.
    for (let k = 0; k < i; k++) if (row[k] !== 0) axpy(-row[k], a, k * n, a, ri, k + 1);
    for (let j = 0; j <= i; j++) a[ri + j] /= lii;
  }
}

/**
 * Replaces lower-triangular M by the lower triangle of Mᵀ·M: P[i,j] = Σ_{k≥i} M[k,i]·M[k,j] for j ≤ i. Row i of P
 * needs rows k ≥ i of M only, so rows are overwritten in increasing order.
 */
function lowerGramInPlace(a: Float64Array, n: number, row: Float64Array): void {
  for (let i = 0; i < n; i++) {
    row.fill(0, 0, i + 1);
    for (let k = i; k < n; k++) {
      const f = a[k * n + i];
      if (f !== 0) axpy(f, a, k * n, row, 0, i + 1);
    }
    a.set(row.subarray(0, i + 1), i * n);
  }
}

// The two kernels, unrolled by four: independent partial sums and stores let the CPU overlap the
// multiply-adds (about twice as fast in V8 as the plain loops).

/** Σ_{k<len} a[x+k]·a[y+k]. */
function dot(a: Float64Array, x: number, y: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    s0 += a[x + k] * a[y + k];
    s1 += a[x + k + 1] * a[y + k + 1];
    s2 += a[x + k + 2] * a[y + k + 2];
    s3 += a[x + k + 3] * a[y + k + 3];
  }
  for (; k < len; k++) s0 += a[x + k] * a[y + k];
  return s0 + s1 + s2 + s3;
}

/** y[yo+k] += f·x[xo+k] for k < len. */
function axpy(f: number, x: Float64Array, xo: number, y: Float64Array, yo: number, len: number): void {
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    y[yo + k] += f * x[xo + k];
    y[yo + k + 1] += f * x[xo + k + 1];
    y[yo + k + 2] += f * x[xo + k + 2];
    y[yo + k + 3] += f * x[xo + k + 3];
  }
  for (; k < len; k++) y[yo + k] += f * x[xo + k];
}

/**
 * Factor that puts co-occurrence scores on EASE's scale, so that a user's recent items mixing both kinds of lists
 * add up sensibly: the median strongest EASE weight over the median strongest cosine of the same items.
 */
function calibrate(ease: ReadonlyMap<number, IndexedList>, cooccurrence: readonly IndexedList[]): number {
  const easeTop: number[] = [];
  const cosineTop: number[] = [];
  for (const [i, list] of ease) {
    if (list.length === 0 || !(list[0][1] > 0) || cooccurrence[i].length === 0) continue;
    easeTop.push(list[0][1]);
    cosineTop.push(cooccurrence[i][0][1]);
  }
  return easeTop.length > 0 ? median(easeTop) / median(cosineTop) : 1;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The `k` strongest entries, strongest first; ties go to the smaller index (= smaller itemId). */
/** Whether entry (i, x) ranks before (j, y): a strict total order (ties go to the lower index). */
type Ranking = (i: number, x: number, j: number, y: number) => boolean;
const strongerFirst: Ranking = (i, x, j, y) => x > y || (x === y && i < j);
const mostNegativeFirst: Ranking = (i, x, j, y) => x < y || (x === y && i < j);

/**
 * The `k` first entries offered, by `before`, in O(n log k) time and O(k) memory: a heap whose root is the last of
 * those kept. Training offers every entry of every item's row (millions), so sorting each row in full cost more
 * than the EASE inversion.
 */
class TopK {
  private readonly index: number[] = [];
  private readonly score: number[] = [];

  constructor(
    private readonly k: number,
    private readonly before: Ranking,
  ) {}

  offer(i: number, x: number): void {
    const { index, score, before } = this;
    if (index.length < this.k) {
      // Sift up: a parent must rank after its children.
      let c = index.length;
      index.push(i);
      score.push(x);
      while (c > 0) {
        const parent = (c - 1) >> 1;
        if (!before(index[parent], score[parent], index[c], score[c])) break;
        this.swap(c, parent);
        c = parent;
      }
    } else if (this.k > 0 && before(i, x, index[0], score[0])) {
      index[0] = i;
      score[0] = x;
      // Sift down: move the new root below any child that ranks after it.
      for (let c = 0; ; ) {
        const l = 2 * c + 1;
        const r = l + 1;
        let last = c;
        if (l < index.length && before(index[last], score[last], index[l], score[l])) last = l;
        if (r < index.length && before(index[last], score[last], index[r], score[r])) last = r;
        if (last === c) break;
        this.swap(c, last);
        c = last;
      }
    }
  }

  /** The kept entries, first first. */
  sorted(): IndexedList {
    const list: IndexedList = this.index.map((i, n) => [i, this.score[n]]);
    return list.sort((a, b) => (this.before(a[0], a[1], b[0], b[1]) ? -1 : 1));
  }

  private swap(a: number, b: number): void {
    [this.index[a], this.index[b]] = [this.index[b], this.index[a]];
    [this.score[a], this.score[b]] = [this.score[b], this.score[a]];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Categories and popularity

type CategoriesOf = (itemId: string) => string[];

/** Each item's categories: the catalog's when it knows the item, else those its events named, most frequent first. */
function categoryLookup(m: Matrix, catalog: ReadonlyMap<string, { categories: string[] }>): CategoriesOf {
  const fromEvents = new Map<string, string[]>();
  m.itemIds.forEach((id, i) => {
    const counts = [...m.eventCategories[i]].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    fromEvents.set(id, counts.slice(0, CATALOG_LIMITS.maxCategories).map(([c]) => c));
  });
  const cache = new Map<string, string[]>();
  return (itemId) => {
    let categories = cache.get(itemId);
    if (categories === undefined) {
      const entry = catalog.get(itemId);
      categories = entry ? normalizedCategories(entry.categories) : (fromEvents.get(itemId) ?? []);
      cache.set(itemId, categories);
    }
    return categories;
  };
}

function normalizedCategories(raw: readonly string[]): string[] {
  const out = new Set<string>();
  for (const value of raw) {
    const c = normalizeCategory(value);
    if (c !== undefined) out.add(c);
  }
  return [...out];
}

function ranked(itemId: string, score: number, categoriesOf: CategoriesOf): RankedItem {
  return { itemId, score, categories: categoriesOf(itemId) };
}

function popularityLists(
  m: Matrix,
  categoriesOf: CategoriesOf,
  catalog: ReadonlyMap<string, { categories: string[]; createdAt?: number }>,
  opts: TrainingOptions,
): PopularityLists {
  const byScore = (scores: Float64Array) =>
    range(0, m.itemIds.length)
      .filter((i) => scores[i] > 0)
      .sort((a, b) => scores[b] - scores[a] || a - b);
  const popular = byScore(m.globalScore);
  const toRanked = (i: number, scores: Float64Array) => ranked(m.itemIds[i], scores[i], categoriesOf);

  const popularByCategory = new Map<string, RankedItem[]>();
  for (const i of popular) {
    for (const c of categoriesOf(m.itemIds[i])) {
      const list = popularByCategory.get(c) ?? [];
      if (list.length === 0) popularByCategory.set(c, list);
      list.push(toRanked(i, m.globalScore));
    }
  }
  const fresh = newItemsByCategory(m, catalog, categoriesOf);
  const byCategory = new Map<string, RankedItem[]>();
  for (const c of [...new Set([...popularByCategory.keys(), ...fresh.keys()])].sort()) {
    const newItems = (fresh.get(c) ?? []).slice(0, opts.newItemsPerCategory);
    const room = Math.max(0, opts.categorySize - newItems.length);
    byCategory.set(c, [...(popularByCategory.get(c) ?? []).slice(0, room), ...newItems].slice(0, opts.categorySize));
  }

  return {
    global: popular.slice(0, opts.globalSize).map((i) => toRanked(i, m.globalScore)),
    trending: byScore(m.trendingScore)
      .slice(0, opts.trendingSize)
      .map((i) => toRanked(i, m.trendingScore)),
    byCategory,
  };
}

/** Catalog items without interactions, per category, newest `createdAt` first (then by itemId), with score 0. */
function newItemsByCategory(
  m: Matrix,
  catalog: ReadonlyMap<string, { categories: string[]; createdAt?: number }>,
  categoriesOf: CategoriesOf,
): Map<string, RankedItem[]> {
  const known = new Set(m.itemIds);
  const fresh = [...catalog]
    .filter(([id]) => !known.has(id))
    .sort(([a, x], [b, y]) => (y.createdAt ?? -Infinity) - (x.createdAt ?? -Infinity) || (a < b ? -1 : a > b ? 1 : 0));
  const out = new Map<string, RankedItem[]>();
  for (const [id] of fresh) {
    for (const c of categoriesOf(id)) {
      const list = out.get(c) ?? [];
      if (list.length === 0) out.set(c, list);
      list.push(ranked(id, 0, categoriesOf));
    }
  }
  return out;
}
