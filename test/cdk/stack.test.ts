import { Match } from 'aws-cdk-lib/assertions';
import { ROUTES } from '../../lambdas/shared/domain/ingestion';
import { ENV, PROFILES_KEY, SEGMENTS_DUE_INDEX, TTL_ATTRIBUTE } from '../../lambdas/shared/env';
import { loadConfig } from '../../lib/config';
import { synth } from '../support/synth';


const { stack, template } = synth();
const resources = (type: string) => template.findResources(type);
const logicalIdOf = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
type FunctionName = 'ingestion' | 'processor' | 'profileReader' | 'catalog' | 'recommend' | 'training' | 'segmentsApi' | 'segmentClock' | 'privacyApi' | 'erasureWorker';
const functionOf = (name: FunctionName) =>
  name === 'catalog' || name === 'recommend'
    ? stack.recommendations[name]
    : name === 'segmentsApi'
      ? stack.segments.api
      : name === 'segmentClock'
        ? stack.segments.clock
        : name === 'privacyApi'
          ? stack.privacy.api
          : name === 'erasureWorker'
            ? stack.privacy.worker
            : stack[name].function;
const fnId = (name: FunctionName) => logicalIdOf(functionOf(name).fn);

describe('event stream', () => {
  it('is on-demand and encrypted at rest (the platform key; encryption.test.ts)', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      StreamEncryption: { EncryptionType: 'KMS', KeyId: { 'Fn::GetAtt': [logicalIdOf(stack.platformKey!.key), 'Arn'] } },
      RetentionPeriodHours: 24,
    });
  });
});

describe('profile processor event source mapping', () => {
  it('never lets one poison record block a shard', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('processor') },
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 6 * 3600,
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 1,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalIdOf(stack.processor.failureQueue), 'Arn'] } } },
    });
  });

  it('sends failures to an encrypted queue that refuses non-TLS requests', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: { 'Fn::GetAtt': [logicalIdOf(stack.platformKey!.key), 'Arn'] }, MessageRetentionPeriod: 14 * 86_400 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('takes its failure settings from configuration', () => {
    const custom = synth({ processorRetryAttempts: '3', processorMaxRecordAgeHours: '2', processorBatchSize: '1000' }).template;
    custom.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRetryAttempts: 3, MaximumRecordAgeInSeconds: 7200, BatchSize: 1000 });
  });
});

