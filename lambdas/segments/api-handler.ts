import type { APIGatewayProxyEvent } from 'aws-lambda';
import { dynamoDbClient, secretsManagerClient } from '../shared/clients';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { SecretsManagerKeyStore } from '../shared/store/key-store';
import { DynamoDbSegmentStore } from '../shared/store/segment-store';
import { handleSegments } from './api';

const tools = createInstrumentation();
const deps = {
  segments: new DynamoDbSegmentStore(tools.tracer.captureAWSv3Client(dynamoDbClient()), requireEnv(ENV.segmentsTable)),
  adminKeys: new SecretsManagerKeyStore(tools.tracer.captureAWSv3Client(secretsManagerClient()), requireEnv(ENV.adminKeySecret)),
  now: Date.now,
  logger: tools.logger,
  metrics: tools.metrics,
};

export const handler = instrumented(tools, (event: APIGatewayProxyEvent) => handleSegments(event, deps));
