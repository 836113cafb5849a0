import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { loadAnalyses } from '../../analytics';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { DEFAULT_CONSENT_SETTINGS } from '../../lambdas/shared/domain/consent';
import { SEGMENT_EVENT_SOURCE, segmentEventDetail } from '../../lambdas/shared/domain/segment-events';
import { ENV } from '../../lambdas/shared/env';
import { DEFAULT_CONFIG, loadConfig } from '../../lib/config';
import { Analytics, BAD_EVENTS_COLUMNS, EVENTS_COLUMNS, lakeDatabaseNameFor, SEGMENT_EVENTS_COLUMNS } from '../../lib/constructs/analytics';
import { EventLake } from '../../lib/constructs/event-lake';
import { EventStream } from '../../lib/constructs/event-stream';
import { ProfileStore } from '../../lib/constructs/profile-store';
import { synth } from '../support/synth';


// Read with the synth (the stack reads them itself), so that an edit of a .sql file during the run cannot differ.
const analyses = loadAnalyses();
const { stack, template } = synth();
const resources = (type: string) => template.findResources(type);
/** The logical id of an L1 resource, or of an L2's default child. */
const logicalIdOf = (construct: IConstruct) => stack.getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
const ref = (construct: IConstruct) => ({ Ref: logicalIdOf(construct) });
const arn = (construct: IConstruct) => ({ 'Fn::GetAtt': [logicalIdOf(construct), 'Arn'] });
const s3Url = (construct: IConstruct, path: string) => ({ 'Fn::Join': ['', ['s3://', ref(construct), `/${path}`]] });
const lakeId = logicalIdOf(stack.lake.bucket);
const PARTITIONS = 'dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/';

/** Every statement of the policies attached to `roleId`, actions sorted, single resources unwrapped. */
function statementsOfRole(roleId: string, t: Template = template): Array<{ Action: string[]; Resource: unknown; Condition?: unknown }> {
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement)
    .map((s: { Action: string | string[]; Resource: unknown; Condition?: unknown; Effect: string }) => {
      expect(s.Effect).toBe('Allow');
      return {
        Action: [s.Action].flat().sort(),
        Resource: Array.isArray(s.Resource) && s.Resource.length === 1 ? s.Resource[0] : s.Resource,
        ...(s.Condition ? { Condition: s.Condition } : {}),
      };
    });
}
const roleOfFunction = (fn: IConstruct) => resources('AWS::Lambda::Function')[logicalIdOf(fn)].Properties.Role['Fn::GetAtt'][0];

