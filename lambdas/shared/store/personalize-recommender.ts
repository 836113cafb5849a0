import { GetRecommendationsCommand, type PersonalizeRuntimeClient } from '@aws-sdk/client-personalize-runtime';

/** How long a request may wait for Personalize before falling back to the built-in strategy. */
export const DEFAULT_PERSONALIZE_TIMEOUT_MS = 150;

/** One GetRecommendations call; the campaign is the recommender's. */
export interface PersonalizeRecommendationRequest {
  userId: string;
  /** The item being looked at, for campaigns whose recipe takes one (e.g. related items). */
  itemId?: string;
  /** 1 to 500 (Personalize's bound). */
  numResults: number;
  /** A Personalize filter (without placeholders) to apply, e.g. to exclude purchased items. */
  filterArn?: string;
}

/** A recommended item and Personalize's score for it. */
export interface ScoredItemId {
  itemId: string;
  score: number;
}

/**
 * Recommendations from an Amazon Personalize campaign (GetRecommendations), under a hard deadline: the call is
 * aborted after `timeoutMs` and the promise rejects then, whatever the SDK is doing (retrying, resolving
 * credentials). Rejects on every error, so the caller can fall back (the recommend function serves `hybrid` then).
 */
export class PersonalizeRecommender {
  constructor(
    private readonly client: PersonalizeRuntimeClient,
    private readonly campaignArn: string,
    private readonly timeoutMs: number = DEFAULT_PERSONALIZE_TIMEOUT_MS,
  ) {}

  /** The campaign's items for the request, in Personalize's order (a missing score reads as 0). */
  async recommend(request: PersonalizeRecommendationRequest): Promise<ScoredItemId[]> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`Personalize GetRecommendations timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
    try {
      const command = new GetRecommendationsCommand({ campaignArn: this.campaignArn, ...request });
      const output = await Promise.race([this.client.send(command, { abortSignal: controller.signal }), rejectOnAbort(controller.signal)]);
      return (output.itemList ?? []).flatMap((item) => (item.itemId ? [{ itemId: item.itemId, score: item.score ?? 0 }] : []));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Rejects with the abort reason once `signal` aborts. */
function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
}

