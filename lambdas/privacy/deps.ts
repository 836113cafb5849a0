import { athenaClient, dynamoDbClient, eventBridgeClient, s3Client } from '../shared/clients';
import { profileSettingsFromEnv } from '../shared/domain/settings';
import { ENV, numberEnv, requireEnv } from '../shared/env';
import { Instrumentation } from '../shared/instrumentation';
import { DynamoDbErasureStore } from '../shared/store/erasure-store';
import { DynamoDbIdentityStore } from '../shared/store/identity-store';
import { AthenaLakeObjectFinder } from '../shared/store/lake-eraser';
import { S3LakeObjectStore } from '../shared/store/lake-objects';
import { DynamoDbProfileStore } from '../shared/store/profile-store';
import { EventBridgeSegmentBus } from '../shared/store/segment-bus';
import type { PrivacyDeps } from './privacy';

/** What the privacy API and the erasure worker share, in AWS: the stores, the lake through Athena and S3, the segment bus. */
export function privacyDepsFromEnv(tools: Instrumentation, options: { athenaTimeoutMs: number }): PrivacyDeps {
  const dynamodb = tools.tracer.captureAWSv3Client(dynamoDbClient());
  const s3 = tools.tracer.captureAWSv3Client(s3Client());
  const athena = tools.tracer.captureAWSv3Client(athenaClient());
  const bucket = requireEnv(ENV.lakeBucket);
  return {
    profiles: new DynamoDbProfileStore(dynamodb, requireEnv(ENV.profilesTable)),
    identities: new DynamoDbIdentityStore(dynamodb, requireEnv(ENV.identitiesTable)),
    erasures: new DynamoDbErasureStore(dynamodb, requireEnv(ENV.erasuresTable)),
    lake: {
      finder: new AthenaLakeObjectFinder(
        { athena, s3 },
        { workGroup: requireEnv(ENV.athenaWorkGroup), database: requireEnv(ENV.lakeDatabase), bucket, query: { timeoutMs: options.athenaTimeoutMs } },
      ),
      objects: new S3LakeObjectStore(s3, bucket),
    },
    bus: new EventBridgeSegmentBus(tools.tracer.captureAWSv3Client(eventBridgeClient()), requireEnv(ENV.segmentEventBus)),
    settings: profileSettingsFromEnv(),
    settleSeconds: numberEnv(ENV.erasureSettleSeconds, 180),
    now: Date.now,
    logger: tools.logger,
    metrics: tools.metrics,
  };
}