describe('lake bucket', () => {
  const bucket = () => resources('AWS::S3::Bucket')[lakeId];

  it('is private: encrypted with the platform key (encryption.test.ts), all public access blocked, TLS only, not versioned (erasure is final)', () => {
    expect(bucket().Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arn(stack.platformKey!.key) }, BucketKeyEnabled: true }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    expect(bucket().Properties.VersioningConfiguration).toBeUndefined();
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: lakeId },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('logs access to the access-log bucket', () => {
    expect(bucket().Properties.LoggingConfiguration).toEqual({ DestinationBucketName: ref(stack.lake.accessLogs), LogFilePrefix: 'Bucket/' });
  });

  it('tiers events after 30 days and expires each prefix after its retention; incomplete uploads are aborted after a day', () => {
    expect(bucket().Properties.LifecycleConfiguration.Rules).toEqual([
      {
        Id: 'events',
        Prefix: 'events/',
        Status: 'Enabled',
        Transitions: [{ StorageClass: 'INTELLIGENT_TIERING', TransitionInDays: 30 }],
        ExpirationInDays: 730,
      },
      { Id: 'bad-events', Prefix: 'bad-events/', Status: 'Enabled', ExpirationInDays: 90 },
      { Id: 'segment-events', Prefix: 'segment-events/', Status: 'Enabled', ExpirationInDays: 730 },
      { Id: 'errors', Prefix: 'errors/', Status: 'Enabled', ExpirationInDays: 90 },
      { Id: 'abort-incomplete-uploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
    ]);
  });

  it('takes its retention from configuration (no tiering when events expire within 30 days)', () => {
    const custom = synth({ lakeRetentionDays: '14', badEventsRetentionDays: '7', trainingWindowDays: '14' });
    const rules = custom.template.findResources('AWS::S3::Bucket')[custom.stack.getLogicalId(custom.stack.lake.bucket.node.defaultChild as never)].Properties.LifecycleConfiguration.Rules;
    expect(rules[0]).toEqual({ Id: 'events', Prefix: 'events/', Status: 'Enabled', ExpirationInDays: 14 });
    expect(rules[1]).toMatchObject({ Id: 'bad-events', ExpirationInDays: 7 });
    expect(rules[2]).toMatchObject({ Id: 'segment-events', ExpirationInDays: 14 });
  });

  it('is retained with the stack, unless destroyData (then deleted with its objects)', () => {
    expect(bucket().DeletionPolicy).toBe('Retain');
    const destroyed = synth({ destroyData: 'true' });
    const buckets = destroyed.template.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(3);
    for (const b of Object.values(buckets)) expect(b.DeletionPolicy).toBe('Delete');
    destroyed.template.resourceCountIs('Custom::S3AutoDeleteObjects', 3);
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
});

describe('access-log bucket', () => {
  const id = logicalIdOf(stack.lake.accessLogs);

  it('is private like the others, keeps logs 90 days, and takes logs from the lake and results buckets only (bucket policy, no ACL)', () => {
    const bucket = resources('AWS::S3::Bucket')[id];
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [{ Id: 'expire-logs', Status: 'Enabled', ExpirationInDays: 90, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] },
    });
    expect(bucket.Properties.AccessControl).toBeUndefined();
    expect(bucket.Properties.LoggingConfiguration).toBeUndefined();
    const policy = Object.values(resources('AWS::S3::BucketPolicy')).find((p) => p.Properties.Bucket.Ref === id);
    const statements = policy?.Properties.PolicyDocument.Statement;
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ...[stack.lake.bucket, stack.analytics.resultsBucket].map((source) =>
          expect.objectContaining({
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Condition: expect.objectContaining({ ArnLike: { 'aws:SourceArn': arn(source) } }),
          }),
        ),
      ]),
    );
    expect(statements).toHaveLength(3);
  });
});

describe('events delivery stream', () => {
  const id = logicalIdOf(stack.lake.eventsDeliveryStream);
  const props = () => resources('AWS::KinesisFirehose::DeliveryStream')[id].Properties;

  it('reads the event stream and writes gzipped JSON lines to events/, partitioned by hour, with no conversion (its consent filter: lake-consent.test.ts)', () => {
    expect(props()).toMatchObject({
      DeliveryStreamType: 'KinesisStreamAsSource',
      KinesisStreamSourceConfiguration: { KinesisStreamARN: arn(stack.events.stream) },
    });
    const destination = props().ExtendedS3DestinationConfiguration;
    expect(destination).toMatchObject({
      BucketARN: arn(stack.lake.bucket),
      Prefix: `events/${PARTITIONS}`,
      ErrorOutputPrefix: `errors/events/!{firehose:error-output-type}/${PARTITIONS}`,
      CompressionFormat: 'GZIP',
      FileExtension: '.json.gz',
      BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 64 },
      CloudWatchLoggingOptions: { Enabled: true },
    });
    expect(destination.DataFormatConversionConfiguration).toBeUndefined();
    expect(destination.DynamicPartitioningConfiguration).toBeUndefined();
  });

  it('buffers as configured', () => {
    const custom = synth({ lakeBufferSeconds: '0' });
    custom.template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamType: 'KinesisStreamAsSource',
      ExtendedS3DestinationConfiguration: Match.objectLike({ BufferingHints: { IntervalInSeconds: 0, SizeInMBs: 64 } }),
    });
    expect(() => synth({ lakeBufferSeconds: '901' })).toThrow(/lakeBufferSeconds/);
  });

  it('has a role of its own (what it may do: least-privilege.test.ts), assumed by Firehose for this account only', () => {
    const roleId = props().ExtendedS3DestinationConfiguration.RoleARN['Fn::GetAtt'][0];
    expect(props().KinesisStreamSourceConfiguration.RoleARN['Fn::GetAtt'][0]).toBe(roleId);
    const role = resources('AWS::IAM::Role')[roleId];
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { Service: 'firehose.amazonaws.com' },
        Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'AWS::AccountId' } } },
      },
    ]);
    // Created after its role's policy: Firehose checks the role when the stream is created.
    expect(resources('AWS::KinesisFirehose::DeliveryStream')[id].DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^LakeEventsDeliveryRoleDefaultPolicy/)]));
  });
});

