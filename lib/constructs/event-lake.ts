import { CfnMapping, Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { FirehoseDeliveryStream } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { IStream } from 'aws-cdk-lib/aws-kinesis';
import { IKey } from 'aws-cdk-lib/aws-kms';
import {
  CfnDeliveryStream,
  Compression,
  DeliveryStream,
  EnableLogging,
  KinesisStreamSource,
  LambdaFunctionProcessor,
  S3Bucket,
  StreamEncryption,
} from 'aws-cdk-lib/aws-kinesisfirehose';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Bucket, StorageClass } from 'aws-cdk-lib/aws-s3';
import { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ConsentSettings } from '../../lambdas/shared/domain/consent';
import { SEGMENT_EVENT_SOURCE } from '../../lambdas/shared/domain/segment-events';
import { consentSettingsToEnv } from '../../lambdas/shared/domain/settings';
import { ENV } from '../../lambdas/shared/env';
import { DEFAULT_CONFIG } from '../config';
import { accessLogsBucket, objectsUnderFinding, privateBucket } from './buckets';
import { HouseFunction } from './house-function';
import { grantKey, KEY_ACTIONS } from './platform-key';
import { withDeadLetterQueue } from './schedules';

/** Top-level prefixes of the lake bucket: one per table, and Firehose's error output. */
export const LAKE_PREFIXES = { events: 'events/', badEvents: 'bad-events/', segmentEvents: 'segment-events/', errors: 'errors/' } as const;

/** Hive-style partitions by Firehose arrival time (UTC): what the Glue tables project as `dt` and `hour`. */
export const PARTITIONS = 'dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/';

/** Object suffix of every lake object: gzipped newline-delimited JSON. */
export const LAKE_FILE_EXTENSION = '.json.gz';

/** Days after which events move to S3 Intelligent-Tiering (rarely read once older than the training window's recent part). */
const TIERING_AFTER_DAYS = 30;
/** Rejected events are rare and read only when investigating: fewer, larger objects than the events'. */
const BAD_EVENTS_BUFFER_SECONDS = 300;
/**
 * Data Firehose hands the consent filter up to this much data per invocation (its maximum; 1 MB by default): the
 * fewest invocations, well within Lambda's 6 MB payload limit once base64-encoded.
 */
const FILTER_BUFFER_MIB = 3;

export interface EventLakeProps {
  /** The event stream the lake records. */
  stream: IStream;
  /** Profiles and identity links: the consent filter reads each person's consent there (read only). */
  profiles: ITable;
  identities: ITable;
  /** Which consent category lets an event into the lake, and whether an unstated one does. */
  consent: ConsentSettings;
  /** The segment bus: its entry and exit events (source `personalization.segments`) are recorded under `segment-events/`. */
  segmentBus: IEventBus;
  /** Days events stay under `events/` (Intelligent-Tiering after 30 days), and segment events under `segment-events/`. @default 730 */
  retentionDays?: number;
  /** Days rejected events stay under `bad-events/`. @default 90 */
  badEventsRetentionDays?: number;
  /** Seconds the events and segment-events delivery streams buffer before writing an object (0 to 900). @default 60 */
  bufferSeconds?: number;
  /** Delete the buckets and their objects with the stack; otherwise they are retained. @default false */
  destroyData?: boolean;
  /** Days the delivery streams' error logs are kept. @default 30 */
  logRetentionDays?: number;
  /** Where the segment events EventBridge cannot deliver to Firehose go (`failedInvocationsQueue`). */
  failedInvocations: IQueue;
  /**
   * Customer managed key of the lake bucket (SSE-KMS): the delivery streams write with it. The access-log bucket
   * stays on SSE-S3, the only default encryption S3 server access log delivery supports. @default - SSE-S3
   */
  encryptionKey?: IKey;
}

