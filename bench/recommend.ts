/**
 * `npm run bench:recommend`: the recommendation handler, warm, over ≥ 10,000 requests for a mix of warm users
 * (full profiles: 200 recent items, each with 50 positive neighbours, plus negative weights, in the model) and
 * cold visitors (no profile), against an in-memory store and against the DynamoDB emulator (dynalite, in its own
 * process).
 *
 * Printed per store: end-to-end latency p50/p99 of `handleRecommend` and the store round trips per request,
 * measured (not assumed) as the longest chain of store calls where each starts after the previous one ended.
 * Then the pure compute alone (profile signals → scoring → rules) on the same requests, for warm and cold,
 * with the `popular` strategy (no personal signals) as the baseline, and warm users cut to their 50 newest items
 * (the target case: 50 recent items × 50 neighbours).
 * Last line: `compute_p99_ms=… roundtrips=…`: compute p99 of the target case (warm, 50 recent items), round trips of
 * all requests.
 *
 * Environment: BENCH_REQUESTS (10000), BENCH_ITEMS (2000), BENCH_USERS (2000).
 */
import { DEFAULT_CONSENT_SETTINGS } from '../lambdas/shared/domain/consent';
import { handleRecommend, parseRequest, RecommendDeps } from '../lambdas/recommend/recommend';
import { StreamEvent } from '../lambdas/shared/domain/event-schema';
import { validateMessage } from '../lambdas/shared/domain/ingestion';
import { Interaction, listsFor, TrainedModel } from '../lambdas/shared/domain/model';
import { PROFILE_LIMITS, profileIdOf } from '../lambdas/shared/domain/profile';
import { applyBatch, ProfileRecord } from '../lambdas/shared/domain/profile-record';
import { resolveRecommendConfig, Strategy } from '../lambdas/shared/domain/recommend-config';
import { applyRules } from '../lambdas/shared/domain/rules';
import { builtInCandidates, listsToFetch, ruleContextOf, signalsOf } from '../lambdas/shared/domain/serving';
import { DEFAULT_PROFILE_SETTINGS } from '../lambdas/shared/domain/settings';
import { trainModel } from '../lambdas/shared/domain/training';
import { CachedModelStore, DynamoDbModelStore, ModelStore } from '../lambdas/shared/store/model-store';
import { DynamoDbIdentityStore, IdentityStore } from '../lambdas/shared/store/identity-store';
import { DynamoDbProfileStore, ProfileStore } from '../lambdas/shared/store/profile-store';
import { createPkTable } from '../test/support/dynalite';
import { apiEvent, basicAuth } from '../test/support/http';
import { InMemoryModelStore } from '../test/support/in-memory-model-store';
import { InMemoryIdentityStore } from '../test/support/in-memory-identity-store';
import { InMemoryProfileStore } from '../test/support/in-memory-profile-store';
import { disabledMetrics, silentLogger } from '../test/support/powertools';
import { mulberry32 } from '../local/random';
import { percentile, startEmulator } from './support';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const REQUESTS = env('BENCH_REQUESTS', 10_000);
const ITEMS = env('BENCH_ITEMS', 2000);
const USERS = env('BENCH_USERS', 2000);
const CATEGORIES = 25;
const RECENT = PROFILE_LIMITS.recentItems;
/** The target case: a profile of 50 recent items. */
const TARGET_RECENT = 50;
const NOW = Date.UTC(2026, 10, 1);
const READ_KEY = 'bench-read-key';

const categoryOf = (item: number) => `category-${item % CATEGORIES}`;

/** Users who browse within two favourite categories: enough co-occurrence for every item to get 50 neighbours. */
function interactions(random: () => number): Interaction[] {
  const rows: Interaction[] = [];
  const perCategory = ITEMS / CATEGORIES;
  for (let u = 0; u < USERS * 5; u++) {
    const favourites = [Math.floor(random() * CATEGORIES), Math.floor(random() * CATEGORIES)];
    for (let i = 0; i < 40; i++) {
      const category = favourites[i % 2];
      const item = category + CATEGORIES * Math.floor(random() ** 2 * perCategory);
      rows.push({ subject: `train-${u}`, itemId: `item-${item}`, event: random() < 0.8 ? 'Product Viewed' : 'Product Added', at: NOW - Math.floor(random() * 30 * 86_400_000), categories: [categoryOf(item)] });
    }
  }
  return rows;
}

/** A warm user: more events over the last days than the profile keeps, so its recent list is full. */
function warmProfile(user: number, random: () => number): ProfileRecord {
  const events: StreamEvent[] = [];
  for (let i = 0; i < RECENT + 10; i++) {
    const item = Math.floor(random() * ITEMS);
    const name = random() < 0.85 ? 'Product Viewed' : 'Product Added';
    const event = validateMessage(
      { type: 'track', event: name, userId: `user-${user}`, messageId: `w-${user}-${i}`, timestamp: new Date(NOW - (i + 1) * 600_000).toISOString(), properties: { product_id: `item-${item}`, category: categoryOf(item) } },
      { receivedAt: NOW, sourceId: 'src_bench' },
    );
    if (typeof event === 'string') throw new Error(event);
    events.push(event);
  }
  return applyBatch(undefined, `user#user-${user}`, events, DEFAULT_PROFILE_SETTINGS, NOW).next as ProfileRecord;
}

