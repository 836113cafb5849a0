import type { RankedItem, TrainedModel } from '../../lambdas/shared/domain/model';
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
    private model?: TrainedModel,
    private version = 'v1',
  ) {}

  use(model: TrainedModel, version: string): void {
    this.model = model;
    this.version = version;
  }

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
    const result: ModelLists = { neighbours: new Map(), byCategory: new Map() };
    if (!this.model || version !== this.version) return result;
    for (const id of itemIds) {
      const list = this.model.neighbours.get(id);
      if (list && list.length > 0) result.neighbours.set(id, list);
    }
    for (const category of categories) {
      const list = this.model.popularity.byCategory.get(category);
      if (list) result.byCategory.set(category, list);
    }
    return result;
  }
}
