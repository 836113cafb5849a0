import { dynamoDbClient, eventBridgeClient } from '../shared/clients';
import { profileSettingsFromEnv } from '../shared/domain/settings';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { DynamoDbProfileStore } from '../shared/store/profile-store';
import { EventBridgeSegmentBus } from '../shared/store/segment-bus';
import { cachedDefinitions, DynamoDbSegmentStore } from '../shared/store/segment-store';
import { runSegmentClock } from './clock';

const tools = createInstrumentation();
const dynamodb = tools.tracer.captureAWSv3Client(dynamoDbClient());
const deps = {
  profiles: new DynamoDbProfileStore(dynamodb, requireEnv(ENV.profilesTable)),
  // Re-read every run: a run is a minute apart.
  definitions: cachedDefinitions(new DynamoDbSegmentStore(dynamodb, requireEnv(ENV.segmentsTable)), 0, Date.now, (invalid) =>
    tools.logger.error('Segment definitions skipped: they no longer validate', { invalid }),
  ),
  bus: new EventBridgeSegmentBus(tools.tracer.captureAWSv3Client(eventBridgeClient()), requireEnv(ENV.segmentEventBus)),
  settings: profileSettingsFromEnv(),
  now: Date.now,
  logger: tools.logger,
  metrics: tools.metrics,
};

/** EventBridge schedule (every minute) → the timed segment checks. */
export const handler = instrumented(tools, async () => {
  const stats = await runSegmentClock(deps);
  tools.logger.info('Segment checks done', { ...stats });
  return stats;
});
