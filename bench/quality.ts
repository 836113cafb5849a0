/**
 * `npm run bench:quality`: offline quality of the recommender on MovieLens-100k, through the code that serves.
 *
 * Protocol (Microsoft Recommenders' MovieLens-100k algorithm comparison, see ../shared/datasets/README.md): per
 * user, a seeded random 75% of their ratings train and 25% test; every item is ranked for every user; items the
 * user has in training are removed; k = 10; metrics averaged over users with at least one test item:
 * - precision@10 = hits / 10; recall@10 = hits / #test items;
 * - nDCG@10, binary relevance: Σ_hits 1/log(1 + rank) over the ideal Σ_{r ≤ min(10, #test)} 1/log(1 + r);
 * - MAP = Recommenders' `map_at_k` (recommenders/evaluation/python_evaluation.py): Σ over hits of
 *   (hits so far / rank), divided by min(10, #test items). (Their older `map` divides by #test items.)
 *
 * The served rows run what production runs: `trainModel` on the training ratings (one `Product Viewed` per rating,
 * rating time as `at`, genres from ml-100k.item as the catalog's categories); per user, the training ratings become
 * stream events folded by the real reducer `reduceEvents`, so `recent` is the profile's 200 newest items and
 * affinity the real decayed affinity (an event carries one category: the film's first genre); then serving's
 * `builtInCandidates` (the hybrid strategy: `scoreItems` with the stored (truncated) neighbour lists of those recent
 * items, the trending and global lists and the lists of the top 3 affinity categories, serving's
 * `PREFERRED_CATEGORIES`), `now` = the user's newest training rating. Informational rows: the same scorer
 * with only the 50 newest training ratings as `recent` (what a shorter profile window gives), and with every
 * training rating through every EASE weight (no window, no truncation: what serving's bounds cost together).
 *
 * Options: --dataset DIR (default ../shared/datasets/movielens-100k), --seed N (default 42), --tune: choose
 * hyperparameters on a validation split carved out of the training data only (the same protocol applied to the
 * training ratings; the test ratings are not used), print the grid and stop. The defaults in training.ts and
 * scoring.ts and `BENCH_WEIGHTS` below were fixed from its output.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { normalizeCategory } from '../lambdas/shared/domain/commerce';
import { StreamEvent, StreamEventSchema } from '../lambdas/shared/domain/event-schema';
import { Interaction, listsFor, TrainedModel } from '../lambdas/shared/domain/model';
import { emptyProfile, PROFILE_LIMITS, ProfileState, reduceEvents } from '../lambdas/shared/domain/profile';
import { DEFAULT_SCORING_WEIGHTS, ScoringWeights } from '../lambdas/shared/domain/scoring';
import { builtInCandidates, listsToFetch, ServingRequest, signalsOf } from '../lambdas/shared/domain/serving';
import { DEFAULT_PROFILE_SETTINGS } from '../lambdas/shared/domain/settings';
import { DEFAULT_TRAINING_OPTIONS, trainModel, TrainingOptions } from '../lambdas/shared/domain/training';
import { mulberry32, shuffle } from '../local/random';
import { percentile } from './support';

const K = 10;
const TRAIN_RATIO = 0.75;
const EVENT = 'Product Viewed';
/** The informational "shorter profile window" row. */
const NARROW_WINDOW = 50;
const HALF_LIFE_DAYS = DEFAULT_PROFILE_SETTINGS.affinityHalfLifeDays;
/** Recency off (the longest half-life the tuning grid tries; the config schema's maximum). */
const NO_RECENCY_HOURS = 1e6;

/**
 * Scoring weights for MovieLens, chosen with --tune on validation data: recency off (the longest half-life tried,
 * the config schema's maximum), the rest the shop defaults. MovieLens timestamps are rating times, and a random
 * split has no temporal order, so a half-life in hours discounts most of a user's profile for nothing there (on
 * validation: 0.2177 at 48 h, 0.2445 off). The shop defaults are printed alongside.
 */
const BENCH_WEIGHTS: ScoringWeights = { ...DEFAULT_SCORING_WEIGHTS, recencyHalfLifeHours: NO_RECENCY_HOURS };

/** A request for a user's recommendations with no context item, category or exclusions. */
const REQUEST: ServingRequest = { limit: K, exclude: [] };