/**
 * The event lake: every event of the stream, every event a function rejected, and every segment entry and exit, as
 * gzipped JSON lines in S3, partitioned by arrival hour (`events/dt=…/hour=…/`, `bad-events/dt=…/hour=…/`,
 * `segment-events/dt=…/hour=…/`), for Athena and training.
 *
 * Three Firehose delivery streams write it. `events` reads the Kinesis stream through one processor, the consent
 * filter (`lambdas/lake-filter`): events without analytics consent are dropped, records that are not stream
 * events go to the `processing-failed` error output, the rest pass unchanged. Records are already
 * newline-terminated JSON (the ingest function appends `\n`), so Firehose's plain concatenation is NDJSON and no
 * format conversion is needed (docs/lake-design.md: why gzip JSON and not Parquet). `bad-events` takes Direct PUTs
 * (PutRecordBatch) of newline-terminated JSON from the functions. `segment-events` takes Direct PUTs from an
 * EventBridge rule on the segment bus (the lake subscribes to the bus like any other subscriber): each record is
 * the event as EventBridge delivers it to a target, JSON without a newline, so that stream appends one.
 *
 * The bucket is not versioned, so deleting a person's objects (erasure) is final. Each delivery stream has its
 * own role that may write only under its own prefixes, so none can read or delete the rest of the lake.
 */
export class EventLake extends Construct {
  readonly bucket: Bucket;
  /** Target of the server access logs of this project's buckets. */
  readonly accessLogs: Bucket;
  /** Kinesis stream → consent filter → `events/`. */
  readonly eventsDeliveryStream: DeliveryStream;
  /** The events delivery stream's processor: keeps events without analytics consent out of the lake. */
  readonly consentFilter: HouseFunction;
  /** Direct PUT → `bad-events/`; what the functions send rejected events to. */
  readonly badEventsDeliveryStream: DeliveryStream;
  /** `events` delivery to S3 failing (DeliveryToS3.Success below 1 over 5 minutes). */
  readonly eventsDeliveryAlarm: Alarm;
  /** Events older than the freshness threshold not yet in S3 (DeliveryToS3.DataFreshness). */
  readonly eventsFreshnessAlarm: Alarm;
  /** `bad-events` delivery to S3 failing. */
  readonly badEventsDeliveryAlarm: Alarm;
  /** Rejected events not delivered within the freshness threshold. */
  readonly badEventsFreshnessAlarm: Alarm;
  /** Direct PUT → `segment-events/`; the target of `segmentEventsRule`. */
  readonly segmentEventsDeliveryStream: DeliveryStream;
  /** Every event of the segment bus with source `personalization.segments` → `segmentEventsDeliveryStream`. */
  readonly segmentEventsRule: Rule;
  /** `segment-events` delivery to S3 failing. */
  readonly segmentEventsDeliveryAlarm: Alarm;
  /** Segment events not delivered within the freshness threshold. */
  readonly segmentEventsFreshnessAlarm: Alarm;

