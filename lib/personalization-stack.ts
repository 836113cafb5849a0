import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { PlatformConfig } from './config';
import { Credentials } from './constructs/credentials';
import { EventStream } from './constructs/event-stream';
import { Ingestion } from './constructs/ingestion';
import { ItemStore } from './constructs/item-store';
import { PersonalizeForwarder } from './constructs/personalize-forwarder';
import { ProfileProcessor } from './constructs/profile-processor';
import { ProfileReader } from './constructs/profile-reader';
import { ProfileStore } from './constructs/profile-store';
import { PublicApi } from './constructs/public-api';
import { RecommendationApi } from './constructs/recommendation-api';

export interface PersonalizationStackProps extends StackProps {
  config: PlatformConfig;
}

/** The platform: ingestion → stream → profiles, the catalog and recommendations, and the API in front. Each concern is one construct. */
export class PersonalizationStack extends Stack {
  readonly events: EventStream;
  readonly store: ProfileStore;
  readonly credentials: Credentials;
  readonly ingestion: Ingestion;
  readonly processor: ProfileProcessor;
  readonly profileReader: ProfileReader;
  readonly itemStore: ItemStore;
  readonly recommendations: RecommendationApi;
  /** Only when a Personalize tracking id is configured. */
  readonly personalizeForwarder?: PersonalizeForwarder;
  readonly api: PublicApi;

  constructor(scope: Construct, id: string, props: PersonalizationStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetentionDays = config.logRetentionDays;

    this.events = new EventStream(this, 'Events', { retentionHours: config.streamRetentionHours });
    this.store = new ProfileStore(this, 'ProfileStore', { destroyData: config.destroyData });
    this.credentials = new Credentials(this, 'Credentials');
    this.ingestion = new Ingestion(this, 'Ingestion', { stream: this.events.stream, writeKey: this.credentials.writeKey, logRetentionDays });
    this.processor = new ProfileProcessor(this, 'Processor', {
      stream: this.events.stream,
      profiles: this.store.profiles,
      badEvents: this.store.badEvents,
      settings: config.profiles,
      processor: config.processor,
      logRetentionDays,
    });
    this.profileReader = new ProfileReader(this, 'ProfileReader', {
      profiles: this.store.profiles,
      adminKey: this.credentials.adminKey,
      settings: config.profiles,
      logRetentionDays,
    });
    this.itemStore = new ItemStore(this, 'ItemStore', { destroyData: config.destroyData });
    this.recommendations = new RecommendationApi(this, 'Recommendations', {
      items: this.itemStore.items,
      profiles: this.store.profiles,
      stream: this.events.stream,
      adminKey: this.credentials.adminKey,
      readKey: this.credentials.readKey,
      recommendations: config.recommendations,
      personalize: config.personalize,
      affinityHalfLifeDays: config.profiles.affinityHalfLifeDays,
      logRetentionDays,
    });
    if (config.personalize.trackingId) {
      this.personalizeForwarder = new PersonalizeForwarder(this, 'PersonalizeForwarder', {
        stream: this.events.stream,
        trackingId: config.personalize.trackingId,
        logRetentionDays,
      });
    }
    this.api = new PublicApi(this, 'PublicApi', {
      ingest: this.ingestion.function.fn,
      profiles: this.profileReader.function.fn,
      catalog: this.recommendations.catalog.fn,
      recommend: this.recommendations.recommend.fn,
      settings: config.api,
      logRetentionDays,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.restApi.url, description: 'Base URL: point Segment SDKs here (host)' });
    new CfnOutput(this, 'WriteKeySecretArn', { value: this.credentials.writeKey.secretArn, description: 'Secret holding the write key' });
    new CfnOutput(this, 'AdminKeySecretArn', { value: this.credentials.adminKey.secretArn, description: 'Secret holding the admin key' });
    new CfnOutput(this, 'ReadKeySecretArn', { value: this.credentials.readKey.secretArn, description: 'Secret holding the recommendation read key' });
    new CfnOutput(this, 'ItemsTableName', { value: this.itemStore.items.tableName });
    new CfnOutput(this, 'ProfilesTableName', { value: this.store.profiles.tableName });
    new CfnOutput(this, 'BadEventsTableName', { value: this.store.badEvents.tableName });
    new CfnOutput(this, 'EventStreamName', { value: this.events.stream.streamName });
    new CfnOutput(this, 'ProcessorFailureQueueUrl', { value: this.processor.failureQueue.queueUrl });
  }
}
