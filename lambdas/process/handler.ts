import { processPartialResponse } from '@aws-lambda-powertools/batch';
import type { KinesisStreamEvent } from 'aws-lambda';
import { dynamoDbClient, firehoseClient } from '../shared/clients';
import { profileSettingsFromEnv } from '../shared/domain/settings';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { FirehoseBadEventStore } from '../shared/store/bad-event-store';
import { DynamoDbIdentityStore } from '../shared/store/identity-store';
import { DynamoDbProfileStore } from '../shared/store/profile-store';
import { CoalescingKinesisProcessor } from './coalescing-processor';
import { processRecords } from './process-records';

const tools = createInstrumentation();
const dynamodb = tools.tracer.captureAWSv3Client(dynamoDbClient());
const deps = {
  profiles: new DynamoDbProfileStore(dynamodb, requireEnv(ENV.profilesTable)),
  identities: new DynamoDbIdentityStore(dynamodb, requireEnv(ENV.identitiesTable)),
  badEvents: new FirehoseBadEventStore(tools.tracer.captureAWSv3Client(firehoseClient()), requireEnv(ENV.badEventsDeliveryStream)),
  settings: profileSettingsFromEnv(),
  now: Date.now,
  logger: tools.logger,
  metrics: tools.metrics,
};

/** Kinesis → profiles. Returns `batchItemFailures`; throws when every record failed, so Lambda bisects the batch. */
export const handler = instrumented(tools, (event: KinesisStreamEvent) =>
  processPartialResponse(event, (records: KinesisStreamEvent['Records']) => processRecords(records, deps), new CoalescingKinesisProcessor()),
);