  constructor(scope: Construct, id: string, props: EventLakeProps) {
    super(scope, id);
    const d = DEFAULT_CONFIG;
    const retentionDays = props.retentionDays ?? d.lakeRetentionDays;
    const bufferSeconds = props.bufferSeconds ?? d.lakeBufferSeconds;
    const logRetentionDays = props.logRetentionDays ?? d.logRetentionDays;
    const destroyData = props.destroyData ?? false;
    this.accessLogs = accessLogsBucket(this, 'AccessLogs', { destroyData });
    this.bucket = privateBucket(this, 'Bucket', {
      destroyData,
      accessLogs: this.accessLogs,
      encryptionKey: props.encryptionKey,
      lifecycleRules: [
        {
          id: 'events',
          prefix: LAKE_PREFIXES.events,
          // S3 refuses an expiration that is not after the transition.
          transitions:
            retentionDays > TIERING_AFTER_DAYS ? [{ storageClass: StorageClass.INTELLIGENT_TIERING, transitionAfter: Duration.days(TIERING_AFTER_DAYS) }] : [],
          expiration: Duration.days(retentionDays),
        },
        { id: 'bad-events', prefix: LAKE_PREFIXES.badEvents, expiration: Duration.days(props.badEventsRetentionDays ?? d.badEventsRetentionDays) },
        // Kept as long as the events they follow from; a few bytes per transition, so no tiering (S3 Intelligent-Tiering
        // never moves objects under 128 KB).
        { id: 'segment-events', prefix: LAKE_PREFIXES.segmentEvents, expiration: Duration.days(retentionDays) },
        { id: 'errors', prefix: LAKE_PREFIXES.errors, expiration: Duration.days(90) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });

    this.consentFilter = new HouseFunction(this, 'ConsentFilter', {
      entry: 'lake-filter/handler.ts',
      serviceName: 'lake-filter',
      description: 'Firehose transformation of the events delivery stream: drops events without analytics consent',
      // Firehose waits at most 5 minutes for a transformation; a batch reads each person once, 16 at a time.
      timeout: Duration.minutes(2),
      logRetentionDays,
      environment: consentSettingsToEnv(props.consent),
    })
      .bindTable(props.profiles, ENV.profilesTable, 'dynamodb:GetItem')
      .bindTable(props.identities, ENV.identitiesTable, 'dynamodb:BatchGetItem')
      .invokedSynchronouslyBy(
        'Data Firehose, as the record transformation of the events delivery stream',
        `Firehose retries the batch, then writes its records under ${LAKE_PREFIXES.errors}events/processing-failed/`,
      );
    this.eventsDeliveryStream = this.deliveryStream('EventsDelivery', {
      prefix: LAKE_PREFIXES.events,
      errorPrefix: `${LAKE_PREFIXES.errors}events/`,
      source: new KinesisStreamSource(props.stream),
      processor: this.consentFilter.fn,
      bufferSeconds,
      logRetentionDays,
    });
    Validations.of(this.eventsDeliveryStream).acknowledge({
      id: 'AwsSolutions-KDF1',
      reason: `Firehose refuses server-side encryption on a delivery stream whose source is a Kinesis stream; the records are encrypted at rest in that stream (KMS) and in S3 (${props.encryptionKey ? 'SSE-KMS' : 'SSE-S3'})`,
    });
    this.badEventsDeliveryStream = this.deliveryStream('BadEventsDelivery', {
      prefix: LAKE_PREFIXES.badEvents,
      errorPrefix: `${LAKE_PREFIXES.errors}bad-events/`,
      encryption: StreamEncryption.awsOwnedKey(),
      bufferSeconds: BAD_EVENTS_BUFFER_SECONDS,
      logRetentionDays,
    });
    this.segmentEventsDeliveryStream = this.deliveryStream('SegmentEventsDelivery', {
      prefix: LAKE_PREFIXES.segmentEvents,
      errorPrefix: `${LAKE_PREFIXES.errors}segment-events/`,
      encryption: StreamEncryption.awsOwnedKey(),
      // The events' interval: the one an erasure waits for before it rewrites the lake.
      bufferSeconds,
      logRetentionDays,
      appendNewline: true,
    });
    this.segmentEventsRule = new Rule(this, 'SegmentEventsRule', {
      description: 'Records segment entry and exit events in the lake (segment-events/)',
      eventBus: props.segmentBus,
      eventPattern: { source: [SEGMENT_EVENT_SOURCE] },
      // The whole event, as EventBridge delivers it; the target's role may put records on this delivery stream only.
      targets: [withDeadLetterQueue(new FirehoseDeliveryStream(this.segmentEventsDeliveryStream), props.failedInvocations)],
    });

    // Every delivery stream adds Firehose's CIDR blocks per region to the stack (for VPC destinations such as
    // Redshift); with S3 destinations nothing refers to them, and CloudFormation validation warns (W7001).
    const stack = Stack.of(this);
    const cidrBlocks = stack.node.children.find((c) => c instanceof CfnMapping && c.node.id.endsWith('aws-kinesisfirehose.CidrBlocks'));
    if (cidrBlocks) stack.node.tryRemoveChild(cidrBlocks.node.id);

    // Records of the events stream wait in two buffers of `bufferSeconds`: the consent filter's, then the destination's.
    [this.eventsDeliveryAlarm, this.eventsFreshnessAlarm] = deliveryAlarms(this, 'Events', this.eventsDeliveryStream, 2 * bufferSeconds);
    [this.badEventsDeliveryAlarm, this.badEventsFreshnessAlarm] = deliveryAlarms(this, 'BadEvents', this.badEventsDeliveryStream, BAD_EVENTS_BUFFER_SECONDS);
    [this.segmentEventsDeliveryAlarm, this.segmentEventsFreshnessAlarm] = deliveryAlarms(this, 'SegmentEvents', this.segmentEventsDeliveryStream, bufferSeconds);
  }

  /**
   * A delivery stream into `prefix` of the lake: gzip, `.json.gz`, partitioned by arrival hour, errors logged to its
   * own log group, with a role of its own that may write only under `prefix` and `errorPrefix`, and invoke only its
   * processor's function, if it has one. With `appendNewline`, Firehose ends every record with a newline.
   */
  private deliveryStream(
    id: string,
    options: {
      prefix: string;
      errorPrefix: string;
      bufferSeconds: number;
      logRetentionDays: number;
      source?: KinesisStreamSource;
      encryption?: StreamEncryption;
      /** A Lambda function that transforms the records before delivery. */
      processor?: IFunction;
      /** Records arrive without a newline of their own (EventBridge's): append one, so objects are JSON lines. */
      appendNewline?: boolean;
    },
  ): DeliveryStream {
    const role = new Role(this, `${id}Role`, {
      // Firehose's documented confused-deputy guard: it passes the account id as the external id.
      assumedBy: new ServicePrincipal('firehose.amazonaws.com', { conditions: { StringEquals: { 'sts:ExternalId': Stack.of(this).account } } }),
    });
    const objects = [options.prefix, options.errorPrefix].map((prefix) => this.bucket.arnForObjects(`${prefix}*`));
    // The S3 actions of Firehose's documented destination policy, objects scoped to this stream's prefixes.
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'], resources: [this.bucket.bucketArn] }));
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'], resources: objects }));
    // Firehose's documented destination policy with an SSE-KMS bucket. (Reading the source stream's key is granted
    // with the stream, `kms:Decrypt`.)
    grantKey(role, this.bucket.encryptionKey, KEY_ACTIONS.encrypt);
    if (options.processor) {
      // Firehose's documented policy for a Lambda processor. The processor's own grant is lost on the immutable
      // destination role below, so it is given here, for that function only.
      role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['lambda:InvokeFunction', 'lambda:GetFunctionConfiguration'], resources: [options.processor.functionArn] }),
      );
    }
    const logGroup = new LogGroup(this, `${id}Logs`, { retention: options.logRetentionDays, removalPolicy: RemovalPolicy.DESTROY });
    logGroup.grantWrite(role);