describe('bad-events delivery stream', () => {
  const id = logicalIdOf(stack.lake.badEventsDeliveryStream);
  const props = () => resources('AWS::KinesisFirehose::DeliveryStream')[id].Properties;

  it('takes Direct PUTs, encrypted at rest, and writes gzipped JSON lines to bad-events/', () => {
    expect(props()).toMatchObject({ DeliveryStreamType: 'DirectPut', DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' } });
    expect(props().KinesisStreamSourceConfiguration).toBeUndefined();
    const destination = props().ExtendedS3DestinationConfiguration;
    expect(destination).toMatchObject({
      BucketARN: arn(stack.lake.bucket),
      Prefix: `bad-events/${PARTITIONS}`,
      ErrorOutputPrefix: `errors/bad-events/!{firehose:error-output-type}/${PARTITIONS}`,
      CompressionFormat: 'GZIP',
      FileExtension: '.json.gz',
      CloudWatchLoggingOptions: { Enabled: true },
    });
    expect(destination.DataFormatConversionConfiguration).toBeUndefined();
    expect(destination.ProcessingConfiguration).toBeUndefined();
  });

  it('is what the ingest and processor functions send rejected events to (name in the environment, PutRecord/PutRecordBatch only)', () => {
    for (const fn of [stack.ingestion.function.fn, stack.processor.function.fn]) {
      expect(resources('AWS::Lambda::Function')[logicalIdOf(fn)].Properties.Environment.Variables[ENV.badEventsDeliveryStream]).toEqual(ref(stack.lake.badEventsDeliveryStream));
      const firehose = statementsOfRole(roleOfFunction(fn)).filter((s) => s.Action.some((a) => a.startsWith('firehose:')));
      expect(firehose).toEqual([{ Action: ['firehose:PutRecord', 'firehose:PutRecordBatch'], Resource: arn(stack.lake.badEventsDeliveryStream) }]);
    }
  });

  it('replaces the DynamoDB bad-events table', () => {
    expect(Object.keys(resources('AWS::DynamoDB::Table')).map((id) => id.toLowerCase()).filter((id) => id.includes('bad'))).toEqual([]);
    const firehoseRoles = Object.values(resources('AWS::KinesisFirehose::DeliveryStream')).map((d) => d.Properties.ExtendedS3DestinationConfiguration.RoleARN['Fn::GetAtt'][0]);
    for (const roleId of firehoseRoles) {
      for (const s of statementsOfRole(roleId)) expect(s.Action.every((a) => !a.includes('*') && !a.startsWith('s3:Delete'))).toBe(true);
    }
  });
});

describe('segment events into the lake', () => {
  const id = logicalIdOf(stack.lake.segmentEventsDeliveryStream);
  const props = () => resources('AWS::KinesisFirehose::DeliveryStream')[id].Properties;
  const rule = () => resources('AWS::Events::Rule')[logicalIdOf(stack.lake.segmentEventsRule)].Properties;

  it('subscribe to the segment bus: a rule for source personalization.segments, delivering the whole event to the segment-events delivery stream', () => {
    expect(rule()).toEqual({
      Description: expect.any(String),
      EventBusName: ref(stack.segments.bus),
      EventPattern: { source: [SEGMENT_EVENT_SOURCE] },
      State: 'ENABLED',
      // What EventBridge cannot deliver goes to the failed invocations (failed-invocations.test.ts).
      Targets: [
        {
          Id: 'Target0',
          Arn: arn(stack.lake.segmentEventsDeliveryStream),
          RoleArn: { 'Fn::GetAtt': [expect.any(String), 'Arn'] },
          DeadLetterConfig: { Arn: arn(stack.failedInvocations) },
        },
      ],
    });
    expect(SEGMENT_EVENT_SOURCE).toBe('personalization.segments');
  });

  it("give the rule's target a role of its own that may only put records on that delivery stream", () => {
    const roleId = rule().Targets[0].RoleArn['Fn::GetAtt'][0];
    expect(resources('AWS::IAM::Role')[roleId].Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'events.amazonaws.com' } },
    ]);
    expect(statementsOfRole(roleId)).toEqual([{ Action: ['firehose:PutRecord', 'firehose:PutRecordBatch'], Resource: arn(stack.lake.segmentEventsDeliveryStream) }]);
  });

  it('are written by a Direct PUT delivery stream, encrypted at rest, as gzipped JSON lines under segment-events/, a newline appended to each event', () => {
    expect(props()).toMatchObject({ DeliveryStreamType: 'DirectPut', DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' } });
    const destination = props().ExtendedS3DestinationConfiguration;
    expect(destination).toMatchObject({
      BucketARN: arn(stack.lake.bucket),
      Prefix: `segment-events/${PARTITIONS}`,
      ErrorOutputPrefix: `errors/segment-events/!{firehose:error-output-type}/${PARTITIONS}`,
      CompressionFormat: 'GZIP',
      FileExtension: '.json.gz',
      // As the events': an erasure waits for the lake's buffering interval.
      BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 64 },
      CloudWatchLoggingOptions: { Enabled: true },
    });
    // EventBridge writes an event's JSON without a newline, and Firehose concatenates records as they are.
    expect(destination.ProcessingConfiguration).toEqual({ Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] });
    expect(destination.DataFormatConversionConfiguration).toBeUndefined();
  });

});

