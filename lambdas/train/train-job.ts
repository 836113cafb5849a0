import { Interaction, TrainedModel } from '../shared/domain/model';
import { trainModel, TrainingOptions } from '../shared/domain/training';
import type { CatalogStore } from '../shared/store/catalog-store';
import { DynamoDbModelStore, ModelManifest } from '../shared/store/model-store';

export interface TrainJobDeps {
  catalog: CatalogStore;
  models: Pick<DynamoDbModelStore, 'currentVersion' | 'writeVersion' | 'switchTo'>;
  now: () => number;
  log: (message: string) => void;
}

export interface TrainJobOptions {
  /** Days the new version's rows live (the serving version must be replaced before then). */
  retentionDays: number;
  training?: Partial<TrainingOptions>;
}

export interface TrainJobResult {
  version: string;
  previousVersion?: string;
  algorithm: string;
  stats: TrainedModel['stats'];
  rowsWritten: number;
  /** Deleted items forgotten by the unavailable set because the new model no longer holds them. */
  pruned: number;
  seconds: { read: number; train: number; write: number };
}

/**
 * One training run: read the catalog and the interactions, train, write the new version's rows, then switch
 * the pointer in one conditional write. A run that fails anywhere before the switch leaves the serving model
 * untouched (its partial rows expire); a run that loses the race to a concurrent one does not switch.
 */
export async function runTraining(interactions: AsyncIterable<Interaction> | Iterable<Interaction>, deps: TrainJobDeps, options: TrainJobOptions): Promise<TrainJobResult> {
  const t0 = performance.now();
  const catalog = new Map<string, { categories: string[]; createdAt?: number }>();
  for await (const item of deps.catalog.scan()) catalog.set(item.itemId, { categories: item.categories, ...(item.createdAt !== undefined ? { createdAt: item.createdAt } : {}) });
  const rows: Interaction[] = [];
  for await (const interaction of interactions) rows.push(interaction);
  const t1 = performance.now();
  deps.log(`Read ${rows.length} interactions and ${catalog.size} catalog items`);

  const model = trainModel(rows, options.training, catalog);
  const t2 = performance.now();
  deps.log(`Trained ${model.algorithm}: ${model.stats.modelItems} items with neighbours`);

  const now = deps.now();
  const version = versionAt(now);
  const previous = await deps.models.currentVersion();
  const rowsWritten = await deps.models.writeVersion(version, model, Math.round(options.retentionDays * 86_400), now);
  const manifest: ModelManifest = {
    version,
    algorithm: model.algorithm,
    trainedAt: model.trainedAt,
    stats: model.stats,
    global: model.popularity.global,
    trending: model.popularity.trending,
  };
  if (!(await deps.models.switchTo(manifest, previous))) throw new Error(`Another training run switched the model while version ${version} was being written; ${version} is not served`);
  const pruned = await pruneDeleted(model, catalog, deps.catalog);
  const t3 = performance.now();
  deps.log(`Serving version ${version} (${rowsWritten} rows)${previous ? `, replacing ${previous}` : ''}`);

  return {
    version,
    ...(previous ? { previousVersion: previous } : {}),
    algorithm: model.algorithm,
    stats: model.stats,
    rowsWritten,
    pruned,
    seconds: { read: (t1 - t0) / 1000, train: (t2 - t1) / 1000, write: (t3 - t2) / 1000 },
  };
}

/** Versions sort by time: `v20261122T101500Z-3f9a`. */
export function versionAt(nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `v${stamp}-${Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0')}`;
}

/**
 * A deleted item stays in the unavailable set while a served model can still recommend it; once the new model
 * holds it nowhere, it is forgotten, which keeps the set small.
 */
async function pruneDeleted(model: TrainedModel, catalog: ReadonlyMap<string, unknown>, store: CatalogStore): Promise<number> {
  const inModel = itemsOf(model);
  const forgettable = [...(await store.unavailable())].filter((id) => !catalog.has(id) && !inModel.has(id));
  if (forgettable.length > 0) await store.forgetUnavailable(forgettable);
  return forgettable.length;
}

function itemsOf(model: TrainedModel): Set<string> {
  const ids = new Set<string>();
  const add = (list: Iterable<{ itemId: string }>) => {
    for (const r of list) ids.add(r.itemId);
  };
  for (const [itemId, list] of model.neighbours) {
    ids.add(itemId);
    add(list);
  }
  add(model.popularity.global);
  add(model.popularity.trending);
  for (const list of model.popularity.byCategory.values()) add(list);
  return ids;
}
