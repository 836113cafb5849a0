import { AttributeValue, BatchGetItemCommand, BatchWriteItemCommand, DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import { forEachLimited } from '../concurrency';
import { retryUntilDone } from './retry';

/**
 * DynamoDB's batch calls for one table, with their limits and partial successes handled in one place: keys and
 * writes are split into calls of at most 100 and 25, and each call is repeated (with backoff) until DynamoDB has
 * processed everything it returned as unprocessed.
 */

/** DynamoDB's BatchGetItem limit. */
const BATCH_GET_LIMIT = 100;
/** DynamoDB's BatchWriteItem limit. */
const BATCH_WRITE_LIMIT = 25;

export interface BatchGetOptions {
  consistentRead?: boolean;
  /** Called before every BatchGetItem call (to count store requests). */
  onRequest?: () => void;
}

/** The items found for `keys`, in no particular order. The calls go out in parallel: one round trip. */
export async function batchGetAll(
  client: DynamoDBClient,
  tableName: string,
  keys: ReadonlyArray<Record<string, AttributeValue>>,
  options: BatchGetOptions = {},
): Promise<Array<Record<string, AttributeValue>>> {
  const found: Array<Record<string, AttributeValue>> = [];
  await Promise.all(
    chunks(keys, BATCH_GET_LIMIT).map(async (chunk) => {
      let pending = chunk;
      await retryUntilDone(`BatchGetItem on ${tableName}`, async () => {
        options.onRequest?.();
        const out = await client.send(
          new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: pending, ...(options.consistentRead ? { ConsistentRead: true } : {}) } } }),
        );
        found.push(...(out.Responses?.[tableName] ?? []));
        pending = out.UnprocessedKeys?.[tableName]?.Keys ?? [];
        return pending.length === 0;
      });
    }),
  );
  return found;
}

/** Writes every request, `concurrency` calls at a time. */
export async function batchWriteAll(client: DynamoDBClient, tableName: string, requests: readonly WriteRequest[], concurrency = 1): Promise<void> {
  await forEachLimited(chunks(requests, BATCH_WRITE_LIMIT), concurrency, async (chunk) => {
    let pending = chunk;
    await retryUntilDone(`BatchWriteItem on ${tableName}`, async () => {
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
      pending = out.UnprocessedItems?.[tableName] ?? [];
      return pending.length === 0;
    });
  });
}

function chunks<T>(values: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}
