import type { APIGatewayProxyEvent } from 'aws-lambda';
import { dynamoDbClient } from '../shared/clients';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { DynamoDbCatalogStore } from '../shared/store/catalog-store';
import { handleItems } from './items';

const tools = createInstrumentation();
const deps = {
  catalog: new DynamoDbCatalogStore(tools.tracer.captureAWSv3Client(dynamoDbClient()), requireEnv(ENV.itemsTable)),
  now: Date.now,
  logger: tools.logger,
  metrics: tools.metrics,
};

export const handler = instrumented(tools, (event: APIGatewayProxyEvent) => handleItems(event, deps));
