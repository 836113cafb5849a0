import { AttributeValue, DeleteItemCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { LocalTable } from './template-model';

/**
 * DynamoDB TTL for the emulator (dynalite has none): deletes items whose TTL attribute is an epoch-seconds
 * number in the past, as DynamoDB's background process does (lazily: readers must not rely on it). The
 * delete is conditional, so an item refreshed after the scan survives.
 */
export class TtlSweeper {
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<number>;

  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tables: LocalTable[],
    private readonly now: () => number = Date.now,
  ) {}

  start(intervalMs: number, log: (message: string) => void): void {
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep()
        .catch((error) => {
          log(`TTL sweep failed: ${error}`);
          return 0;
        })
        .finally(() => (this.sweeping = undefined));
    }, intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** One pass over every table with a TTL attribute; returns how many items were deleted. */
  async sweep(): Promise<number> {
    let deleted = 0;
    for (const table of this.tables.filter((t) => t.ttlAttribute)) {
      const keyNames = table.keySchema.map((k) => k.AttributeName);
      const names = { '#ttl': table.ttlAttribute as string, ...Object.fromEntries(keyNames.map((k, i) => [`#k${i}`, k])) };
      let startKey: Record<string, AttributeValue> | undefined;
      do {
        const nowSeconds = { ':now': { N: String(Math.floor(this.now() / 1000)) } };
        const page = await this.dynamodb.send(
          new ScanCommand({
            TableName: table.name,
            FilterExpression: '#ttl < :now',
            ProjectionExpression: keyNames.map((_, i) => `#k${i}`).join(', '),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: nowSeconds,
            ExclusiveStartKey: startKey,
          }),
        );
        for (const key of page.Items ?? []) {
          try {
            await this.dynamodb.send(
              new DeleteItemCommand({
                TableName: table.name,
                Key: key,
                ConditionExpression: '#ttl < :now',
                ExpressionAttributeNames: { '#ttl': table.ttlAttribute as string },
                ExpressionAttributeValues: nowSeconds,
              }),
            );
            deleted += 1;
          } catch (error) {
            if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
          }
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }
    return deleted;
  }
}
