import type { APIGatewayProxyEvent } from 'aws-lambda';
import { dynamoDbClient } from '../shared/clients';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { DynamoDbSegmentStore } from '../shared/store/segment-store';
import { handleSegments } from './api';

const tools = createInstrumentation();
const deps = {
  segments: new DynamoDbSegmentStore(tools.tracer.captureAWSv3Client(dynamoDbClient()), requireEnv(ENV.segmentsTable)),
  now: Date.now,
  logger: tools.logger,
  metrics: tools.metrics,
};

export const handler = instrumented(tools, (event: APIGatewayProxyEvent) => handleSegments(event, deps));
