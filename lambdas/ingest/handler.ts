import type { APIGatewayProxyEvent } from 'aws-lambda';
import { firehoseClient, kinesisClient, secretsManagerClient } from '../shared/clients';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { FirehoseBadEventStore } from '../shared/store/bad-event-store';
import { KinesisEventStream } from '../shared/store/event-stream';
import { SecretsManagerKeyStore } from '../shared/store/key-store';
import { handleIngest } from './ingest';

const tools = createInstrumentation();
const deps = {
  stream: new KinesisEventStream(tools.tracer.captureAWSv3Client(kinesisClient()), requireEnv(ENV.eventStream)),
  badEvents: new FirehoseBadEventStore(tools.tracer.captureAWSv3Client(firehoseClient()), requireEnv(ENV.badEventsDeliveryStream)),
  writeKeys: new SecretsManagerKeyStore(tools.tracer.captureAWSv3Client(secretsManagerClient()), requireEnv(ENV.writeKeySecret)),
  now: Date.now,
  logger: tools.logger,
  metrics: tools.metrics,
};

export const handler = instrumented(tools, (event: APIGatewayProxyEvent) => handleIngest(event, deps));
