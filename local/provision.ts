import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { LocalModel } from './template-model';

/**
 * Creates the model's tables (with their global secondary indexes) and streams in the emulators, leaving existing
 * ones (and their data) alone; an index the stack added since is added to the existing table. A persisted table
 * whose key schema no longer matches the stack is an error rather than a silent mismatch.
 */
export async function provision(model: LocalModel, dynamodb: DynamoDBClient, kinesis: KinesisClient, shardCount: number): Promise<void> {
  for (const table of model.tables) {
    const existing = await dynamodb.send(new DescribeTableCommand({ TableName: table.name })).catch((error) => {
      if (error instanceof ResourceNotFoundException || error.name === 'ResourceNotFoundException') return undefined;
      throw error;
    });
    if (!existing) {
      await dynamodb.send(
        new CreateTableCommand({
          TableName: table.name,
          KeySchema: table.keySchema,
          AttributeDefinitions: table.attributeDefinitions,
          BillingMode: 'PAY_PER_REQUEST',
          ...(table.globalSecondaryIndexes ? { GlobalSecondaryIndexes: table.globalSecondaryIndexes } : {}),
        }),
      );
    } else if (JSON.stringify(existing.Table?.KeySchema) !== JSON.stringify(table.keySchema)) {
      throw new Error(`Local table ${table.name} has key schema ${JSON.stringify(existing.Table?.KeySchema)} but the stack defines ${JSON.stringify(table.keySchema)}: start with --fresh`);
    } else {
      const present = new Set((existing.Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
      for (const index of (table.globalSecondaryIndexes ?? []).filter((i) => !present.has(i.IndexName))) {
        await dynamodb.send(
          new UpdateTableCommand({
            TableName: table.name,
            AttributeDefinitions: table.attributeDefinitions,
            GlobalSecondaryIndexUpdates: [{ Create: index }],
          }),
        );
      }
    }
  }

  for (const stream of model.streams) {
    const exists = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream.name })).then(
      () => true,
      (error) => {
        if (error.name === 'ResourceNotFoundException') return false;
        throw error;
      },
    );
    if (!exists) await kinesis.send(new CreateStreamCommand({ StreamName: stream.name, ShardCount: shardCount }));
    for (let i = 0; ; i++) {
      const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream.name }));
      if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      if (i > 100) throw new Error(`Local stream ${stream.name} did not become ACTIVE`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
