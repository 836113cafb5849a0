import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { normalizeCategory } from '../shared/domain/commerce';
import { RequestError } from '../shared/domain/errors';
import { LIMITS, StreamEvent } from '../shared/domain/event-schema';
import { ConsentSettings, isGranted } from '../shared/domain/consent';
import { validateMessage } from '../shared/domain/ingestion';
import { profileIdOf } from '../shared/domain/profile';
import { ResolvedRecommendConfig, servingFor, ServingSettings, Strategy } from '../shared/domain/recommend-config';
import { applyRules, Candidate } from '../shared/domain/rules';
import { builtInCandidates, listsToFetch, PersonalSignals, ruleContextOf, signalsOf } from '../shared/domain/serving';
import { errorResponse, jsonResponse } from '../shared/http';
import type { EventStream } from '../shared/store/event-stream';
import type { ModelStore, ServingState } from '../shared/store/model-store';
import type { PersonalizeRecommender } from '../shared/store/personalize-recommender';
import { ProfileStores, readCanonicalProfile } from '../shared/store/canonical-profile';

/** A recommender outside this platform (Amazon Personalize) that a strategy can delegate to. */
export type ExternalRecommender = Pick<PersonalizeRecommender, 'recommend'>;

export interface RecommendDeps extends ProfileStores {
  /** Whose profiles may be used: without personalization consent a person gets the non-personalized list. */
  consent: ConsentSettings;
  model: ModelStore;
  events: EventStream;
  config: ResolvedRecommendConfig;
  affinityHalfLifeDays: number;
  personalize?: ExternalRecommender;
  now: () => number;
  newId: () => string;
  logger: Logger;
  metrics: Metrics;
}

export const MAX_LIMIT = 100;
const DEFAULT_LIMIT = 10;
const MAX_EXCLUDED = 100;
/** The event written for every response, so clicks and purchases carrying `recommendation_id` can be attributed. */
export const EXPOSURE_EVENT = 'Recommendations Shown';

export interface RecommendationRequest {
  userId?: string;
  anonymousId?: string;
  limit: number;
  itemId?: string;
  category?: string;
  exclude: string[];
}

export interface RecommendationResponse {
  recommendationId: string;
  /** The strategy that produced the list (`hybrid` when `personalize` failed and the built-in one stood in). */
  strategy: Strategy;
  variant: string;
  /** False when the list did not use the person's profile (no personalization consent). */
  personalized: boolean;
  experiment?: string;
  /** The segment whose defaults were used (`recommendations.segments` in the config). */
  segment?: string;
  modelVersion?: string;
  items: Array<{ itemId: string; score: number; reasons: string[] }>;
}

/**
 * `GET /v1/recommendations?userId=…|anonymousId=…&limit=&itemId=&category=&exclude=a,b` (read key, HTTP Basic, checked by the API's authorizer).
 *
 * Two sequential reads at most: the profile next to the (cached) model pointer, then one batch read of the
 * neighbour lists of the person's recent items and the category lists; the rest is pure compute.
 */
export async function handleRecommend(event: APIGatewayProxyEvent, deps: RecommendDeps): Promise<APIGatewayProxyResult> {
  try {
    const request = parseRequest(event.queryStringParameters ?? {});
    const response = await recommend(request, deps);
    return jsonResponse(200, response, { 'Cache-Control': 'no-store' });
  } catch (error) {
    if (error instanceof RequestError) return errorResponse(error, 'recommendations');
    deps.logger.error('Recommendation failed', error as Error);
    return jsonResponse(500, { message: 'Internal error' });
  }
}

