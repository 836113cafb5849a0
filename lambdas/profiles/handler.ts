import type { APIGatewayProxyEvent } from 'aws-lambda';
import { dynamoDbClient, secretsManagerClient } from '../shared/clients';
import { profileSettingsFromEnv } from '../shared/domain/settings';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { SecretsManagerKeyStore } from '../shared/store/key-store';
import { DynamoDbIdentityStore } from '../shared/store/identity-store';
import { DynamoDbProfileStore } from '../shared/store/profile-store';
import { handleGetProfile } from './get-profile';

const tools = createInstrumentation();
const dynamodb = tools.tracer.captureAWSv3Client(dynamoDbClient());
const deps = {
  profiles: new DynamoDbProfileStore(dynamodb, requireEnv(ENV.profilesTable)),
  identities: new DynamoDbIdentityStore(dynamodb, requireEnv(ENV.identitiesTable)),
  adminKeys: new SecretsManagerKeyStore(tools.tracer.captureAWSv3Client(secretsManagerClient()), requireEnv(ENV.adminKeySecret)),
  settings: profileSettingsFromEnv(),
  now: Date.now,
  logger: tools.logger,
  metrics: tools.metrics,
};

export const handler = instrumented(tools, (event: APIGatewayProxyEvent) => handleGetProfile(event, deps));