describe('tables', () => {
  it('keep profiles, identity links, items, segment definitions and erasure requests encrypted with point-in-time recovery, retained on stack deletion; all but the definitions expire', () => {
    const tables = resources('AWS::DynamoDB::Table');
    // Bad events go to the lake (batch-layer.test.ts).
    expect(Object.keys(tables).sort()).toEqual([stack.store.profiles, stack.store.identities, stack.itemStore.items, stack.segments.table, stack.privacy.erasures].map(logicalIdOf).sort());
    for (const [id, table] of Object.entries(tables)) {
      expect(table.Properties).toMatchObject({
        KeySchema: [{ AttributeName: PROFILES_KEY.partitionKey, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
      if (id !== logicalIdOf(stack.segments.table)) expect(table.Properties.TimeToLiveSpecification).toEqual({ AttributeName: TTL_ATTRIBUTE, Enabled: true });
      expect(table.DeletionPolicy).toBe('Retain');
    }
  });

  it('index the profiles whose segments are due, keys only, on the profiles table alone', () => {
    const indexed = Object.entries(resources('AWS::DynamoDB::Table')).filter(([, t]) => t.Properties.GlobalSecondaryIndexes);
    expect(indexed.map(([id]) => id)).toEqual([logicalIdOf(stack.store.profiles)]);
    expect(indexed[0][1].Properties.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: SEGMENTS_DUE_INDEX.indexName,
        KeySchema: [
          { AttributeName: SEGMENTS_DUE_INDEX.partitionKey, KeyType: 'HASH' },
          { AttributeName: SEGMENTS_DUE_INDEX.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
  });

  it('are deleted with the stack only when asked', () => {
    const tables = synth({ destroyData: 'true' }).template.findResources('AWS::DynamoDB::Table');
    for (const table of Object.values(tables)) expect(table.DeletionPolicy).toBe('Delete');
  });
});

describe('functions', () => {
  it('run Node.js 22 on ARM64 with tracing, JSON logs and their own log group', () => {
    const functions = Object.values(resources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(13);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } },
        Environment: { Variables: expect.objectContaining({ POWERTOOLS_SERVICE_NAME: expect.any(String), POWERTOOLS_METRICS_NAMESPACE: 'Personalization' }) },
      });
    }
  });

  it('receive the environment variable names the handlers read', () => {
    const env = (id: string) => Object.keys(resources('AWS::Lambda::Function')[id].Properties.Environment.Variables);
    expect(env(fnId('ingestion'))).toEqual(expect.arrayContaining([ENV.eventStream, ENV.writeKeySecret, ENV.badEventsDeliveryStream]));
    expect(env(fnId('processor'))).toEqual(
      expect.arrayContaining([
        ENV.profilesTable,
        ENV.identitiesTable,
        ENV.badEventsDeliveryStream,
        ENV.anonymousTtlDays,
        ENV.knownTtlDays,
        ENV.dedupWindowHours,
        ENV.dedupMaxIds,
        ENV.affinityHalfLifeDays,
        ENV.deviceLinking,
        ENV.consentRequired,
        ENV.personalizationConsentCategory,
        ENV.analyticsConsentCategory,
      ]),
    );
    expect(env(fnId('profileReader'))).toEqual(expect.arrayContaining([ENV.profilesTable, ENV.identitiesTable]));
    expect(env(fnId('catalog'))).toEqual(expect.arrayContaining([ENV.itemsTable]));
    expect(env(fnId('recommend'))).toEqual(
      expect.arrayContaining([
        ENV.profilesTable,
        ENV.identitiesTable,
        ENV.itemsTable,
        ENV.eventStream,
        ENV.recommendConfig,
        ENV.affinityHalfLifeDays,
        ENV.consentRequired,
        ENV.personalizationConsentCategory,
      ]),
    );
    expect(env(fnId('recommend'))).not.toContain(ENV.personalizeCampaignArn);
    expect(env(fnId('training'))).toEqual(
      expect.arrayContaining([ENV.itemsTable, ENV.athenaWorkGroup, ENV.lakeDatabase, ENV.trainingWindowDays, ENV.modelRetentionDays]),
    );
  });

  it('pass the validated recommendations config to the recommend function', () => {
    const recommendations = { rules: { maxPerCategory: 2 }, experiment: { name: 'exp1', variants: [{ name: 'a', weight: 1 }, { name: 'b', weight: 1, strategy: 'popular' }] } };
    const custom = synth({ recommendations: JSON.stringify(recommendations) }).template;
    custom.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.recommendConfig]: JSON.stringify(recommendations) }) },
    });
    expect(() => synth({ recommendations: { strategy: 'personalize' } })).toThrow('strategy "personalize" needs personalizeCampaignArn');
    expect(() => synth({ recommendations: '{not json' })).toThrow('recommendations is not valid JSON');
  });

  it('pass the configured profile TTLs to the processor', () => {
    const custom = synth({ anonymousTtlDays: '7', knownTtlDays: '100' }).template;
    custom.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.anonymousTtlDays]: '7', [ENV.knownTtlDays]: '100' }) },
    });
  });

  it('pass identity and consent settings, validated, to every function that reads or writes profiles', () => {
    const custom = synth({ deviceLinking: 'true', consentRequired: 'true', personalizationConsentCategory: ' C0004 ' }).template;
    const variables = Match.objectLike({ [ENV.consentRequired]: 'true', [ENV.personalizationConsentCategory]: 'c0004', [ENV.analyticsConsentCategory]: 'analytics' });
    const expected = [fnId('processor'), fnId('segmentClock'), fnId('profileReader'), fnId('recommend'), fnId('privacyApi'), fnId('erasureWorker'), logicalIdOf(stack.lake.consentFilter.fn)];
    expect(Object.keys(custom.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: variables } } })).sort()).toEqual(expected.sort());
    custom.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ [ENV.deviceLinking]: 'true' }) } });
    expect(() => synth({ consentRequired: 'yes' })).toThrow('consentRequired');
    expect(() => synth({ analyticsConsentCategory: 'x'.repeat(65) })).toThrow('analyticsConsentCategory');
  });
});

// What each function may do, and that nothing may use a wildcard action: least-privilege.test.ts.
describe('erasure worker', () => {
  it('runs every minute, one run at a time', () => {
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)', Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId('erasureWorker'), 'Arn'] } })] });
    expect(resources('AWS::Lambda::Function')[fnId('erasureWorker')].Properties.ReservedConcurrentExecutions).toBe(1);
    expect(resources('AWS::Lambda::Function')[fnId('erasureWorker')].Properties.Environment.Variables[ENV.erasureSettleSeconds]).toBe('180');
  });
});

describe('recommendations with Amazon Personalize', () => {
  it('lets the recommend function call exactly the configured Personalize campaign', () => {
    const campaignArn = 'arn:aws:personalize:eu-west-1:123456789012:campaign/shop';
    const custom = synth({ personalizeCampaignArn: campaignArn, recommendations: { strategy: 'personalize' } });
    const policies = Object.values(custom.template.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const personalize = policies.filter((st: { Action: string | string[] }) => [st.Action].flat().some((a) => a.startsWith('personalize:')));
    expect(personalize).toEqual([expect.objectContaining({ Action: 'personalize:GetRecommendations', Resource: campaignArn })]);
    custom.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.personalizeCampaignArn]: campaignArn, [ENV.personalizeTimeoutMs]: '150' }) },
    });
  });
});

