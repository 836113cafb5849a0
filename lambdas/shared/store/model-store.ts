import { AttributeValue, ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ITEMS_KEY, TTL_ATTRIBUTE } from '../env';
import { RankedItem, TrainedModel } from '../domain/model';
import { catalogPage } from './catalog-store';
import { ITEM_KEYS } from './items-table';
import { batchGetAll, batchWriteAll } from './batch';

/** What the pointer row carries besides the version: everything serving needs that is not per item or per category. */
export interface ModelManifest {
  version: string;
  algorithm: string;
  trainedAt: number;
  stats: TrainedModel['stats'];
  global: RankedItem[];
  trending: RankedItem[];
}

/** The first read of a request (cached per function instance): the current model and what must not be shown. */
export interface ServingState {
  /** Undefined until a model has been trained. */
  manifest?: ModelManifest;
  /** Unavailable or deleted catalog items. */
  unavailable: Set<string>;
  /** Newest catalog items, read only while there is no model, so a fresh install still recommends something. */
  catalogFallback: RankedItem[];
}

/** The second read of a request: the lists one request needs from one model version. */
export interface ModelLists {
  neighbours: Map<string, RankedItem[]>;
  byCategory: Map<string, RankedItem[]>;
}

export interface ModelStore {
  servingState(): Promise<ServingState>;
  lists(version: string, itemIds: readonly string[], categories: readonly string[]): Promise<ModelLists>;
}

const PK = ITEMS_KEY.partitionKey;
/** Catalog items read for the no-model fallback. */
const CATALOG_FALLBACK_ITEMS = 200;

/**
 * The model in the items table (layout in `items-table.ts`). Serving makes at most two sequential reads per
 * request: `servingState` (one BatchGetItem of the pointer and the unavailable set, cached by `CachedModelStore`)
 * next to the profile read, then `lists` (one BatchGetItem of neighbour and category rows).
 */
