import { AttributeValue, DynamoDBClient, GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ErasureRecord } from '../domain/erasure';
import { ERASURES_KEY, TTL_ATTRIBUTE } from '../env';

/** Erasure requests: created pending by the API, completed by the worker. */
export interface ErasureStore {
  put(record: ErasureRecord): Promise<void>;
  get(erasureId: string): Promise<ErasureRecord | undefined>;
  /** Pending requests whose lake step may start (`notBefore` ≤ `nowMs`), oldest first. */
  listDue(nowMs: number): Promise<ErasureRecord[]>;
}

/** Days a completed request's record (status and counts, no personal data) is kept. */
export const COMPLETED_RETENTION_DAYS = 400;

const PK = ERASURES_KEY.partitionKey;

/**
 * Erasure requests in DynamoDB, one item each: `pk` (the erasure id), `status`, `notBefore`, the record as JSON
 * in `erasure`, and once complete `expiresAt`. Requests are rare (a handful a day), so the worker finds the pending
 * ones with a Scan rather than an index.
 */
export class DynamoDbErasureStore implements ErasureStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async put(record: ErasureRecord): Promise<void> {
    const item: Record<string, AttributeValue> = {
      [PK]: { S: record.erasureId },
      status: { S: record.status },
      notBefore: { N: String(record.notBefore) },
      erasure: { S: JSON.stringify(record) },
      ...(record.completedAt !== undefined ? { [TTL_ATTRIBUTE]: { N: String(Math.floor(record.completedAt / 1000) + COMPLETED_RETENTION_DAYS * 86_400) } } : {}),
    };
    await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: item }));
  }

  async get(erasureId: string): Promise<ErasureRecord | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { [PK]: { S: erasureId } }, ConsistentRead: true }));
    return out.Item ? JSON.parse(out.Item.erasure.S as string) : undefined;
  }

  async listDue(nowMs: number): Promise<ErasureRecord[]> {
    const found: ErasureRecord[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          ConsistentRead: true,
          FilterExpression: '#status = :pending AND #notBefore <= :now',
          ExpressionAttributeNames: { '#status': 'status', '#notBefore': 'notBefore' },
          ExpressionAttributeValues: { ':pending': { S: 'pending' }, ':now': { N: String(nowMs) } },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of out.Items ?? []) found.push(JSON.parse(item.erasure.S as string));
      start = out.LastEvaluatedKey;
    } while (start);
    return found.sort((a, b) => a.requestedAt - b.requestedAt);
  }
}