interface Request {
  query: Record<string, string>;
  warm: boolean;
}

function requests(random: () => number): Request[] {
  return Array.from({ length: REQUESTS }, (_, i) => {
    const warm = random() < 0.7;
    const query: Record<string, string> = warm ? { userId: `user-${Math.floor(random() * USERS)}` } : { anonymousId: `visitor-${i}` };
    if (random() < 0.1) query.itemId = `item-${Math.floor(random() * ITEMS)}`;
    if (random() < 0.1) query.category = categoryOf(Math.floor(random() * ITEMS));
    return { query, warm };
  });
}

/** Records each store call's interval, to measure the sequential round trips of one request. */
class CallLog {
  private calls: Array<[number, number]> = [];
  reset(): void {
    this.calls = [];
  }
  async time<T>(call: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await call();
    } finally {
      this.calls.push([start, performance.now()]);
    }
  }
  /** Longest chain of calls where each starts after the previous ended (parallel calls share a step). */
  roundTrips(): number {
    const sorted = [...this.calls].sort((a, b) => a[0] - b[0]);
    const depth: number[] = [];
    sorted.forEach(([start], i) => {
      depth[i] = 1 + Math.max(0, ...sorted.slice(0, i).map(([, end], j) => (end <= start ? depth[j] : 0)));
    });
    return Math.max(0, ...depth);
  }
  get count(): number {
    return this.calls.length;
  }
}

function timedStores(profiles: ProfileStore, identities: IdentityStore, model: ModelStore, log: CallLog): { profiles: ProfileStore; identities: IdentityStore; model: ModelStore } {
  return {
    profiles: { get: (id) => log.time(() => profiles.get(id)), getMany: (ids) => log.time(() => profiles.getMany(ids)), put: (r, v) => log.time(() => profiles.put(r, v)) },
    identities: { getMany: (ids) => log.time(() => identities.getMany(ids)), link: (l) => identities.link(l), putAll: (l) => identities.putAll(l), deleteAll: (ids) => identities.deleteAll(ids) },
    model: { servingState: () => log.time(() => model.servingState()), lists: (v, ids, cats) => log.time(() => model.lists(v, ids, cats)) },
  };
}

interface StoreRun {
  name: string;
  latencies: number[];
  roundTrips: number[];
  storeCalls: number;
}

async function runHandler(name: string, profiles: ProfileStore, identities: IdentityStore, model: ModelStore, reqs: Request[]): Promise<StoreRun> {
  const log = new CallLog();
  const stores = timedStores(profiles, identities, model, log);
  const deps: RecommendDeps = {
    ...stores,
    events: { put: async () => ({ failed: [] }) },
    config: resolveRecommendConfig({}, { personalizeAvailable: false }),
    consent: DEFAULT_CONSENT_SETTINGS,
    affinityHalfLifeDays: DEFAULT_PROFILE_SETTINGS.affinityHalfLifeDays,
    now: () => NOW,
    newId: () => 'bench',
    logger: silentLogger(),
    metrics: disabledMetrics(),
  };
  const event = (query: Record<string, string>) => apiEvent({ resource: '/v1/recommendations', method: 'GET', headers: { Authorization: basicAuth(READ_KEY) }, queryStringParameters: query });
  for (const r of reqs.slice(0, 200)) await handleRecommend(event(r.query), deps); // warm-up
  const run: StoreRun = { name, latencies: [], roundTrips: [], storeCalls: 0 };
  for (const r of reqs) {
    log.reset();
    const start = performance.now();
    const response = await handleRecommend(event(r.query), deps);
    run.latencies.push(performance.now() - start);
    if (response.statusCode !== 200 || JSON.parse(response.body).items.length === 0) throw new Error(`Unexpected response ${response.statusCode}: ${response.body}`);
    run.roundTrips.push(log.roundTrips());
    run.storeCalls += log.count;
  }
  return run;
}

/** The pure compute of one request on data already read: signals → scoring → rules. */
function computeTimes(model: TrainedModel, profilesById: Map<string, ProfileRecord>, reqs: Request[], strategy: Strategy, warm: boolean): number[] {
  const settings = resolveRecommendConfig({}, { personalizeAvailable: false }).defaults;
  const times: number[] = [];
  for (const r of reqs.filter((x) => x.warm === warm)) {
    const request = parseRequest(r.query);
    const record = profilesById.get(profileIdOf(request));
    const wanted = listsToFetch(signalsOf(record?.state, NOW, DEFAULT_PROFILE_SETTINGS.affinityHalfLifeDays), strategy, request);
    const { neighbours, byCategory } = listsFor(model, wanted.itemIds, wanted.categories);
    const start = performance.now();
    const signals = signalsOf(record?.state, NOW, DEFAULT_PROFILE_SETTINGS.affinityHalfLifeDays);
    const candidates = builtInCandidates({
      request,
      signals,
      strategy,
      preferredCategories: wanted.categories,
      weights: settings.scoring,
      nowMs: NOW,
      neighbours,
      popularity: { trending: model.popularity.trending, global: model.popularity.global, byCategory },
      catalogFallback: [],
    });
    applyRules(candidates, settings.rules, ruleContextOf(request, signals, new Set()));
    times.push(performance.now() - start);
  }
  return times;
}

