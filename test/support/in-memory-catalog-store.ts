import type { CatalogItem } from '../../lambdas/shared/domain/catalog';
import type { CatalogStore } from '../../lambdas/shared/store/catalog-store';

/** Hook run at the start of a store call: throw to inject a failure. */
export type CatalogHook<A extends unknown[]> = (...args: A) => void | Promise<void>;

/**
 * A `CatalogStore` in memory with `DynamoDbCatalogStore`'s semantics: whole-item upserts, the unavailable set
 * kept as writes and deletes change availability (deleted ids stay in it), items stored and returned as JSON
 * copies (as the real store keeps them). The set's bound is not modelled: throw from a hook to test it.
 */
export class InMemoryCatalogStore implements CatalogStore {
  private readonly items = new Map<string, string>();
  private readonly hidden = new Set<string>();
  readonly calls = { upsert: 0, delete: 0, get: 0, scan: 0, unavailable: 0, forgetUnavailable: 0 };

  beforeUpsert?: CatalogHook<[items: readonly CatalogItem[]]>;
  beforeDelete?: CatalogHook<[itemId: string]>;

  /** The stored item (a copy), bypassing the call counters. */
  peek(itemId: string): CatalogItem | undefined {
    const json = this.items.get(itemId);
    return json === undefined ? undefined : JSON.parse(json);
  }

  /** The unavailable set (a copy), bypassing the call counters. */
  peekUnavailable(): Set<string> {
    return new Set(this.hidden);
  }

  async upsert(items: readonly CatalogItem[]): Promise<void> {
    this.calls.upsert += 1;
    await this.beforeUpsert?.(items);
    for (const item of items) {
      this.items.set(item.itemId, JSON.stringify(item));
      if (item.available) this.hidden.delete(item.itemId);
      else this.hidden.add(item.itemId);
    }
  }

  async delete(itemId: string): Promise<boolean> {
    this.calls.delete += 1;
    await this.beforeDelete?.(itemId);
    this.hidden.add(itemId);
    return this.items.delete(itemId);
  }

  async get(itemId: string): Promise<CatalogItem | undefined> {
    this.calls.get += 1;
    return this.peek(itemId);
  }

  async *scan(): AsyncIterable<CatalogItem> {
    this.calls.scan += 1;
    for (const json of [...this.items.values()]) yield JSON.parse(json);
  }

  async unavailable(): Promise<Set<string>> {
    this.calls.unavailable += 1;
    return this.peekUnavailable();
  }

  async forgetUnavailable(ids: Iterable<string>): Promise<void> {
    this.calls.forgetUnavailable += 1;
    for (const id of ids) this.hidden.delete(id);
  }
}