export class DynamoDbModelStore implements ModelStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly onRequest: () => void = () => {},
  ) {}

  async servingState(): Promise<ServingState> {
    const rows = await this.batchGet([ITEM_KEYS.modelPointer, ITEM_KEYS.unavailable]);
    const pointer = rows.get(ITEM_KEYS.modelPointer);
    const unavailable = new Set(rows.get(ITEM_KEYS.unavailable)?.ids?.SS ?? []);
    const manifest = pointer ? (JSON.parse(pointer.manifest.S as string) as ModelManifest) : undefined;
    return { ...(manifest ? { manifest } : {}), unavailable, catalogFallback: manifest ? [] : await this.newestCatalogItems() };
  }

  /**
   * The serving model's version (undefined: no model yet), for a training run to switch from: one GetItem of the
   * pointer's `version` only, read like `servingState` reads it but without the unavailable set or the catalog.
   */
  async currentVersion(): Promise<string | undefined> {
    this.onRequest();
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { [PK]: { S: ITEM_KEYS.modelPointer } },
        ProjectionExpression: '#version',
        ExpressionAttributeNames: { '#version': 'version' },
      }),
    );
    return out.Item?.version?.S;
  }

  async lists(version: string, itemIds: readonly string[], categories: readonly string[]): Promise<ModelLists> {
    const neighbourKeys = new Map([...new Set(itemIds)].map((id) => [ITEM_KEYS.neighbours(version, id), id]));
    const categoryKeys = new Map([...new Set(categories)].map((c) => [ITEM_KEYS.popular(version, c), c]));
    const rows = await this.batchGet([...neighbourKeys.keys(), ...categoryKeys.keys()]);
    const result: ModelLists = { neighbours: new Map(), byCategory: new Map() };
    for (const [key, row] of rows) {
      const list = decodeList(row.list.S as string);
      if (neighbourKeys.has(key)) result.neighbours.set(neighbourKeys.get(key) as string, list);
      else if (categoryKeys.has(key)) result.byCategory.set(categoryKeys.get(key) as string, list);
    }
    return result;
  }

  /**
   * Writes every row of a new model version (neighbours and category lists, expiring after `ttlSeconds`).
   * Nothing reads them until `switchTo` moves the pointer.
   */
  async writeVersion(version: string, model: TrainedModel, ttlSeconds: number, nowMs: number): Promise<number> {
    const expiresAt = { N: String(Math.floor(nowMs / 1000) + ttlSeconds) };
    const rows: Array<Record<string, AttributeValue>> = [];
    for (const [itemId, list] of model.neighbours) {
      if (list.length > 0) rows.push({ [PK]: { S: ITEM_KEYS.neighbours(version, itemId) }, list: { S: encodeList(list) }, [TTL_ATTRIBUTE]: expiresAt });
    }
    for (const [category, list] of model.popularity.byCategory) {
      rows.push({ [PK]: { S: ITEM_KEYS.popular(version, category) }, list: { S: encodeList(list) }, [TTL_ATTRIBUTE]: expiresAt });
    }
    await batchWriteAll(this.client, this.tableName, rows.map((Item) => ({ PutRequest: { Item } })), 4);
    return rows.length;
  }

  /**
   * Makes `manifest.version` the serving model in one conditional write, if the current version is still
   * `expectedVersion` (undefined: no model yet). Returns false when another training run switched first.
   */
  async switchTo(manifest: ModelManifest, expectedVersion: string | undefined): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: { [PK]: { S: ITEM_KEYS.modelPointer }, version: { S: manifest.version }, manifest: { S: JSON.stringify(manifest) } },
          ...(expectedVersion === undefined
            ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PK } }
            : {
                ConditionExpression: '#version = :expected',
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: { ':expected': { S: expectedVersion } },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** The rows of `keys` by key, in one round trip (see `batchGetAll`). */
  private async batchGet(keys: readonly string[]): Promise<Map<string, Record<string, AttributeValue>>> {
    const items = await batchGetAll(this.client, this.tableName, keys.map((key) => ({ [PK]: { S: key } })), { onRequest: this.onRequest });
    return new Map(items.map((item) => [item[PK].S as string, item]));
  }

  /** One page of catalog items, newest first: the recommendations of a platform that has a catalog but no model yet. */
  private async newestCatalogItems(): Promise<RankedItem[]> {
    this.onRequest();
    const { items } = await catalogPage(this.client, this.tableName, { limit: CATALOG_FALLBACK_ITEMS });
    return items
      .filter((item) => item.available)
      .sort((a, b) => (b.createdAt ?? 0) - (a.createdAt ?? 0) || (a.itemId < b.itemId ? -1 : 1))
      .map((item) => ({ itemId: item.itemId, score: 0, categories: item.categories }));
  }
}

/**
 * Reuses the serving state for `ttlMs`, so a warm function reads only the profile and the lists per request.
 * A new model version or an availability change is therefore seen within `ttlMs`; concurrent misses share one read.
 */
export class CachedModelStore implements ModelStore {
  private cached?: { state: Promise<ServingState>; until: number };

  constructor(
    private readonly inner: ModelStore,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  servingState(): Promise<ServingState> {
    const now = this.now();
    if (!this.cached || this.cached.until <= now) {
      const state = this.inner.servingState();
      this.cached = { state, until: now + this.ttlMs };
      // A failed read is not cached.
      state.catch(() => {
        if (this.cached?.state === state) this.cached = undefined;
      });
    }
    return this.cached.state;
  }

  lists(version: string, itemIds: readonly string[], categories: readonly string[]): Promise<ModelLists> {
    return this.inner.lists(version, itemIds, categories);
  }
}

/**
 * Lists are stored compactly, scores to 6 significant digits: `[itemId, score, [categories]]` per entry, and
 * `[itemId, score]` for a negative weight (it only lowers candidates other entries brought, so its categories are
 * never read).
 */
function encodeList(list: readonly RankedItem[]): string {
  return JSON.stringify(list.map((r) => (r.score < 0 ? [r.itemId, Number(r.score.toPrecision(6))] : [r.itemId, Number(r.score.toPrecision(6)), r.categories])));
}

function decodeList(json: string): RankedItem[] {
  return (JSON.parse(json) as Array<[string, number, string[]?]>).map(([itemId, score, categories]) => ({ itemId, score, categories: categories ?? [] }));
}

