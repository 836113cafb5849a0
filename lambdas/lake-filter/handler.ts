import type { FirehoseTransformationEvent } from 'aws-lambda';
import { dynamoDbClient } from '../shared/clients';
import { consentSettingsFromEnv } from '../shared/domain/settings';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { DynamoDbIdentityStore } from '../shared/store/identity-store';
import { DynamoDbProfileStore } from '../shared/store/profile-store';
import { filterRecords, LakeFilterDeps } from './filter-records';

const tools = createInstrumentation();
const dynamodb = tools.tracer.captureAWSv3Client(dynamoDbClient());
const deps: LakeFilterDeps = {
  profiles: new DynamoDbProfileStore(dynamodb, requireEnv(ENV.profilesTable)),
  identities: new DynamoDbIdentityStore(dynamodb, requireEnv(ENV.identitiesTable)),
  settings: consentSettingsFromEnv(),
  now: Date.now,
  logger: tools.logger,
  metrics: tools.metrics,
};

/** Firehose data transformation of the events delivery stream: keeps events without analytics consent out of the lake. */
export const handler = instrumented(tools, (event: FirehoseTransformationEvent) => filterRecords(event, deps));