export async function recommend(request: RecommendationRequest, deps: RecommendDeps): Promise<RecommendationResponse> {
  const now = deps.now();
  const [{ record }, state] = await Promise.all([readCanonicalProfile(profileIdOf(request), deps, now), deps.model.servingState()]);
  const personalized = isGranted(record?.state.consent, deps.consent.personalizationCategory, deps.consent);
  const profile = personalized ? record?.state : undefined;
  const signals = signalsOf(profile, now, deps.affinityHalfLifeDays);
  // The person behind any of their linked ids: one variant on every device.
  const person = record?.state.userId ?? ((request.userId ?? request.anonymousId) as string);

  // Segments are personalization too: without consent, none applies.
  const segments = new Set(personalized ? Object.keys(record?.memberships?.segments ?? {}) : []);
  const serving = servingFor(deps.config, segments, person);
  const { settings } = serving;

  // Without consent, the one strategy that reads nothing about the person.
  let strategy: Strategy = personalized ? settings.strategy : 'popular';
  let candidates: Candidate[] | undefined;
  if (strategy === 'personalize') {
    candidates = await fromPersonalize(request, deps);
    if (candidates === undefined) strategy = 'hybrid';
  }
  candidates ??= await builtIn(request, signals, state, strategy, settings, now, deps);

  const items = applyRules(candidates, settings.rules, ruleContextOf(request, signals, state.unavailable)).map((c) => ({ itemId: c.itemId, score: Number(c.score.toPrecision(6)), reasons: c.reasons }));

  const response: RecommendationResponse = {
    recommendationId: deps.newId(),
    strategy,
    variant: serving.variant,
    personalized,
    ...(serving.experiment ? { experiment: serving.experiment } : {}),
    ...(serving.segment ? { segment: serving.segment } : {}),
    ...(state.manifest ? { modelVersion: state.manifest.version } : {}),
    items,
  };
  recordMetrics(deps.metrics, response, signals, state.manifest ? now - state.manifest.trainedAt : undefined);
  if (deps.config.exposureEvents && items.length > 0) await writeExposure(request, response, now, deps);
  return response;
}

async function builtIn(
  request: RecommendationRequest,
  signals: PersonalSignals,
  state: ServingState,
  strategy: Strategy,
  settings: ServingSettings,
  now: number,
  deps: RecommendDeps,
): Promise<Candidate[]> {
  const manifest = state.manifest;
  const wanted = listsToFetch(signals, strategy, request);
  const lists = manifest ? await deps.model.lists(manifest.version, wanted.itemIds, wanted.categories) : { neighbours: new Map(), byCategory: new Map() };
  return builtInCandidates({
    request,
    signals,
    strategy,
    preferredCategories: wanted.categories,
    weights: settings.scoring,
    nowMs: now,
    neighbours: lists.neighbours,
    popularity: { trending: manifest?.trending ?? [], global: manifest?.global ?? [], byCategory: lists.byCategory },
    catalogFallback: state.catalogFallback,
  });
}

/** Amazon Personalize's list, or undefined when it failed or timed out (the built-in strategy stands in). */
async function fromPersonalize(request: RecommendationRequest, deps: RecommendDeps): Promise<Candidate[] | undefined> {
  if (!deps.personalize) return undefined;
  try {
    // Ask for more than the limit: rules may remove some.
    const numResults = Math.min(500, request.limit * 3);
    const items = await deps.personalize.recommend({
      userId: (request.userId ?? request.anonymousId) as string,
      ...(request.itemId !== undefined ? { itemId: request.itemId } : {}),
      numResults,
    });
    return items.map((i) => ({ itemId: i.itemId, score: i.score, categories: [], reasons: ['personalize'] }));
  } catch (error) {
    deps.logger.warn('Amazon Personalize failed; serving the built-in strategy', { error: (error as Error).message });
    deps.metrics.addMetric('PersonalizeFallbacks', MetricUnit.Count, 1);
    return undefined;
  }
}

