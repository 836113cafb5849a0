import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { LocalModel } from './template-model';

/**
 * Creates the model's tables and streams in the emulators, leaving existing ones (and their data) alone.
 * A persisted table whose key schema no longer matches the stack is an error rather than a silent mismatch.
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
        }),
      );
    } else if (JSON.stringify(existing.Table?.KeySchema) !== JSON.stringify(table.keySchema)) {
      throw new Error(`Local table ${table.name} has key schema ${JSON.stringify(existing.Table?.KeySchema)} but the stack defines ${JSON.stringify(table.keySchema)}: start with --fresh`);
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