    const deliveryStream = new DeliveryStream(this, id, {
      role, // reads the source stream (the grant is added to this role)
      source: options.source,
      encryption: options.encryption,
      destination: new S3Bucket(this.bucket, {
        // Without policy updates: the destination would otherwise grant itself read, write and delete on the whole bucket.
        role: role.withoutPolicyUpdates(),
        dataOutputPrefix: `${options.prefix}${PARTITIONS}`,
        errorOutputPrefix: `${options.errorPrefix}!{firehose:error-output-type}/${PARTITIONS}`,
        compression: Compression.GZIP,
        fileExtension: LAKE_FILE_EXTENSION,
        bufferingInterval: Duration.seconds(options.bufferSeconds),
        bufferingSize: Size.mebibytes(64),
        loggingConfig: new EnableLogging(logGroup),
        // Invoked once per buffer: as often as the lake writes objects, or every 3 MiB when busier.
        processors: options.processor ? [lambdaProcessor(options.processor, options.bufferSeconds)] : undefined,
      }),
    });
    // Firehose checks its role when the stream is created: create it once the role's policy exists.
    deliveryStream.node.addDependency(role);
    if (options.appendNewline) {
      // The override sets the destination's processors: it would replace a Lambda processor's configuration.
      if (options.processor) throw new Error(`${id}: appendNewline and a Lambda processor cannot be combined`);
      appendNewlineToRecords(deliveryStream);
    }
    Validations.of(role).acknowledge(
      {
        id: objectsUnderFinding(this.bucket, options.prefix),
        reason: `Firehose writes objects with generated names under ${options.prefix}; the wildcard is limited to that prefix of the lake bucket`,
      },
      {
        id: objectsUnderFinding(this.bucket, options.errorPrefix),
        reason: `Firehose writes the records it could not deliver under ${options.errorPrefix}; the wildcard is limited to that prefix of the lake bucket`,
      },
    );
    return deliveryStream;
  }
}

