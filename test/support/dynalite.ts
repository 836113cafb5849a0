import type { Server } from 'node:http';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { localDynamoDb } from '../../local/clients';
import { listen } from '../../local/emulators';

/** An in-memory dynalite on a free port with one `pk`-keyed table, for store tests. */
export async function startDynalite(tableName: string): Promise<{ client: DynamoDBClient; tableName: string; close(): Promise<void> }> {
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const client = localDynamoDb(await listen(server));
  await createPkTable(client, tableName);
  return {
    client,
    tableName,
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Creates an on-demand table keyed by the string attribute `pk`, as the profiles and items tables are. */
export async function createPkTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}
