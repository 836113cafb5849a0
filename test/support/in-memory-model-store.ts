import { listsFor, type RankedItem, type TrainedModel } from '../../lambdas/shared/domain/model';
import type { ModelLists, ModelStore, ServingState } from '../../lambdas/shared/store/model-store';

/**
 * A `ModelStore` over a `TrainedModel` in memory, with the same answers as `DynamoDbModelStore` over the
 * same model (lists for unknown items or categories are simply absent). Counts calls, so tests and the
 * benchmark can check the number of reads per request.
 */
export class InMemoryModelStore implements ModelStore {
  readonly calls = { servingState: 0, lists: 0 };
  unavailable = new Set<string>();
  catalogFallback: RankedItem[] = [];

  constructor(
    private readonly model?: TrainedModel,
    private readonly version = 'v1',
  ) {}

  async servingState(): Promise<ServingState> {
    this.calls.servingState++;
    const m = this.model;
    return {
      ...(m
        ? {
            manifest: {
              version: this.version,
              algorithm: m.algorithm,
              trainedAt: m.trainedAt,
              stats: m.stats,
              global: m.popularity.global,
              trending: m.popularity.trending,
            },
          }
        : {}),
      unavailable: new Set(this.unavailable),
      catalogFallback: m ? [] : this.catalogFallback,
    };
  }

  async lists(version: string, itemIds: readonly string[], categories: readonly string[]): Promise<ModelLists> {
    this.calls.lists++;
    if (!this.model || version !== this.version) return { neighbours: new Map(), byCategory: new Map() };
    return listsFor(this.model, itemIds, categories);
  }
}
