import { processPartialResponse } from '@aws-lambda-powertools/batch';
import type { KinesisStreamEvent } from 'aws-lambda';
import { CoalescingKinesisProcessor } from '../process/coalescing-processor';
import { personalizeEventsClient } from '../shared/clients';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { forwardRecords } from './forward';

const tools = createInstrumentation();
const deps = {
  client: tools.tracer.captureAWSv3Client(personalizeEventsClient()),
  trackingId: requireEnv(ENV.personalizeTrackingId),
  logger: tools.logger,
  metrics: tools.metrics,
};

/** Kinesis → Amazon Personalize PutEvents. Returns `batchItemFailures`; throws when every record failed, so Lambda bisects the batch. */
export const handler = instrumented(tools, (event: KinesisStreamEvent) =>
  processPartialResponse(event, (records: KinesisStreamEvent['Records']) => forwardRecords(records, deps), new CoalescingKinesisProcessor()),
);
