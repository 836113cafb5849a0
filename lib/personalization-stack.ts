import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../lambdas/shared/env';
import { PlatformConfig } from './config';
import { Analytics, lakeDatabaseNameFor } from './constructs/analytics';
import { Credentials } from './constructs/credentials';
import { EventLake } from './constructs/event-lake';
import { EventStream } from './constructs/event-stream';
import { HouseFunction } from './constructs/house-function';
import { Ingestion } from './constructs/ingestion';
import { ItemStore } from './constructs/item-store';
import { Observability } from './constructs/observability';
import { PlatformKey } from './constructs/platform-key';
import { failedInvocationsQueue } from './constructs/schedules';
import { PersonalizeForwarder } from './constructs/personalize-forwarder';
import { ProfileProcessor } from './constructs/profile-processor';
import { ProfileReader } from './constructs/profile-reader';
import { Privacy } from './constructs/privacy';
import { ProfileStore } from './constructs/profile-store';
import { PublicApi } from './constructs/public-api';
import { RecommendationApi } from './constructs/recommendation-api';
import { Segments } from './constructs/segments';
import { TrainingSchedule } from './constructs/training-schedule';

export interface PersonalizationStackProps extends StackProps {
  config: PlatformConfig;
}

/**
 * The platform: ingestion → stream → profiles and real-time segments, the catalog and recommendations, the API in front, and the batch
 * layer (stream → lake → Athena → scheduled training). Each concern is one construct.
 */
export class PersonalizationStack extends Stack {
  /** The customer managed key of the data at rest; only with `encryption: customer-managed`. */
  readonly platformKey?: PlatformKey;
  /** Failed asynchronous invocations: scheduled runs that failed, and events EventBridge could not deliver to a target. Alarm on its depth. */
  readonly failedInvocations: Queue;
  readonly events: EventStream;
  readonly store: ProfileStore;
  readonly credentials: Credentials;
  readonly ingestion: Ingestion;
  readonly segments: Segments;
  readonly processor: ProfileProcessor;
  readonly profileReader: ProfileReader;
  readonly itemStore: ItemStore;
  readonly recommendations: RecommendationApi;
  /** Only when a Personalize tracking id is configured. */
  readonly personalizeForwarder?: PersonalizeForwarder;
  readonly api: PublicApi;
  readonly lake: EventLake;
  readonly analytics: Analytics;
  readonly training: TrainingSchedule;
  readonly privacy: Privacy;
  readonly observability: Observability;