describe('delivery alarms', () => {
  const alarm = (a: IConstruct) => resources('AWS::CloudWatch::Alarm')[logicalIdOf(a)].Properties;

  it('alarm on failing deliveries and on stale data for each delivery stream, notifying the alarm topic', () => {
    for (const [deliveryStream, failing, late] of [
      [stack.lake.eventsDeliveryStream, stack.lake.eventsDeliveryAlarm, stack.lake.eventsFreshnessAlarm],
      [stack.lake.badEventsDeliveryStream, stack.lake.badEventsDeliveryAlarm, stack.lake.badEventsFreshnessAlarm],
      [stack.lake.segmentEventsDeliveryStream, stack.lake.segmentEventsDeliveryAlarm, stack.lake.segmentEventsFreshnessAlarm],
    ] as const) {
      const dimensions = [{ Name: 'DeliveryStreamName', Value: ref(deliveryStream) }];
      expect(alarm(failing)).toMatchObject({
        Namespace: 'AWS/Firehose',
        MetricName: 'DeliveryToS3.Success',
        Dimensions: dimensions,
        Statistic: 'Average',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'notBreaching',
      });
      expect(alarm(late)).toMatchObject({
        Namespace: 'AWS/Firehose',
        MetricName: 'DeliveryToS3.DataFreshness',
        Dimensions: dimensions,
        Statistic: 'Maximum',
        Threshold: 900,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
      const topic = { Ref: logicalIdOf(stack.observability.topic) };
      expect([alarm(failing).AlarmActions, alarm(late).AlarmActions]).toEqual([[topic], [topic]]);
    }
  });

  it('do not take full buffers for stale data', () => {
    const custom = synth({ lakeBufferSeconds: '900' });
    const late = custom.template.findResources('AWS::CloudWatch::Alarm')[custom.stack.getLogicalId(custom.stack.lake.eventsFreshnessAlarm.node.defaultChild as never)];
    // The consent filter's buffer, then the destination's, then 5 minutes.
    expect(late.Properties.Threshold).toBe(2 * 900 + 300);
  });
});

describe('Glue catalog', () => {
  const table = (t: IConstruct) => resources('AWS::Glue::Table')[logicalIdOf(t)].Properties;

  it('has the lake database, named after the stack by default', () => {
    template.hasResourceProperties('AWS::Glue::Database', { CatalogId: { Ref: 'AWS::AccountId' }, DatabaseInput: Match.objectLike({ Name: 'personalization_lake' }) });
    expect(lakeDatabaseNameFor('My-Shop.Prod')).toBe('my_shop_prod_lake');
    synth({ lakeDatabaseName: 'shop_events' }).template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: Match.objectLike({ Name: 'shop_events' }) });
    synth({ stackName: 'Shop-Staging' }).template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: Match.objectLike({ Name: 'shop_staging_lake' }) });
  });

  it.each([
    ['events', () => stack.analytics.eventsTable, 'events/', EVENTS_COLUMNS, {}],
    ['bad_events', () => stack.analytics.badEventsTable, 'bad-events/', BAD_EVENTS_COLUMNS, {}],
    ['segment_events', () => stack.analytics.segmentEventsTable, 'segment-events/', SEGMENT_EVENTS_COLUMNS, { 'mapping.detail_type': 'detail-type' }],
  ] as const)('has the %s table: JSON lines with the OpenX SerDe, dt/hour projected partitions, over its prefix', (name, of, prefix, columns, mappings) => {
    const props = table(of());
    expect(props.DatabaseName).toEqual(ref(stack.analytics.database));
    const input = props.TableInput;
    expect(input).toMatchObject({
      Name: name,
      TableType: 'EXTERNAL_TABLE',
      PartitionKeys: [
        { Name: 'dt', Type: 'string' },
        { Name: 'hour', Type: 'string' },
      ],
    });
    expect(input.StorageDescriptor).toMatchObject({
      Columns: columns.map((c) => ({ Name: c.name, Type: c.type })),
      Location: s3Url(stack.lake.bucket, prefix),
      InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
    });
    expect(input.StorageDescriptor.SerdeInfo).toEqual({ SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe', Parameters: { 'ignore.malformed.json': 'true', ...mappings } });
    expect(input.Parameters).toMatchObject({
      'projection.enabled': 'true',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.dt.range': '2024-01-01,NOW',
      'projection.dt.interval': '1',
      'projection.dt.interval.unit': 'DAYS',
      'projection.hour.type': 'integer',
      'projection.hour.range': '0,23',
      'projection.hour.digits': '2',
      'storage.location.template': { 'Fn::Join': ['', ['s3://', { Ref: lakeId }, `/${prefix}dt=\${dt}/hour=\${hour}`]] },
      classification: 'json',
      compressionType: 'gzip',
    });
  });

  it('has the Segment fields as events columns, lowercased, and the bad-event record fields as bad_events columns', () => {
    expect(EVENTS_COLUMNS.map((c) => c.name)).toEqual([
      'messageid', 'type', 'event', 'name', 'category', 'userid', 'anonymousid', 'previousid', 'groupid',
      'timestamp', 'sentat', 'originaltimestamp', 'receivedat', 'sourceid', 'properties', 'traits', 'context',
    ]); // prettier-ignore
    expect(EVENTS_COLUMNS.every((c) => c.type === 'string')).toBe(true);
    expect(BAD_EVENTS_COLUMNS).toEqual([
      ...['id', 'source', 'reason', 'payload'].map((name) => ({ name, type: 'string' })),
      { name: 'truncated', type: 'boolean' },
      ...['partitionkey', 'sourceid', 'arrivedat', 'detectedat'].map((name) => ({ name, type: 'string' })),
    ]);
  });

  it('has the segment bus event as segment_events columns: detail-type read into detail_type, and every field of the detail in a struct', () => {
    const detail = segmentEventDetail({ id: 'n', type: 'exited', segmentId: 's', profileId: 'user#u', userId: 'u', at: 2, since: 1, reason: 'condition' });
    expect(SEGMENT_EVENTS_COLUMNS).toEqual([
      ...['id', 'detail_type', 'source', 'time'].map((name) => ({ name, type: 'string' })),
      { name: 'detail', type: 'struct<noticeid:string,type:string,segmentid:string,profileid:string,userid:string,at:string,since:string,reason:string>' },
    ]);
    // Every field the publisher writes, and no other.
    const structFields = SEGMENT_EVENTS_COLUMNS[4].type.slice('struct<'.length, -1).split(',');
    expect(structFields.sort()).toEqual(Object.keys(detail).map((key) => `${key.toLowerCase()}:string`).sort());
  });
});