async function writeExposure(request: RecommendationRequest, response: RecommendationResponse, now: number, deps: RecommendDeps): Promise<void> {
  const message = {
    type: 'track',
    event: EXPOSURE_EVENT,
    ...(request.userId !== undefined ? { userId: request.userId } : {}),
    ...(request.anonymousId !== undefined ? { anonymousId: request.anonymousId } : {}),
    messageId: `rec-${response.recommendationId}`,
    timestamp: new Date(now).toISOString(),
    properties: {
      recommendation_id: response.recommendationId,
      strategy: response.strategy,
      variant: response.variant,
      ...(response.experiment ? { experiment: response.experiment } : {}),
      ...(response.modelVersion ? { model_version: response.modelVersion } : {}),
      ...(request.itemId !== undefined ? { context_item_id: request.itemId } : {}),
      ...(request.category !== undefined ? { category: request.category } : {}),
      products: response.items.map((item, i) => ({ product_id: item.itemId, position: i + 1 })),
    },
  };
  const exposure = validateMessage(message, { receivedAt: now, sourceId: 'recommendations-api' });
  if (typeof exposure === 'string') {
    deps.logger.error('Exposure event is invalid', { reason: exposure });
    return;
  }
  // An exposure that cannot be written costs attribution, not the response.
  const { failed, lastError } = await deps.events.put([exposure as StreamEvent]).catch((error: Error) => ({ failed: [exposure], lastError: error.message }));
  if (failed.length > 0) {
    deps.logger.warn('Exposure event not written', { recommendationId: response.recommendationId, error: lastError });
    deps.metrics.addMetric('ExposuresLost', MetricUnit.Count, 1);
  }
}

function recordMetrics(metrics: Metrics, response: RecommendationResponse, signals: PersonalSignals, modelAgeMs: number | undefined): void {
  metrics.addMetric('RecommendationsServed', MetricUnit.Count, 1);
  // The age of the model version that served: an alarm says when training has stopped.
  if (modelAgeMs !== undefined) metrics.addMetric('ModelAgeHours', MetricUnit.NoUnit, Math.max(0, modelAgeMs) / 3_600_000);
  const byStrategy = metrics.singleMetric();
  byStrategy.addDimensions({ strategy: response.strategy, variant: response.variant });
  byStrategy.addMetric('RecommendationsByStrategy', MetricUnit.Count, 1);
  if (signals.recent.length === 0) metrics.addMetric('ColdStartRequests', MetricUnit.Count, 1);
  if (response.items.length > 0 && response.items.every((i) => !i.reasons.some((r) => r.startsWith('similar:') || r.startsWith('context:') || r === 'personalize'))) {
    metrics.addMetric('FallbackResponses', MetricUnit.Count, 1);
  }
}

/** The query string, validated: every problem is a 400 naming the parameter. */
export function parseRequest(query: Record<string, string | undefined>): RecommendationRequest {
  const userId = idParam(query, 'userId');
  const anonymousId = idParam(query, 'anonymousId');
  if (userId === undefined && anonymousId === undefined) throw new RequestError(400, 'Give userId or anonymousId');
  const limit = query.limit === undefined || query.limit === '' ? DEFAULT_LIMIT : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new RequestError(400, `limit must be an integer from 1 to ${MAX_LIMIT}`);
  const itemId = idParam(query, 'itemId');
  let category: string | undefined;
  if (query.category !== undefined && query.category !== '') {
    category = normalizeCategory(query.category);
    if (category === undefined) throw new RequestError(400, 'category must be 1 to 100 characters');
  }
  const exclude = (query.exclude ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (exclude.length > MAX_EXCLUDED) throw new RequestError(400, `exclude lists at most ${MAX_EXCLUDED} item ids`);
  if (exclude.some((id) => id.length > LIMITS.maxIdLength)) throw new RequestError(400, `exclude has an item id longer than ${LIMITS.maxIdLength} characters`);
  return {
    ...(userId !== undefined ? { userId } : {}),
    ...(anonymousId !== undefined ? { anonymousId } : {}),
    limit,
    ...(itemId !== undefined ? { itemId } : {}),
    ...(category !== undefined ? { category } : {}),
    exclude,
  };
}

function idParam(query: Record<string, string | undefined>, name: string): string | undefined {
  const value = query[name]?.trim();
  if (value === undefined || value === '') return undefined;
  if (value.length > LIMITS.maxIdLength) throw new RequestError(400, `${name} is longer than ${LIMITS.maxIdLength} characters`);
  return value;
}