const ms = (n: number) => n.toFixed(3).padStart(9);

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const random = mulberry32(7);
  const t0 = performance.now();
  const model = trainModel(interactions(random), { clock: () => NOW });
  const lists = [...model.neighbours.values()];
  const positive = lists.map((l) => l.filter((r) => r.score > 0).length);
  const negative = lists.map((l) => l.filter((r) => r.score < 0).length);
  console.log(
    `Model: ${model.algorithm}, ${model.stats.interactions} interactions, ${model.neighbours.size} items with neighbours ` +
      `(median ${percentile(positive, 50)} positive + ${percentile(negative, 50)} negative weights each), trained in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const profiles = new Map<string, ProfileRecord>();
  for (let u = 0; u < USERS; u++) {
    const record = warmProfile(u, random);
    profiles.set(record.state.profileId, record);
  }
  const recentLengths = [...profiles.values()].map((p) => p.state.recent.length);
  console.log(`Profiles: ${USERS} warm users with ${Math.min(...recentLengths)}-${Math.max(...recentLengths)} recent items; requests: ${REQUESTS} (70% warm, 30% cold; 10% with a context item, 10% with a category)`);
  const reqs = requests(random);

  // In memory.
  const memoryProfiles = new InMemoryProfileStore();
  for (const record of profiles.values()) memoryProfiles.seed(record);
  const memory = await runHandler('in-memory store', memoryProfiles, new InMemoryIdentityStore(), new InMemoryModelStore(model, 'v1'), reqs);

  // Pure compute, measured while no other process (the emulator) competes for the CPU.
  const targetProfiles = new Map([...profiles].map(([id, r]) => [id, { ...r, state: { ...r.state, recent: r.state.recent.slice(0, TARGET_RECENT) } }]));
  const rows: Array<[string, number[]]> = [
    [`hybrid, warm (${RECENT} recent)`, computeTimes(model, profiles, reqs, 'hybrid', true)],
    [`hybrid, warm (${TARGET_RECENT} recent)`, computeTimes(model, targetProfiles, reqs, 'hybrid', true)],
    ['hybrid, cold', computeTimes(model, profiles, reqs, 'hybrid', false)],
    ['popular, warm (baseline)', computeTimes(model, profiles, reqs, 'popular', true)],
  ];
  console.log(`\n${'pure compute'.padEnd(28)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}`);
  for (const [label, times] of rows) console.log(`${label.padEnd(28)}${ms(percentile(times, 50))}${ms(percentile(times, 99))}`);

  // The DynamoDB emulator, in its own process, through the real stores (the model state cached as in Lambda).
  const emulator = await startEmulator();
  try {
    const { dynamodb } = emulator;
    for (const table of ['bench-profiles', 'bench-identities', 'bench-items']) await createPkTable(dynamodb, table);
    const profileStore = new DynamoDbProfileStore(dynamodb, 'bench-profiles');
    for (const record of profiles.values()) await profileStore.put(record, undefined);
    const modelStore = new DynamoDbModelStore(dynamodb, 'bench-items');
    await modelStore.writeVersion('v1', model, 86_400, NOW);
    await modelStore.switchTo({ version: 'v1', algorithm: model.algorithm, trainedAt: model.trainedAt, stats: model.stats, global: model.popularity.global, trending: model.popularity.trending }, undefined);
    const emulated = await runHandler('DynamoDB emulator', profileStore, new DynamoDbIdentityStore(dynamodb, 'bench-identities'), new CachedModelStore(modelStore, 10_000), reqs);

    console.log(`\n${'handler, warm'.padEnd(22)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}  round trips (max)  store calls/request`);
    for (const run of [memory, emulated]) {
      console.log(`${run.name.padEnd(22)}${ms(percentile(run.latencies, 50))}${ms(percentile(run.latencies, 99))}  ${String(Math.max(...run.roundTrips)).padStart(17)}  ${(run.storeCalls / reqs.length).toFixed(2).padStart(19)}`);
    }

    const computeP99 = percentile(rows[1][1], 99);
    const roundTrips = Math.max(...memory.roundTrips, ...emulated.roundTrips);
    console.log(`\ncompute_p99_ms=${computeP99.toFixed(3)} roundtrips=${roundTrips}`);
  } finally {
    emulator.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
