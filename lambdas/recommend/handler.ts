import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { dynamoDbClient, kinesisClient, personalizeRuntimeClient } from '../shared/clients';
import { resolveRecommendConfig } from '../shared/domain/recommend-config';
import { consentSettingsFromEnv, DEFAULT_PROFILE_SETTINGS } from '../shared/domain/settings';
import { ENV, numberEnv, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { KinesisEventStream } from '../shared/store/event-stream';
import { CachedModelStore, DynamoDbModelStore } from '../shared/store/model-store';
import { DEFAULT_PERSONALIZE_TIMEOUT_MS, PersonalizeRecommender } from '../shared/store/personalize-recommender';
import { DynamoDbIdentityStore } from '../shared/store/identity-store';
import { DynamoDbProfileStore } from '../shared/store/profile-store';
import { handleRecommend, RecommendDeps } from './recommend';

const tools = createInstrumentation();
const dynamodb = tools.tracer.captureAWSv3Client(dynamoDbClient());
const campaignArn = process.env[ENV.personalizeCampaignArn];
const config = resolveRecommendConfig(JSON.parse(process.env[ENV.recommendConfig] || '{}'), { personalizeAvailable: campaignArn !== undefined });

const deps: RecommendDeps = {
  profiles: new DynamoDbProfileStore(dynamodb, requireEnv(ENV.profilesTable)),
  identities: new DynamoDbIdentityStore(dynamodb, requireEnv(ENV.identitiesTable)),
  model: new CachedModelStore(new DynamoDbModelStore(dynamodb, requireEnv(ENV.itemsTable)), config.modelCacheSeconds * 1000),
  events: new KinesisEventStream(tools.tracer.captureAWSv3Client(kinesisClient()), requireEnv(ENV.eventStream)),
  config,
  consent: consentSettingsFromEnv(),
  affinityHalfLifeDays: numberEnv(ENV.affinityHalfLifeDays, DEFAULT_PROFILE_SETTINGS.affinityHalfLifeDays),
  ...(campaignArn
    ? {
        personalize: new PersonalizeRecommender(
          tools.tracer.captureAWSv3Client(personalizeRuntimeClient()),
          campaignArn,
          numberEnv(ENV.personalizeTimeoutMs, DEFAULT_PERSONALIZE_TIMEOUT_MS),
        ),
      }
    : {}),
  now: Date.now,
  newId: randomUUID,
  logger: tools.logger,
  metrics: tools.metrics,
};

export const handler = instrumented(tools, (event: APIGatewayProxyEvent) => handleRecommend(event, deps));