const PUBLISHED = [
  { name: 'SAR (published)', ndcg: 0.382, precision: 0.331 },
  { name: 'BPR (published)', ndcg: 0.442, precision: 0.388 },
  { name: 'BiVAE (published)', ndcg: 0.475, precision: 0.412 },
];

/** One rating; its value is not used (every rating is a positive interaction). */
interface Rating {
  user: string;
  item: string;
  at: number;
}

interface Split {
  train: Rating[];
  /** Per user: training items, held-out items. */
  seen: Map<string, Set<string>>;
  test: Map<string, Set<string>>;
}

interface Metrics {
  ndcg: number;
  precision: number;
  recall: number;
  map: number;
  users: number;
}

/** Per user, what a method recommends (best first, at least the top K after training items are removed). */
type Recommender = (user: string) => string[];

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const { ratings, genres } = loadMovieLens(args.dataset);
  const split = splitPerUser(ratings, args.seed);
  console.log(
    `MovieLens-100k: ${ratings.length} ratings, ${new Set(ratings.map((r) => r.user)).size} users, ${genres.size} items; ` +
      `per-user random ${TRAIN_RATIO * 100}/${100 - TRAIN_RATIO * 100} split, seed ${args.seed}: ${split.train.length} train`,
  );
  if (args.tune) {
    tune(split, genres, args.seed);
    return;
  }
  report(split, genres);
  console.log(`\nrun time ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------------------------------------------------------
// The comparison

function report(split: Split, genres: Map<string, string[]>): void {
  const catalog = catalogOf(genres);
  const profiles = buildProfiles(split.train, genres);
  const trainings = {
    cooccurrence: timedTraining(split.train, { algorithm: 'cooccurrence' }, catalog),
    ease: timedTraining(split.train, {}, catalog),
    easeFull: timedTraining(split.train, { neighbours: Infinity, negativeNeighbours: Infinity }, catalog),
  };
  const served = (model: TrainedModel, users: Map<string, ProfileState>, weights = BENCH_WEIGHTS) =>
    evaluate(split, servedRecommender(model, users, split.seen, weights));
  const rows: Array<{ name: string; metrics: Metrics; seconds?: number }> = [
    { name: 'Global popularity (baseline)', metrics: evaluate(split, popularityRecommender(trainings.ease.model, split.seen)) },
    { name: 'Co-occurrence, served', metrics: served(trainings.cooccurrence.model, profiles), seconds: trainings.cooccurrence.seconds },
    { name: 'EASE, served, shop scoring defaults', metrics: served(trainings.ease.model, profiles, DEFAULT_SCORING_WEIGHTS) },
  ];
  const headline = served(trainings.ease.model, profiles);
  rows.push({ name: 'EASE, served (default model)', metrics: headline, seconds: trainings.ease.seconds });
  rows.push({
    name: `EASE, ${NARROW_WINDOW} newest items only (info)`,
    metrics: served(trainings.ease.model, withWindow(profiles, split.train, genres, NARROW_WINDOW)),
  });
  rows.push({
    name: 'EASE, full history, untruncated (info)',
    metrics: served(trainings.easeFull.model, withWindow(profiles, split.train, genres, Infinity)),
    seconds: trainings.easeFull.seconds,
  });

  const o = DEFAULT_TRAINING_OPTIONS;
  console.log(`model: λ=${o.easeLambda}, K=${o.neighbours} + ${o.negativeNeighbours} negative weights, EASE items ≤ ${o.maxEaseItems}`);
  console.log(`profile: ${PROFILE_LIMITS.recentItems} recent items, affinity half-life ${HALF_LIFE_DAYS} d`);
  console.log(`scoring weights (bench): ${describeWeights(BENCH_WEIGHTS)}`);
  console.log(`scoring weights (shop defaults): ${describeWeights(DEFAULT_SCORING_WEIGHTS)}`);
  console.log(`\n${row('model', 'nDCG@10', 'P@10', 'R@10', 'MAP', 'train s')}`);
  for (const r of rows) console.log(row(r.name, ...metricCells(r.metrics), r.seconds !== undefined ? r.seconds.toFixed(2) : ''));
  for (const p of PUBLISHED) console.log(row(p.name, p.ndcg.toFixed(3), p.precision.toFixed(3), '', '', ''));
  console.log(`users evaluated: ${headline.users}; scoreItems latency per user: ${latency(trainings.ease.model, profiles)}`);
  const m = headline;
  console.log(`\nnDCG@10=${m.ndcg.toFixed(3)} P@10=${m.precision.toFixed(3)} R@10=${m.recall.toFixed(3)} MAP=${m.map.toFixed(3)}`);
}

function timedTraining(
  train: Rating[],
  options: Partial<TrainingOptions>,
  catalog: ReturnType<typeof catalogOf>,
): { model: TrainedModel; seconds: number } {
  const started = performance.now();
  const model = trainModel(toInteractions(train), options, catalog);
  return { model, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------------------------------------------------------
// Recommenders

/** The top global list, minus the user's training items. */
function popularityRecommender(model: TrainedModel, seen: Map<string, Set<string>>): Recommender {
  return (user) => model.popularity.global.map((r) => r.itemId).filter((id) => !seen.get(user)?.has(id));
}

/** What serving returns: the profile's recent items through the stored neighbour lists, plus the popularity chain. */
function servedRecommender(
  model: TrainedModel,
  profiles: Map<string, ProfileState>,
  seen: Map<string, Set<string>>,
  weights: ScoringWeights,
): Recommender {
  return (user) => {
    const profile = profiles.get(user) as ProfileState;
    const scored = builtInCandidates(servingArgs(model, profile, weights));
    const mine = seen.get(user) as Set<string>;
    return scored.filter((s) => !mine.has(s.itemId)).map((s) => s.itemId);
  };
}

/**
 * What the recommend function gives `builtInCandidates` for one user after its two reads (the profile, then the
 * model's lists that `listsToFetch` names), with the hybrid strategy and no model-less catalog fallback.
 */
function servingArgs(model: TrainedModel, profile: ProfileState, weights: ScoringWeights): Parameters<typeof builtInCandidates>[0] {
  const now = profile.lastSeen as number;
  const signals = signalsOf(profile, now, HALF_LIFE_DAYS);
  const wanted = listsToFetch(signals, 'hybrid', REQUEST);
  const lists = listsFor(model, wanted.itemIds, wanted.categories);
  return {
    request: REQUEST,
    signals,
    strategy: 'hybrid',
    preferredCategories: wanted.categories,
    weights,
    nowMs: now,
    neighbours: lists.neighbours,
    popularity: { trending: model.popularity.trending, global: model.popularity.global, byCategory: lists.byCategory },
    catalogFallback: [],
  };
}

/**
 * Profiles whose `recent` holds the user's newest `limit` training ratings instead of the reducer's window (same
 * order and fields; affinity unchanged): what a shorter profile window, or no window, would serve.
 */
function withWindow(
  profiles: Map<string, ProfileState>,
  train: readonly Rating[],
  genres: Map<string, string[]>,
  limit: number,
): Map<string, ProfileState> {
  const out = new Map<string, ProfileState>();
  for (const [user, rows] of groupBy(train, (r) => r.user)) {
    const recent = rows
      .map((r) => {
        const category = normalizeCategory(genres.get(r.item)?.[0]);
        return { itemId: r.item, event: EVENT, at: r.at, ...(category !== undefined ? { category } : {}) };
      })
      .sort((a, b) => b.at - a.at || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0))
      .slice(0, limit);
    out.set(user, { ...(profiles.get(user) as ProfileState), recent });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Tuning on validation data only

function tune(split: Split, genres: Map<string, string[]>, seed: number): void {
  // The validation split: the same per-user 75/25 protocol applied to the training ratings only.
  const validation = splitPerUser(split.train, seed + 1);
  const catalog = catalogOf(genres);
  const profiles = buildProfiles(validation.train, genres);
  const heldOut = [...validation.test.values()].reduce((n, s) => n + s.size, 0);
  console.log(`tuning on a validation split of the training data only: ${validation.train.length} train, ${heldOut} validation`);

  // Stage 1: the model, scored with the shop defaults and with recency off.
  console.log(`\n${row('model', 'nDCG 48h', 'nDCG off', 'P@10 off', 'train s')}`);
  const candidates: Array<{ name: string; options: Partial<TrainingOptions> }> = [
    { name: 'cooccurrence', options: { algorithm: 'cooccurrence' } },
    ...[200, 400, 800, 1600, 3200].flatMap((easeLambda) =>
      [0, 50, 100].map((negativeNeighbours) => ({
        name: `ease λ=${easeLambda} negatives=${negativeNeighbours}`,
        options: { algorithm: 'ease' as const, easeLambda, negativeNeighbours },
      })),
    ),
  ];
  let best: { name: string; model: TrainedModel; ndcg: number } | undefined;
  for (const c of candidates) {
    const { model, seconds } = timedTraining(validation.train, c.options, catalog);
    const shop = evaluate(validation, servedRecommender(model, profiles, validation.seen, DEFAULT_SCORING_WEIGHTS));
    const off = evaluate(validation, servedRecommender(model, profiles, validation.seen, BENCH_WEIGHTS));
    console.log(row(c.name, shop.ndcg.toFixed(4), off.ndcg.toFixed(4), off.precision.toFixed(4), seconds.toFixed(2)));
    const ndcg = Math.max(shop.ndcg, off.ndcg);
    if (best === undefined || ndcg > best.ndcg) best = { name: c.name, model, ndcg };
  }
  const chosen = best as { name: string; model: TrainedModel };

  // Stage 2: the scoring weights, on the chosen model.
  console.log(`\n${row(`scoring on ${chosen.name}`, 'nDCG@10', 'P@10', 'R@10', 'MAP')}`);
  let bestWeights: { weights: ScoringWeights; ndcg: number } | undefined;
  for (const recencyHalfLifeHours of [DEFAULT_SCORING_WEIGHTS.recencyHalfLifeHours, 24 * 7, 24 * 30, 24 * 365, NO_RECENCY_HOURS]) {
    for (const affinityBoost of [0, 0.1, 0.3, 1, 3]) {
      const weights = { ...DEFAULT_SCORING_WEIGHTS, recencyHalfLifeHours, affinityBoost };
      const metrics = evaluate(validation, servedRecommender(chosen.model, profiles, validation.seen, weights));
      console.log(row(`half-life ${recencyHalfLifeHours} h, affinity boost ${affinityBoost}`, ...metricCells(metrics, 4)));
      if (bestWeights === undefined || metrics.ndcg > bestWeights.ndcg) bestWeights = { weights, ndcg: metrics.ndcg };
    }
  }
  console.log(`\nbest on validation: ${chosen.name}; ${describeWeights((bestWeights as { weights: ScoringWeights }).weights)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics

function evaluate(split: Split, recommend: Recommender): Metrics {
  const sum = { ndcg: 0, precision: 0, recall: 0, map: 0 };
  let users = 0;
  for (const [user, relevant] of split.test) {
    if (relevant.size === 0) continue;
    const top = recommend(user).slice(0, K);
    const m = userMetrics(top, relevant);
    sum.ndcg += m.ndcg;
    sum.precision += m.precision;
    sum.recall += m.recall;
    sum.map += m.map;
    users += 1;
  }
  return { ndcg: sum.ndcg / users, precision: sum.precision / users, recall: sum.recall / users, map: sum.map / users, users };
}

/** One user's metrics for a top-K list; see the module comment for the definitions. */
function userMetrics(top: readonly string[], relevant: ReadonlySet<string>): Omit<Metrics, 'users'> {
  let hits = 0;
  let dcg = 0;
  let precisionSum = 0;
  top.forEach((item, index) => {
    if (!relevant.has(item)) return;
    hits += 1;
    dcg += 1 / Math.log2(index + 2);
    precisionSum += hits / (index + 1);
  });
  const ideal = Math.min(K, relevant.size);
  let idcg = 0;
  for (let r = 0; r < ideal; r++) idcg += 1 / Math.log2(r + 2);
  return { ndcg: dcg / idcg, precision: hits / K, recall: hits / relevant.size, map: precisionSum / ideal };
}

// ---------------------------------------------------------------------------------------------------------------
// Data

function loadMovieLens(dir: string): { ratings: Rating[]; genres: Map<string, string[]> } {
  const ratings = dataLines(path.join(dir, 'ml-100k.inter')).map(([user, item, , ts]) => ({ user, item, at: Number(ts) * 1000 }));
  const genres = new Map(dataLines(path.join(dir, 'ml-100k.item')).map((cols) => [cols[0], (cols[3] ?? '').split(' ').filter((g) => g.length > 0)]));
  return { ratings, genres };
}

/** Tab-separated lines after the header. */
function dataLines(file: string): string[][] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .slice(1)
    .filter((line) => line.trim().length > 0)
    .map((line) => line.split('\t'));
}

/** Per user, a seeded random TRAIN_RATIO of their ratings train (rounded), the rest test. */
function splitPerUser(ratings: readonly Rating[], seed: number): Split {
  const random = mulberry32(seed);
  const split: Split = { train: [], seen: new Map(), test: new Map() };
  for (const [user, rows] of [...groupBy(ratings, (r) => r.user)].sort(([a], [b]) => a.localeCompare(b))) {
    const shuffled = shuffle(rows, random);
    const cut = Math.round(shuffled.length * TRAIN_RATIO);
    split.train.push(...shuffled.slice(0, cut));
    split.seen.set(user, new Set(shuffled.slice(0, cut).map((r) => r.item)));
    split.test.set(user, new Set(shuffled.slice(cut).map((r) => r.item)));
  }
  return split;
}

/** Training interactions as a shop would log them: one view per rating (the rating itself is not used). */
function toInteractions(train: readonly Rating[]): Interaction[] {
  return train.map((r) => ({ subject: r.user, itemId: r.item, event: EVENT, at: r.at }));
}

function catalogOf(genres: Map<string, string[]>): Map<string, { categories: string[] }> {
  return new Map([...genres].map(([item, categories]) => [item, { categories }]));
}

/** Each user's profile as the stream processor builds it from their training ratings. */
function buildProfiles(train: readonly Rating[], genres: Map<string, string[]>): Map<string, ProfileState> {
  const profiles = new Map<string, ProfileState>();
  for (const [user, rows] of groupBy(train, (r) => r.user)) {
    const events = rows.map((r) => streamEventOf(r, genres.get(r.item)?.[0]));
    profiles.set(user, reduceEvents(emptyProfile(`user#${user}`), events, HALF_LIFE_DAYS));
  }
  return profiles;
}

function streamEventOf(r: Rating, category: string | undefined): StreamEvent {
  const timestamp = new Date(r.at).toISOString();
  return StreamEventSchema.parse({
    type: 'track',
    event: EVENT,
    userId: r.user,
    messageId: `ml-${r.user}-${r.item}`,
    timestamp,
    receivedAt: timestamp,
    sourceId: 'bench-quality',
    properties: { product_id: r.item, ...(category !== undefined ? { category } : {}) },
  }) as StreamEvent;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

function latency(model: TrainedModel, profiles: Map<string, ProfileState>): string {
  const times: number[] = [];
  for (const profile of profiles.values()) {
    const args = servingArgs(model, profile, BENCH_WEIGHTS);
    const started = performance.now();
    builtInCandidates(args);
    times.push(performance.now() - started);
  }
  return `p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms`;
}

function describeWeights(w: ScoringWeights): string {
  return `recency half-life ${w.recencyHalfLifeHours} h, affinity boost ${w.affinityBoost}, max item weight ${w.maxItemWeight}`;
}

function metricCells(m: Metrics, digits = 3): string[] {
  return [m.ndcg, m.precision, m.recall, m.map].map((v) => v.toFixed(digits));
}

function row(label: string, ...cells: string[]): string {
  return label.padEnd(44) + cells.map((c) => c.padStart(9)).join('');
}

function groupBy<T>(values: readonly T[], key: (value: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const v of values) {
    const k = key(v);
    const list = out.get(k);
    if (list === undefined) out.set(k, [v]);
    else list.push(v);
  }
  return out;
}

function parseArgs(argv: string[]): { dataset: string; seed: number; tune: boolean } {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const seed = Number(value('--seed') ?? 42);
  if (!Number.isInteger(seed)) throw new Error('--seed must be an integer');
  return { dataset: path.resolve(value('--dataset') ?? path.join(__dirname, '../../shared/datasets/movielens-100k')), seed, tune: argv.includes('--tune') };
}

main();