describe('Athena', () => {
  const workGroup = () => resources('AWS::Athena::WorkGroup')[logicalIdOf(stack.analytics.workGroup)].Properties;

  it('enforces engine 3, CloudWatch metrics, a scan limit and SSE-KMS results (the platform key) in the results bucket', () => {
    expect(workGroup()).toMatchObject({
      Name: 'Personalization-analytics',
      RecursiveDeleteOption: true,
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        BytesScannedCutoffPerQuery: 200 * 1024 ** 3,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: {
          OutputLocation: s3Url(stack.analytics.resultsBucket, 'results/'),
          EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: arn(stack.platformKey!.key) },
        },
      },
    });
  });

  it('takes the scan limit and results retention from configuration', () => {
    const custom = synth({ athenaBytesScannedCutoffGb: '10', athenaResultsRetentionDays: '2' });
    custom.template.hasResourceProperties('AWS::Athena::WorkGroup', { WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 10 * 1024 ** 3 }) });
    custom.template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [{ Id: 'expire-results', Status: 'Enabled', ExpirationInDays: 2, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] },
    });
  });

  it('keeps results in a private bucket of their own that logs access and expires results after 7 days', () => {
    const bucket = resources('AWS::S3::Bucket')[logicalIdOf(stack.analytics.resultsBucket)];
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arn(stack.platformKey!.key) }, BucketKeyEnabled: true }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: ref(stack.lake.accessLogs) },
      LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: 7 })] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref(stack.analytics.resultsBucket),
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('saves every analysis of analytics/ as a named query', () => {
    const queries = Object.values(resources('AWS::Athena::NamedQuery'));
    expect(queries).toHaveLength(analyses.length);
    expect(stack.analytics.namedQueries).toHaveLength(analyses.length);
    for (const analysis of analyses) {
      const query = queries.find((q) => q.Properties.Name === analysis.title);
      expect(query?.Properties).toEqual({
        Name: analysis.title,
        Description: analysis.description,
        QueryString: analysis.sql,
        Database: ref(stack.analytics.database),
        WorkGroup: ref(stack.analytics.workGroup),
      });
      expect(query?.DependsOn).toContain(logicalIdOf(stack.analytics.workGroup));
    }
  });

  it('wires a named query to the workgroup and the database', () => {
    const small = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Small');
    const store = new ProfileStore(small, 'ProfileStore', { destroyData: false });
    const lake = new EventLake(small, 'Lake', {
      stream: new EventStream(small, 'Events', { retentionHours: 24 }).stream,
      profiles: store.profiles,
      identities: store.identities,
      consent: DEFAULT_CONSENT_SETTINGS,
      segmentBus: new EventBus(small, 'Bus'),
      failedInvocations: new Queue(small, 'FailedInvocations'),
    });
    const analysis = { name: 'dau', title: 'Daily active users', description: 'Distinct people per day', sql: '-- title: Daily active users\nSELECT 1' };
    const analytics = new Analytics(small, 'Analytics', { lake: lake.bucket, accessLogs: lake.accessLogs, databaseName: 'shop_lake', analyses: [analysis] });
    const t = Template.fromStack(small);
    t.resourceCountIs('AWS::Athena::NamedQuery', 1);
    const [query] = Object.values(t.findResources('AWS::Athena::NamedQuery'));
    expect(query.Properties).toEqual({
      Name: analysis.title,
      Description: analysis.description,
      QueryString: analysis.sql,
      Database: { Ref: small.getLogicalId(analytics.database) },
      WorkGroup: { Ref: small.getLogicalId(analytics.workGroup) },
    });
    expect(query.DependsOn).toEqual([small.getLogicalId(analytics.workGroup)]);
    expect(() => new Analytics(small, 'Bad', { lake: lake.bucket, accessLogs: lake.accessLogs, databaseName: 'Shop-Lake' })).toThrow(/Lake database name "Shop-Lake"/);
    expect(
      () => new Analytics(small, 'Long', { lake: lake.bucket, accessLogs: lake.accessLogs, databaseName: 'x', analyses: [{ ...analysis, title: 'x'.repeat(129) }] }),
    ).toThrow(/title must be at most 128/);
  });
});

