import type { APIGatewayProxyEvent } from 'aws-lambda';
import { dynamoDbClient, secretsManagerClient } from '../shared/clients';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { DynamoDbCatalogStore } from '../shared/store/catalog-store';
import { SecretsManagerKeyStore } from '../shared/store/key-store';
import { handleItems } from './items';

const tools = createInstrumentation();
const deps = {
  catalog: new DynamoDbCatalogStore(tools.tracer.captureAWSv3Client(dynamoDbClient()), requireEnv(ENV.itemsTable)),
  adminKeys: new SecretsManagerKeyStore(tools.tracer.captureAWSv3Client(secretsManagerClient()), requireEnv(ENV.adminKeySecret)),
  now: Date.now,
  logger: tools.logger,
  metrics: tools.metrics,
};

export const handler = instrumented(tools, (event: APIGatewayProxyEvent) => handleItems(event, deps));
