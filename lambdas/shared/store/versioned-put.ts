import { AttributeValue, ConditionalCheckFailedException, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';

/**
 * Optimistic concurrency on one DynamoDB item: writes `item` only if the stored item's `version` attribute is still
 * `expectedVersion` (undefined: only if there is no item under `partitionKey` yet). Returns false when another
 * writer got there first; the caller re-reads and tries again.
 */
export async function putIfVersion(
  client: DynamoDBClient,
  tableName: string,
  partitionKey: string,
  item: Record<string, AttributeValue>,
  expectedVersion: number | undefined,
): Promise<boolean> {
  try {
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: item,
        ...(expectedVersion === undefined
          ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': partitionKey } }
          : {
              ConditionExpression: '#version = :expected',
              ExpressionAttributeNames: { '#version': 'version' },
              ExpressionAttributeValues: { ':expected': { N: String(expectedVersion) } },
            }),
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}
