import type { APIGatewayProxyEvent } from 'aws-lambda';
import { dynamoDbClient, kinesisClient } from '../shared/clients';
import { profileSettingsFromEnv } from '../shared/domain/settings';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { KinesisEventStream } from '../shared/store/event-stream';
import { DynamoDbIdentityStore } from '../shared/store/identity-store';
import { DynamoDbProfileStore } from '../shared/store/profile-store';
import { handleProfiles } from './profiles';

const tools = createInstrumentation();
const dynamodb = tools.tracer.captureAWSv3Client(dynamoDbClient());
const deps = {
  profiles: new DynamoDbProfileStore(dynamodb, requireEnv(ENV.profilesTable)),
  identities: new DynamoDbIdentityStore(dynamodb, requireEnv(ENV.identitiesTable)),
  events: new KinesisEventStream(tools.tracer.captureAWSv3Client(kinesisClient()), requireEnv(ENV.eventStream)),
  settings: profileSettingsFromEnv(),
  now: Date.now,
  logger: tools.logger,
  metrics: tools.metrics,
};

export const handler = instrumented(tools, (event: APIGatewayProxyEvent) => handleProfiles(event, deps));