/**
 * Makes Firehose end every record with a newline before it concatenates records into an object: the destination's
 * `AppendDelimiterToRecord` processor, which the L2 construct cannot express (it takes Lambda processors only), so
 * it is set on the L1 resource. The documented shape: the CloudFormation `Processor` property,
 * `{ Type, Parameters? }` with `Type` allowing `AppendDelimiterToRecord`
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-kinesisfirehose-deliverystream-processor.html),
 * inside `ProcessingConfiguration` `{ Enabled, Processors }`; Firehose's API reference: "If you want to add a new
 * line delimiter between records in objects that are delivered to Amazon S3, choose AppendDelimiterToRecord as a
 * processor type. You don't have to put a processor parameter" (https://docs.aws.amazon.com/firehose/latest/APIReference/API_Processor.html);
 * without it "Firehose concatenates data without any delimiters" (https://docs.aws.amazon.com/firehose/latest/dev/basic-deliver.html).
 */
function appendNewlineToRecords(deliveryStream: DeliveryStream): void {
  const cfn = deliveryStream.node.defaultChild as CfnDeliveryStream;
  cfn.addPropertyOverride('ExtendedS3DestinationConfiguration.ProcessingConfiguration', {
    Enabled: true,
    Processors: [{ Type: 'AppendDelimiterToRecord' }],
  });
}

/** A Lambda processor that buffers like the delivery stream (time) or up to `FILTER_BUFFER_MIB` (size). */
function lambdaProcessor(fn: IFunction, bufferSeconds: number): LambdaFunctionProcessor {
  return new LambdaFunctionProcessor(fn, { bufferInterval: Duration.seconds(bufferSeconds), bufferSize: Size.mebibytes(FILTER_BUFFER_MIB) });
}

/**
 * The two alarms of a delivery stream: delivery to S3 failing, and data waiting longer than 15 minutes (or than its
 * buffers can hold a record, `bufferedSeconds`, plus 5 minutes, whichever is longer, so that full buffers are not an
 * alarm). Missing data is no traffic, not a failure. The stack's observability sends them to its alarm topic.
 */
function deliveryAlarms(scope: Construct, name: string, deliveryStream: DeliveryStream, bufferedSeconds: number): [Alarm, Alarm] {
  const period = Duration.minutes(5);
  const delivery = new Alarm(scope, `${name}DeliveryFailing`, {
    alarmDescription: `Firehose ${name} delivery stream: deliveries to S3 are failing (see its error log group)`,
    metric: deliveryStream.metric('DeliveryToS3.Success', { statistic: 'Average', period }),
    threshold: 1,
    comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  const freshness = new Alarm(scope, `${name}DeliveryLate`, {
    alarmDescription: `Firehose ${name} delivery stream: records wait too long to reach S3`,
    metric: deliveryStream.metric('DeliveryToS3.DataFreshness', { statistic: 'Maximum', period }),
    threshold: Math.max(15 * 60, bufferedSeconds + 5 * 60),
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  return [delivery, freshness];
}