describe('segments', () => {
  it('run the clock every minute, one run at a time, without retrying a stale run', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId('segmentClock'), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 } })],
    });
    expect(resources('AWS::Lambda::Function')[fnId('segmentClock')].Properties.ReservedConcurrentExecutions).toBe(1);
  });

  it('publish to a bus of their own, named to the processor and the clock', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    const busRef = { Ref: logicalIdOf(stack.segments.bus) };
    for (const fn of ['processor', 'segmentClock'] as const) {
      expect(resources('AWS::Lambda::Function')[fnId(fn)].Properties.Environment.Variables[ENV.segmentEventBus]).toEqual(busRef);
    }
  });
});

describe('Amazon Personalize', () => {
  it('adds the forwarder only when a tracking id is configured', () => {
    expect(stack.personalizeForwarder).toBeUndefined();
    const custom = synth({ personalizeTrackingId: 'tracking-id-1' });
    expect(custom.stack.personalizeForwarder).toBeDefined();
    custom.template.resourceCountIs('AWS::Lambda::Function', 14);
    custom.template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ [ENV.personalizeTrackingId]: 'tracking-id-1' }) } });
    custom.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
  });
});

describe('API', () => {
  const routes = () => {
    const apiResources = resources('AWS::ApiGateway::Resource');
    const pathOf = (ref: any): string => (ref.Ref ? `${pathOf(apiResources[ref.Ref].Properties.ParentId)}/${apiResources[ref.Ref].Properties.PathPart}` : '');
    return Object.values(resources('AWS::ApiGateway::Method')).map((m) => ({
      route: `${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId)}`,
      integration: m.Properties.Integration.Type,
      uri: JSON.stringify(m.Properties.Integration.Uri ?? ''),
    }));
  };

  it('serves the Segment HTTP Tracking API routes and the one-letter routes of analytics.js on the ingest function', () => {
    const ingestRoutes = routes().filter((r) => r.uri.includes(fnId('ingestion')));
    expect(ingestRoutes.map((r) => r.route).sort()).toEqual(Object.keys(ROUTES).map((r) => `POST /v1/${r}`).sort());
    for (const name of ['track', 'page', 'screen', 'identify', 'alias', 'group', 'batch', 't', 'p', 's', 'i', 'a', 'g', 'b']) expect(ROUTES[name]).toBeDefined();
    expect(ingestRoutes.every((r) => r.integration === 'AWS_PROXY')).toBe(true);
  });

  it('serves profiles on their own function', () => {
    expect(routes().filter((r) => r.uri.includes(fnId('profileReader'))).map((r) => r.route).sort()).toEqual(['GET /v1/profiles/{userId}', 'PUT /v1/profiles/{userId}/consent']);
  });

  it('serves erasure and export on their own function', () => {
    expect(routes().filter((r) => r.uri.includes(fnId('privacyApi'))).map((r) => r.route).sort()).toEqual([
      'DELETE /v1/profiles/{userId}',
      'GET /v1/erasures/{erasureId}',
      'GET /v1/profiles/{userId}/export',
    ]);
  });

  it('serves segment definitions on their own function', () => {
    expect(routes().filter((r) => r.uri.includes(fnId('segmentsApi'))).map((r) => r.route).sort()).toEqual([
      'DELETE /v1/segments/{segmentId}',
      'GET /v1/segments',
      'GET /v1/segments/{segmentId}',
      'POST /v1/segments',
      'PUT /v1/segments/{segmentId}',
    ]);
  });

  it('serves the catalog and recommendations on their own functions', () => {
    expect(routes().filter((r) => r.uri.includes(fnId('catalog'))).map((r) => r.route).sort()).toEqual(['DELETE /v1/items/{itemId}', 'PUT /v1/items']);
    expect(routes().filter((r) => r.uri.includes(fnId('recommend'))).map((r) => r.route)).toEqual(['GET /v1/recommendations']);
    expect(routes().map((r) => r.route)).toContain('OPTIONS /v1/recommendations');
  });

  it('passes bodies through unchanged (every media type binary), logs access and throttles', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: ['*/*'] });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      TracingEnabled: true,
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000, LoggingLevel: 'ERROR' })],
    });
  });
});

describe('configuration', () => {
  it('rejects invalid values with a clear message', () => {
    const context = (values: Record<string, unknown>) => (key: string) => values[key];
    expect(() => loadConfig(context({ knownTtlDays: 'forever' }))).toThrow('Context value knownTtlDays="forever" must be an integer from 1 to 3650');
    expect(() => loadConfig(context({ processorBatchSize: '20000' }))).toThrow(/processorBatchSize/);
    expect(() => loadConfig(context({ apiStageName: 'my stage' }))).toThrow(/apiStageName/);
    expect(loadConfig(context({ affinityHalfLifeDays: '3.5' })).profiles.affinityHalfLifeDays).toBe(3.5);
    expect(() => loadConfig(context({ personalizeCampaignArn: 'campaign/shop' }))).toThrow(/personalizeCampaignArn.*campaign ARN/);
    expect(() => loadConfig(context({ recommendations: { rules: { maxPerCategory: -1 } } }))).toThrow(/Invalid recommendations config: .*maxPerCategory/);
  });
});
