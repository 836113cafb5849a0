import {
  AttributeValue,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { CatalogItem } from '../domain/catalog';
import { RequestError } from '../domain/errors';
import { ITEMS_KEY } from '../env';
import { ITEM_KEYS } from './items-table';
import { batchWriteAll } from './batch';

/**
 * The item catalog and the set of items that must not be recommended (unavailable, or deleted since the current
 * model was trained). Every write keeps that set ahead of the rows, so serving never recommends an item that is
 * unavailable or deleted, even between the two steps of a write or when the second step fails.
 */
export interface CatalogStore {
  /**
   * Writes whole items (each id at most once). Unavailable items join the unavailable set before their rows are
   * written; available items leave it after. Throws a `RequestError` (409) when the set has no room, having
   * written nothing.
   */
  upsert(items: readonly CatalogItem[]): Promise<void>;
  /**
   * Deletes an item; whether it existed. The id joins the unavailable set first (even when the catalog did not
   * know it: the model may still hold it from events) and stays there until training prunes it.
   */
  delete(itemId: string): Promise<boolean>;
  get(itemId: string): Promise<CatalogItem | undefined>;
  /** Every catalog item, page by page. */
  scan(): AsyncIterable<CatalogItem>;
  /** The ids serving must not recommend. */
  unavailable(): Promise<Set<string>>;
  /** Removes ids from the unavailable set (training, for deleted items its new model no longer holds). */
  forgetUnavailable(ids: Iterable<string>): Promise<void>;
}

/**
 * Most ids the unavailable set holds. Serving reads the whole set, and it is one DynamoDB item (≤ 400 KB, which
 * long ids reach first: that is refused with the same error).
 */
export const MAX_UNAVAILABLE_IDS = 10_000;

const PK = ITEMS_KEY.partitionKey;

/**
 * The catalog in the items table (see `items-table.ts`): one row per item, `pk` = `item#<itemId>`, the item as JSON
 * in `item` and `updatedAt`; the unavailable ids in the string set `ids` of the `catalog#unavailable` row.
 */
export class DynamoDbCatalogStore implements CatalogStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async upsert(items: readonly CatalogItem[]): Promise<void> {
    await this.hide(items.filter((item) => !item.available).map((item) => item.itemId));
    await this.writeRows(items);
    await this.forgetUnavailable(items.filter((item) => item.available).map((item) => item.itemId));
  }

  async delete(itemId: string): Promise<boolean> {
    await this.hide([itemId]);
    const out = await this.client.send(
      new DeleteItemCommand({ TableName: this.tableName, Key: { [PK]: { S: ITEM_KEYS.catalogItem(itemId) } }, ReturnValues: 'ALL_OLD' }),
    );
    return out.Attributes !== undefined;
  }

  async get(itemId: string): Promise<CatalogItem | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { [PK]: { S: ITEM_KEYS.catalogItem(itemId) } }, ConsistentRead: true }),
    );
    return out.Item ? fromRow(out.Item) : undefined;
  }

  async *scan(): AsyncIterable<CatalogItem> {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await catalogPage(this.client, this.tableName, { ...(startKey ? { startKey } : {}) });
      yield* page.items;
      startKey = page.next;
    } while (startKey);
  }

  async unavailable(): Promise<Set<string>> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: UNAVAILABLE_KEY, ConsistentRead: true }));
    return new Set(out.Item?.ids?.SS ?? []);
  }

  async forgetUnavailable(ids: Iterable<string>): Promise<void> {
    const remove = [...ids];
    if (remove.length === 0) return; // DynamoDB refuses an empty set
    // DynamoDB drops the attribute when its last id goes.
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: UNAVAILABLE_KEY,
        UpdateExpression: 'DELETE ids :ids',
        ExpressionAttributeValues: { ':ids': { SS: remove } },
      }),
    );
  }

  /** Adds ids to the unavailable set, refusing (409) when the set could then hold more than MAX_UNAVAILABLE_IDS. */
  private async hide(ids: string[]): Promise<void> {
    if (ids.length === 0) return; // DynamoDB refuses an empty set
    if (ids.length > MAX_UNAVAILABLE_IDS) throw unavailableSetFull(ids.length);
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: UNAVAILABLE_KEY,
          UpdateExpression: 'ADD ids :ids',
          // Counts every id as new (some may be in the set already): the bound is conservative, never exceeded.
          ConditionExpression: 'attribute_not_exists(ids) OR size(ids) <= :room',
          ExpressionAttributeValues: { ':ids': { SS: ids }, ':room': { N: String(MAX_UNAVAILABLE_IDS - ids.length) } },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error) || isItemTooLarge(error)) throw unavailableSetFull(ids.length);
      throw error;
    }
  }

  private writeRows(items: readonly CatalogItem[]): Promise<void> {
    return batchWriteAll(this.client, this.tableName, items.map((item) => ({ PutRequest: { Item: toRow(item) } })));
  }
}

const UNAVAILABLE_KEY: Record<string, AttributeValue> = { [PK]: { S: ITEM_KEYS.unavailable } };

const unavailableSetFull = (adding: number) =>
  new RequestError(
    409,
    `The unavailable-items set has no room for ${adding} more id${adding === 1 ? '' : 's'} (it holds at most ${MAX_UNAVAILABLE_IDS}); ` +
      'nothing was written. Make items available again, or let training prune deleted ones, then retry.',
  );

const isConditionFailure = (error: unknown) => (error as Error).name === 'ConditionalCheckFailedException';
/** DynamoDB's answer when an update would take an item past 400 KB. */
const isItemTooLarge = (error: unknown) => (error as Error).name === 'ValidationException' && /item size/i.test((error as Error).message);

function toRow(item: CatalogItem): Record<string, AttributeValue> {
  return {
    [PK]: { S: ITEM_KEYS.catalogItem(item.itemId) },
    item: { S: JSON.stringify(item) },
    updatedAt: { N: String(item.updatedAt) },
  };
}

function fromRow(row: Record<string, AttributeValue>): CatalogItem {
  return JSON.parse(row.item.S as string);
}

/** One page of a scan of the catalog rows (at most `limit` rows of the table examined), and where the next page starts. */
export async function catalogPage(
  client: DynamoDBClient,
  tableName: string,
  options: { startKey?: Record<string, AttributeValue>; limit?: number } = {},
): Promise<{ items: CatalogItem[]; next?: Record<string, AttributeValue> }> {
  const out = await client.send(
    new ScanCommand({
      TableName: tableName,
      FilterExpression: 'begins_with(#pk, :prefix)',
      ExpressionAttributeNames: { '#pk': PK },
      ExpressionAttributeValues: { ':prefix': { S: ITEM_KEYS.catalogItemPrefix } },
      ...(options.startKey ? { ExclusiveStartKey: options.startKey } : {}),
      ...(options.limit ? { Limit: options.limit } : {}),
    }),
  );
  return { items: (out.Items ?? []).map(fromRow), ...(out.LastEvaluatedKey ? { next: out.LastEvaluatedKey } : {}) };
}