describe('scheduled training', () => {
  const fnId = logicalIdOf(stack.training.function.fn);
  const fn = () => resources('AWS::Lambda::Function')[fnId];

  it('runs the trainer with room to compute, one run at a time', () => {
    expect(fn().Properties).toMatchObject({
      MemorySize: 4096,
      Timeout: 900,
      ReservedConcurrentExecutions: 1,
      Runtime: 'nodejs22.x',
      Environment: {
        Variables: expect.objectContaining({
          POWERTOOLS_SERVICE_NAME: 'model-trainer',
          [ENV.itemsTable]: ref(stack.itemStore.items),
          [ENV.athenaWorkGroup]: ref(stack.analytics.workGroup),
          [ENV.lakeDatabase]: ref(stack.analytics.database),
          [ENV.trainingWindowDays]: '90',
          [ENV.modelRetentionDays]: '30',
        }),
      },
    });
    const env = synth({ trainingWindowDays: '30', modelRetentionDays: '10' }).template;
    env.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.trainingWindowDays]: '30', [ENV.modelRetentionDays]: '10' }) },
    });
  });

  it('is started by a daily rule that retries twice within an hour', () => {
    expect(resources('AWS::Events::Rule')[logicalIdOf(stack.training.rule)].Properties).toEqual(
      expect.objectContaining({
        ScheduleExpression: 'rate(1 day)',
        State: 'ENABLED',
        Targets: [
          {
            Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
            Id: expect.any(String),
            RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
            DeadLetterConfig: { Arn: arn(stack.failedInvocations) },
          },
        ],
      }),
    );
    template.hasResourceProperties('AWS::Lambda::Permission', { FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] }, Principal: 'events.amazonaws.com', SourceArn: arn(stack.training.rule) });
  });

  it('takes its schedule from configuration, and can be turned off', () => {
    synth({ trainingSchedule: 'cron(0 3 * * ? *)' }).template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 3 * * ? *)', State: 'ENABLED' });
    synth({ trainingEnabled: 'false' }).template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 day)', State: 'DISABLED' });
  });

  it('alarms when a run fails, with no action yet', () => {
    expect(resources('AWS::CloudWatch::Alarm')[logicalIdOf(stack.training.failureAlarm)].Properties).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: ref(stack.training.function.fn) }],
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });
});

