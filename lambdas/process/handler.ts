import { processPartialResponse } from '@aws-lambda-powertools/batch';
import type { KinesisStreamEvent } from 'aws-lambda';
import { dynamoDbClient, eventBridgeClient, firehoseClient } from '../shared/clients';
import { profileSettingsFromEnv } from '../shared/domain/settings';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { FirehoseBadEventStore } from '../shared/store/bad-event-store';
import { DynamoDbIdentityStore } from '../shared/store/identity-store';
import { DynamoDbProfileStore } from '../shared/store/profile-store';
import { EventBridgeSegmentBus } from '../shared/store/segment-bus';
import { cachedDefinitions, DynamoDbSegmentStore } from '../shared/store/segment-store';
import { CoalescingKinesisProcessor } from './coalescing-processor';
import { processRecords } from './process-records';

/** How long the processor uses the segment definitions it read before reading them again. */
const SEGMENT_DEFINITIONS_TTL_MS = 30_000;

const tools = createInstrumentation();
const dynamodb = tools.tracer.captureAWSv3Client(dynamoDbClient());
const deps = {
  profiles: new DynamoDbProfileStore(dynamodb, requireEnv(ENV.profilesTable)),
  identities: new DynamoDbIdentityStore(dynamodb, requireEnv(ENV.identitiesTable)),
  badEvents: new FirehoseBadEventStore(tools.tracer.captureAWSv3Client(firehoseClient()), requireEnv(ENV.badEventsDeliveryStream)),
  settings: profileSettingsFromEnv(),
  segments: {
    // A changed definition applies within this long.
    definitions: cachedDefinitions(new DynamoDbSegmentStore(dynamodb, requireEnv(ENV.segmentsTable)), SEGMENT_DEFINITIONS_TTL_MS, Date.now, (invalid) =>
    tools.logger.error('Segment definitions skipped: they no longer validate', { invalid }),
  ),
    bus: new EventBridgeSegmentBus(tools.tracer.captureAWSv3Client(eventBridgeClient()), requireEnv(ENV.segmentEventBus)),
  },
  now: Date.now,
  logger: tools.logger,
  metrics: tools.metrics,
};

/** Kinesis → profiles. Returns `batchItemFailures`; throws when every record failed, so Lambda bisects the batch. */
export const handler = instrumented(tools, (event: KinesisStreamEvent) =>
  processPartialResponse(event, (records: KinesisStreamEvent['Records']) => processRecords(records, deps), new CoalescingKinesisProcessor()),
);