  constructor(scope: Construct, id: string, props: PersonalizationStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetentionDays = config.logRetentionDays;

    if (config.encryption === 'customer-managed') this.platformKey = new PlatformKey(this, 'PlatformKey', { destroyData: config.destroyData });
    const encryptionKey = this.platformKey?.key;
    this.failedInvocations = failedInvocationsQueue(this, 'FailedInvocations', encryptionKey);
    const failedInvocations = this.failedInvocations;

    this.events = new EventStream(this, 'Events', { retentionHours: config.streamRetentionHours, encryptionKey });
    this.store = new ProfileStore(this, 'ProfileStore', { destroyData: config.destroyData, encryptionKey });
    this.credentials = new Credentials(this, 'Credentials');
    this.segments = new Segments(this, 'Segments', {
      profiles: this.store.profiles,
      settings: config.profiles,
      destroyData: config.destroyData,
      logRetentionDays,
      failedInvocations,
      encryptionKey,
    });
    this.lake = new EventLake(this, 'Lake', {
      stream: this.events.stream,
      profiles: this.store.profiles,
      identities: this.store.identities,
      consent: config.profiles,
      segmentBus: this.segments.bus,
      retentionDays: config.lakeRetentionDays,
      badEventsRetentionDays: config.badEventsRetentionDays,
      bufferSeconds: config.lakeBufferSeconds,
      destroyData: config.destroyData,
      logRetentionDays,
      failedInvocations,
      encryptionKey,
    });
    this.ingestion = new Ingestion(this, 'Ingestion', {
      stream: this.events.stream,
      writeKey: this.credentials.writeKey,
      badEvents: this.lake.badEventsDeliveryStream,
      logRetentionDays,
    });
    this.processor = new ProfileProcessor(this, 'Processor', {
      stream: this.events.stream,
      profiles: this.store.profiles,
      identities: this.store.identities,
      badEvents: this.lake.badEventsDeliveryStream,
      segments: this.segments.table,
      segmentBus: this.segments.bus,
      settings: config.profiles,
      processor: config.processor,
      logRetentionDays,
      encryptionKey,
    });
    this.profileReader = new ProfileReader(this, 'ProfileReader', {
      profiles: this.store.profiles,
      identities: this.store.identities,
      stream: this.events.stream,
      settings: config.profiles,
      logRetentionDays,
    });
    this.itemStore = new ItemStore(this, 'ItemStore', { destroyData: config.destroyData, encryptionKey });
    this.recommendations = new RecommendationApi(this, 'Recommendations', {
      items: this.itemStore.items,
      profiles: this.store.profiles,
      identities: this.store.identities,
      stream: this.events.stream,
      recommendations: config.recommendations,
      personalize: config.personalize,
      affinityHalfLifeDays: config.profiles.affinityHalfLifeDays,
      consent: config.profiles,
      logRetentionDays,
    });
    if (config.personalize.trackingId) {
      this.personalizeForwarder = new PersonalizeForwarder(this, 'PersonalizeForwarder', {
        stream: this.events.stream,
        trackingId: config.personalize.trackingId,
        logRetentionDays,
        encryptionKey,
      });
    }
    this.analytics = new Analytics(this, 'Analytics', {
      lake: this.lake.bucket,
      databaseName: config.lakeDatabaseName ?? lakeDatabaseNameFor(this.stackName),
      accessLogs: this.lake.accessLogs,
      bytesScannedCutoffGb: config.athenaBytesScannedCutoffGb,
      resultsRetentionDays: config.athenaResultsRetentionDays,
      destroyData: config.destroyData,
      encryptionKey,
    });
    this.training = new TrainingSchedule(this, 'Training', {
      items: this.itemStore.items,
      analytics: this.analytics,
      schedule: config.trainingSchedule,
      enabled: config.trainingEnabled,
      windowDays: config.trainingWindowDays,
      modelRetentionDays: config.modelRetentionDays,
      logRetentionDays,
      failedInvocations,
    });
    this.privacy = new Privacy(this, 'Privacy', {
      profiles: this.store.profiles,
      identities: this.store.identities,
      lake: this.lake.bucket,
      analytics: this.analytics,
      segmentBus: this.segments.bus,
      settings: config.profiles,
      lakeBufferSeconds: config.lakeBufferSeconds,
      destroyData: config.destroyData,
      logRetentionDays,
      failedInvocations,
      encryptionKey,
    });
    this.api = new PublicApi(this, 'PublicApi', {
      ingest: this.ingestion.function.fn,
      profiles: this.profileReader.function.fn,
      segments: this.segments.api.fn,
      privacy: this.privacy.api.fn,
      catalog: this.recommendations.catalog.fn,
      recommend: this.recommendations.recommend.fn,
      writeKey: this.credentials.writeKey,
      readKey: this.credentials.readKey,
      settings: config.api,
      logRetentionDays,
    });
    const functions = this.node.findAll().filter((c): c is HouseFunction => c instanceof HouseFunction);
    // One salt for every function, so a person's pseudonymous id is the same in every log (see lambdas/shared/log-privacy.ts).
    const logSalt = this.credentials.logSalt.secretValue.unsafeUnwrap();
    for (const f of functions) f.fn.addEnvironment(ENV.logHashSalt, logSalt);
    this.observability = new Observability(this, 'Observability', {
      api: this.api.restApi,
      stageName: config.api.stageName,
      functions,
      streamConsumers: [this.processor.function.fn, ...(this.personalizeForwarder ? [this.personalizeForwarder.function.fn] : [])],
      failureQueues: [this.processor.failureQueue, ...(this.personalizeForwarder ? [this.personalizeForwarder.failureQueue] : []), this.failedInvocations],
      tables: [this.store.profiles, this.store.identities, this.itemStore.items, this.segments.table, this.privacy.erasures],
      alarms: [
        this.lake.eventsDeliveryAlarm,
        this.lake.eventsFreshnessAlarm,
        this.lake.badEventsDeliveryAlarm,
        this.lake.badEventsFreshnessAlarm,
        this.lake.segmentEventsDeliveryAlarm,
        this.lake.segmentEventsFreshnessAlarm,
        this.segments.clockAlarm,
        this.privacy.workerAlarm,
        this.training.failureAlarm,
      ],
      services: {
        ingest: this.ingestion.function,
        writeAuthorizer: this.api.writeAuthorizer.function,
        processor: this.processor.function,
        recommend: this.recommendations.recommend,
        lakeFilter: this.lake.consentFilter,
        segmentClock: this.segments.clock,
      },
      key: encryptionKey,
      alarmEmail: config.alarmEmail,
      modelMaxAgeHours: config.modelMaxAgeHours,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.restApi.url, description: 'Base URL: point Segment SDKs here (host)' });
    new CfnOutput(this, 'WriteKeySecretArn', { value: this.credentials.writeKey.secretArn, description: 'Secret holding the write key' });
    new CfnOutput(this, 'AdminPolicyArn', { value: this.api.adminPolicy.managedPolicyArn, description: 'Attach to the IAM roles that may call the admin routes (SigV4)' });
    new CfnOutput(this, 'ReadKeySecretArn', { value: this.credentials.readKey.secretArn, description: 'Secret holding the recommendation read key' });
    new CfnOutput(this, 'ItemsTableName', { value: this.itemStore.items.tableName });
    new CfnOutput(this, 'ProfilesTableName', { value: this.store.profiles.tableName });
    new CfnOutput(this, 'IdentitiesTableName', { value: this.store.identities.tableName });
    new CfnOutput(this, 'SegmentsTableName', { value: this.segments.table.tableName });
    new CfnOutput(this, 'SegmentEventBusName', { value: this.segments.bus.eventBusName, description: 'Subscribe rules to Segment Entered / Segment Exited (source personalization.segments)' });
    new CfnOutput(this, 'ErasuresTableName', { value: this.privacy.erasures.tableName });
    new CfnOutput(this, 'EventStreamName', { value: this.events.stream.streamName });
    new CfnOutput(this, 'ProcessorFailureQueueUrl', { value: this.processor.failureQueue.queueUrl });
    new CfnOutput(this, 'FailedInvocationsQueueUrl', { value: this.failedInvocations.queueUrl, description: 'Failed scheduled runs and undeliverable EventBridge events' });
    new CfnOutput(this, 'LakeBucketName', { value: this.lake.bucket.bucketName, description: 'Event lake: events/, bad-events/, segment-events/, errors/' });
    new CfnOutput(this, 'EventsDeliveryStreamName', { value: this.lake.eventsDeliveryStream.deliveryStreamName });
    new CfnOutput(this, 'BadEventsDeliveryStreamName', { value: this.lake.badEventsDeliveryStream.deliveryStreamName });
    new CfnOutput(this, 'LakeDatabaseName', { value: this.analytics.databaseName, description: 'Glue database of the events, bad_events and segment_events tables' });
    new CfnOutput(this, 'AthenaWorkGroupName', { value: this.analytics.workGroupName, description: 'Run lake queries (and the saved analyses) in this workgroup' });
    new CfnOutput(this, 'AthenaResultsBucketName', { value: this.analytics.resultsBucket.bucketName });
    new CfnOutput(this, 'TrainingFunctionName', { value: this.training.function.fn.functionName, description: 'Invoke to train now' });
  }
}