describe('outputs', () => {
  it('name the batch layer resources', () => {
    const outputs = template.toJSON().Outputs;
    expect(outputs).toMatchObject({
      LakeBucketName: { Value: ref(stack.lake.bucket) },
      LakeDatabaseName: { Value: ref(stack.analytics.database) },
      AthenaWorkGroupName: { Value: ref(stack.analytics.workGroup) },
      AthenaResultsBucketName: { Value: ref(stack.analytics.resultsBucket) },
      EventsDeliveryStreamName: { Value: ref(stack.lake.eventsDeliveryStream) },
      BadEventsDeliveryStreamName: { Value: ref(stack.lake.badEventsDeliveryStream) },
      TrainingFunctionName: { Value: ref(stack.training.function.fn) },
    });
    expect(outputs.BadEventsTableName).toBeUndefined();
  });
});

describe('batch layer configuration', () => {
  const context = (values: Record<string, unknown>) => (key: string) => values[key];

  it('has defaults', () => {
    expect(loadConfig(context({}))).toMatchObject({
      lakeRetentionDays: 730,
      badEventsRetentionDays: 90,
      lakeBufferSeconds: 60,
      athenaBytesScannedCutoffGb: 200,
      athenaResultsRetentionDays: 7,
      trainingSchedule: 'rate(1 day)',
      trainingEnabled: true,
      trainingWindowDays: 90,
    });
    expect(loadConfig(context({})).lakeDatabaseName).toBeUndefined();
    expect(DEFAULT_CONFIG.trainingWindowDays).toBe(90);
  });

  it('reads values from context (strings from -c, or JSON values)', () => {
    expect(loadConfig(context({ lakeRetentionDays: '365', trainingEnabled: false, lakeDatabaseName: 'shop_lake', trainingSchedule: 'rate(6 hours)' }))).toMatchObject({
      lakeRetentionDays: 365,
      trainingEnabled: false,
      lakeDatabaseName: 'shop_lake',
      trainingSchedule: 'rate(6 hours)',
    });
  });

  it('rejects invalid values with a clear message', () => {
    expect(() => loadConfig(context({ lakeRetentionDays: '0' }))).toThrow('Context value lakeRetentionDays="0" must be an integer from 1 to 36500');
    expect(() => loadConfig(context({ badEventsRetentionDays: 'forever' }))).toThrow(/badEventsRetentionDays/);
    expect(() => loadConfig(context({ lakeBufferSeconds: '-1' }))).toThrow(/lakeBufferSeconds.* from 0 to 900/);
    expect(() => loadConfig(context({ athenaBytesScannedCutoffGb: '0.5' }))).toThrow(/athenaBytesScannedCutoffGb/);
    expect(() => loadConfig(context({ athenaResultsRetentionDays: '0' }))).toThrow(/athenaResultsRetentionDays/);
    expect(() => loadConfig(context({ lakeDatabaseName: 'Shop-Lake' }))).toThrow(/lakeDatabaseName="Shop-Lake" must be lowercase letters, digits and _/);
    expect(() => loadConfig(context({ lakeDatabaseName: '_lake' }))).toThrow(/lakeDatabaseName/);
    expect(() => loadConfig(context({ trainingSchedule: 'every day' }))).toThrow(/trainingSchedule="every day" must be an EventBridge schedule expression/);
    expect(() => loadConfig(context({ trainingEnabled: 'yes' }))).toThrow(/trainingEnabled="yes" must be true or false/);
    expect(() => loadConfig(context({ trainingWindowDays: '0' }))).toThrow(/trainingWindowDays/);
    expect(() => loadConfig(context({ trainingWindowDays: '400', lakeRetentionDays: '365' }))).toThrow(/trainingWindowDays=400 must not exceed lakeRetentionDays=365/);
  });
});
