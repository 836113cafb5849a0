import { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ROUTES } from '../../lambdas/shared/domain/ingestion';
import { SEGMENTS_DUE_INDEX } from '../../lambdas/shared/env';
import { ACCOUNT_KEY_ACTIONS } from '../../lib/constructs/platform-key';
import { synth } from '../support/synth';

/*
 * Least privilege, asserted on the synthesized template: every permission of every principal the stack creates (the
 * function roles, the Firehose delivery roles, EventBridge's target role, API Gateway's logging role), and who may
 * invoke each function, compared with the explicit table below. A new permission, a new resource in one, or a new
 * role fails this test until the table says so. And, whatever the table says: no wildcard action in any Allow
 * statement anywhere, and `Resource: "*"` only where AWS offers nothing narrower.
 *
 * Resources are named by their construct path in the stack (`ProfileStore/Profiles`); pseudo parameters as
 * `${Partition}`, `${Region}`, `${AccountId}`.
 */

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Synthesized {
  stack: Stack;
  template: Template;
}

const PSEUDO: Record<string, string> = { 'AWS::Partition': '${Partition}', 'AWS::Region': '${Region}', 'AWS::AccountId': '${AccountId}', 'AWS::StackName': '${StackName}' };

/** Construct path of every logical id, without the stack's and without a trailing `/Resource`. */
function pathsOf(stack: Stack): Map<string, string> {
  const paths = new Map<string, string>();
  for (const c of stack.node.findAll()) {
    if (CfnElement.isCfnElement(c)) paths.set(stack.resolve((c as CfnElement).logicalId), c.node.path.slice(stack.node.path.length + 1).replace(/\/Resource$/, ''));
  }
  return paths;
}

/** A template value as text: references by construct path, pseudo parameters as `${Name}`. */
function render(value: Json, paths: Map<string, string>): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v) => render(v, paths)).join(',');
  if (value?.Ref) return PSEUDO[value.Ref] ?? paths.get(value.Ref) ?? `?${value.Ref}`;
  if (value?.['Fn::GetAtt']) return `${paths.get(value['Fn::GetAtt'][0]) ?? `?${value['Fn::GetAtt'][0]}`}${value['Fn::GetAtt'][1] === 'Arn' ? '' : `.${value['Fn::GetAtt'][1]}`}`;
  if (value?.['Fn::Join']) return value['Fn::Join'][1].map((v: Json) => render(v, paths)).join(value['Fn::Join'][0]);
  return JSON.stringify(value);
}

/** One line per action and resource of an Allow statement: `<action> on <resource>`, and its condition, if any. */
function linesOf(statement: Json, paths: Map<string, string>): string[] {
  expect(statement.Effect).toBe('Allow');
  const condition = statement.Condition
    ? ` if ${Object.entries<Json>(statement.Condition)
        .flatMap(([operator, keys]) => Object.entries<Json>(keys).map(([key, values]) => `${key} ${operator} ${[values].flat().map((v) => render(v, paths)).join('|')}`))
        .join(' and ')}`
    : '';
  return [statement.Action]
    .flat()
    .flatMap((action: string) => [statement.Resource].flat().map((resource: Json) => `${action} on ${render(resource, paths)}${condition}`));
}

/**
 * Every principal's permissions: for each IAM role, the lines of the statements of every policy attached to it
 * (and the AWS managed policies it has); for each function, who may invoke it (`lambda:InvokeFunction by
 * <service> from <source ARN>`).
 */
function permissionsOf({ stack, template }: Synthesized): Record<string, string[]> {
  const paths = pathsOf(stack);
  const resources: Record<string, Json> = template.toJSON().Resources;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const permissions: Record<string, string[]> = {};
  const add = (principal: string, lines: string[]) => (permissions[principal] ??= []).push(...lines);

  for (const [roleId, role] of ofType('AWS::IAM::Role')) {
    const name = paths.get(roleId) as string;
    permissions[name] = [];
    for (const policy of role.Properties.Policies ?? []) add(name, policy.PolicyDocument.Statement.flatMap((s: Json) => linesOf(s, paths)));
    for (const arn of role.Properties.ManagedPolicyArns ?? []) add(name, [`managed policy ${render(arn, paths)}`]);
  }
  for (const [, policy] of [...ofType('AWS::IAM::Policy'), ...ofType('AWS::IAM::ManagedPolicy')]) {
    for (const role of policy.Properties.Roles ?? []) add(paths.get(role.Ref) as string, policy.Properties.PolicyDocument.Statement.flatMap((s: Json) => linesOf(s, paths)));
  }
  for (const [, permission] of ofType('AWS::Lambda::Permission')) {
    const p = permission.Properties;
    add(`${render(p.FunctionName, paths)} (invoked by)`, [`${p.Action} by ${p.Principal} from ${render(p.SourceArn, paths)}`]);
  }
  for (const lines of Object.values(permissions)) lines.sort();
  return permissions;
}

/** The whole expected table for a configuration. */
function expectedPermissions(options: { customerManagedKey: boolean; personalize: boolean }): Record<string, string[]> {
  const KEY = 'PlatformKey/Key';
  /** `actions` on `resource`, one line each. */
  const on = (resource: string, ...actions: string[]) => actions.map((action) => `${action} on ${resource}`);
  /** `actions` on the platform key: only when there is one. */
  const key = (...actions: string[]) => (options.customerManagedKey ? on(KEY, ...actions) : []);
  /** What every house function has: its own log group, and X-Ray (which has no resource-level permissions). */
  const house = (path: string) => [...on(`${path}/Logs`, 'logs:CreateLogStream', 'logs:PutLogEvents'), ...on('*', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments')];
  const readSecret = (path: string) => on(path, 'secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue');
  const partitionArn = (service: string, resource: string) => `arn:\${Partition}:${service}:\${Region}:\${AccountId}:${resource}`;
  const WORKGROUP = partitionArn('athena', 'workgroup/Analytics/WorkGroup');
  const GLUE_CATALOG = [partitionArn('glue', 'catalog'), partitionArn('glue', 'database/Analytics/Database')];
  const glueTable = (name: string) => partitionArn('glue', `table/Analytics/Database/${name}`);
  const lakeObjects = (prefix: string) => `Lake/Bucket/${prefix}*`;
  const listIf = (prefixes: string[]) => ` if s3:prefix StringLike ${prefixes.flatMap((p) => [p, `${p}*`]).join('|')}`;
  /** `Analytics.grantQuery` of `tables` (Glue names and their lake prefixes). */
  const athenaQuery = (tables: Array<[string, string]>) => [
    ...on(WORKGROUP, 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StartQueryExecution', 'athena:StopQueryExecution'),
    ...[...GLUE_CATALOG, ...tables.map(([name]) => glueTable(name))].flatMap((arn) => on(arn, 'glue:GetDatabase', 'glue:GetPartition', 'glue:GetPartitions', 'glue:GetTable')),
    ...tables.flatMap(([, prefix]) => on(lakeObjects(prefix), 's3:GetObject')),
    ...on('Lake/Bucket', 's3:GetBucketLocation'),
    `s3:ListBucket on Lake/Bucket${listIf(tables.map(([, prefix]) => prefix))}`,
    ...on('Analytics/Results/results/*', 's3:AbortMultipartUpload', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject'),
    ...on('Analytics/Results', 's3:GetBucketLocation', 's3:ListBucket'),
  ];
  /** The privacy functions' `LakeEraser`: find a person's objects with Athena, rewrite them under the lake's prefixes. */
  const eraseFromLake = [
    ...athenaQuery([
      ['events', 'events/'],
      ['bad_events', 'bad-events/'],
      ['segment_events', 'segment-events/'],
    ]),
    ...['events/', 'bad-events/', 'segment-events/', 'errors/'].flatMap((prefix) =>
      on(lakeObjects(prefix), 's3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject'),
    ),
    `s3:ListBucket on Lake/Bucket${listIf(['events/', 'bad-events/', 'segment-events/', 'errors/'])}`,
  ];
  const putBadEvents = on('Lake/BadEventsDelivery', 'firehose:PutRecord', 'firehose:PutRecordBatch');
  /** `HouseFunction.sendAsyncFailuresTo(failedInvocations)` */
  const sendFailedInvocations = on('FailedInvocations', 'sqs:SendMessage');
  /** Reading the stream through an event source mapping (CDK's `Stream.grantRead`, `kms:Decrypt` with a key). */
  const readStream = on(
    'Events/Stream',
    'kinesis:DescribeStream',
    'kinesis:DescribeStreamConsumer',
    'kinesis:DescribeStreamSummary',
    'kinesis:GetRecords',
    'kinesis:GetShardIterator',
    'kinesis:ListShards',
    'kinesis:ListStreams',
    'kinesis:SubscribeToShard',
  );
  /** A Firehose delivery role: its S3 destination's documented permissions, under `prefixes` only, and its error log group. */
  const deliveryRole = (name: string, prefixes: string[]) => [
    ...on('Lake/Bucket', 's3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'),
    ...prefixes.flatMap((prefix) => on(lakeObjects(prefix), 's3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject')),
    ...on(`Lake/${name}Logs`, 'logs:CreateLogStream', 'logs:PutLogEvents'),
    ...key('kms:Decrypt', 'kms:GenerateDataKey'),
  ];
  const EXECUTE_API = `arn:\${Partition}:execute-api:\${Region}:\${AccountId}:PublicApi/Api`;
  /** API Gateway may invoke a function for `routes` ("POST /v1/track") of the stage. */
  const apiInvokes = (...routes: string[]) =>
    routes.map((route) => {
      const [method, path] = route.split(' ');
      return `lambda:InvokeFunction by apigateway.amazonaws.com from ${EXECUTE_API}/PublicApi/Api/DeploymentStage.prod/${method}${path.replace(/\{[^}]+\}/g, '*')}`;
    });
  const scheduledBy = (rule: string) => [`lambda:InvokeFunction by events.amazonaws.com from ${rule}`];

  const table: Record<string, string[]> = {
    'Ingestion/Ingest/Role': [
      ...house('Ingestion/Ingest'),
      ...on('Events/Stream', 'kinesis:PutRecords'),
      ...key('kms:GenerateDataKey'),
      ...readSecret('Credentials/WriteKey'),
      ...putBadEvents,
    ],
    'Ingestion/Ingest/Function (invoked by)': apiInvokes(...Object.keys(ROUTES).map((route) => `POST /v1/${route}`)),
    'Processor/Process/Role': [
      ...house('Processor/Process'),
      ...on('ProfileStore/Profiles', 'dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem'),
      ...on('ProfileStore/Identities', 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:GetItem', 'dynamodb:PutItem'),
      ...on('Segments/Definitions', 'dynamodb:Scan'),
      ...putBadEvents,
      ...on('Segments/Bus', 'events:PutEvents'),
      ...readStream,
      ...on('Processor/Failures', 'sqs:SendMessage'),
      // Tables and the stream: decrypt; the failure queue: a data key, and its check.
      ...key('kms:Decrypt', 'kms:GenerateDataKey'),
    ],
    'ProfileReader/Profiles/Role': [
      ...house('ProfileReader/Profiles'),
      ...on('ProfileStore/Profiles', 'dynamodb:GetItem'),
      ...on('ProfileStore/Identities', 'dynamodb:BatchGetItem'),
      ...on('Events/Stream', 'kinesis:PutRecords'),
      ...key('kms:Decrypt', 'kms:GenerateDataKey'),
    ],
    'ProfileReader/Profiles/Function (invoked by)': apiInvokes('GET /v1/profiles/{userId}', 'PUT /v1/profiles/{userId}/consent'),
    'Recommendations/Catalog/Role': [
      ...house('Recommendations/Catalog'),
      ...on('ItemStore/Items', 'dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'),
      ...key('kms:Decrypt'),
    ],
    'Recommendations/Catalog/Function (invoked by)': apiInvokes('PUT /v1/items', 'DELETE /v1/items/{itemId}'),
    'Recommendations/Recommend/Role': [
      ...house('Recommendations/Recommend'),
      ...on('ProfileStore/Profiles', 'dynamodb:GetItem'),
      ...on('ProfileStore/Identities', 'dynamodb:BatchGetItem'),
      ...on('ItemStore/Items', 'dynamodb:BatchGetItem', 'dynamodb:Scan'),
      ...on('Events/Stream', 'kinesis:PutRecords'),
      ...key('kms:Decrypt', 'kms:GenerateDataKey'),
      ...(options.personalize ? on('arn:aws:personalize:eu-west-1:123456789012:campaign/shop', 'personalize:GetRecommendations') : []),
    ],
    'Recommendations/Recommend/Function (invoked by)': apiInvokes('GET /v1/recommendations'),
    'Segments/Api/Role': [
      ...house('Segments/Api'),
      ...on('Segments/Definitions', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan'),
      ...key('kms:Decrypt'),
    ],
    'Segments/Api/Function (invoked by)': apiInvokes(
      'GET /v1/segments',
      'POST /v1/segments',
      'GET /v1/segments/{segmentId}',
      'PUT /v1/segments/{segmentId}',
      'DELETE /v1/segments/{segmentId}',
    ),
    'Segments/Clock/Role': [
      ...house('Segments/Clock'),
      ...on('ProfileStore/Profiles', 'dynamodb:GetItem', 'dynamodb:PutItem'),
      ...on(`ProfileStore/Profiles/index/${SEGMENTS_DUE_INDEX.indexName}`, 'dynamodb:Query'),
      ...on('Segments/Definitions', 'dynamodb:Scan'),
      ...on('Segments/Bus', 'events:PutEvents'),
      ...sendFailedInvocations,
      ...key('kms:Decrypt', 'kms:GenerateDataKey'),
    ],
    'Segments/Clock/Function (invoked by)': scheduledBy('Segments/EveryMinute'),
    'Lake/ConsentFilter/Role': [
      ...house('Lake/ConsentFilter'),
      ...on('ProfileStore/Profiles', 'dynamodb:GetItem'),
      ...on('ProfileStore/Identities', 'dynamodb:BatchGetItem'),
      ...key('kms:Decrypt'),
    ],
    // Invoked by the events delivery role (below), not through a resource policy.
    'Training/Train/Role': [
      ...house('Training/Train'),
      ...on('ItemStore/Items', 'dynamodb:BatchWriteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'),
      ...athenaQuery([['events', 'events/']]),
      ...sendFailedInvocations,
      ...key('kms:Decrypt', 'kms:GenerateDataKey'),
    ],
    'Training/Train/Function (invoked by)': scheduledBy('Training/Schedule'),
    'Privacy/Api/Role': [
      ...house('Privacy/Api'),
      ...on('ProfileStore/Profiles', 'dynamodb:DeleteItem', 'dynamodb:GetItem'),
      ...on('ProfileStore/Identities', 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'),
      ...on('Privacy/Erasures', 'dynamodb:GetItem', 'dynamodb:PutItem'),
      ...eraseFromLake,
      ...key('kms:Decrypt', 'kms:GenerateDataKey'),
    ],
    'Privacy/Api/Function (invoked by)': apiInvokes('DELETE /v1/profiles/{userId}', 'GET /v1/profiles/{userId}/export', 'GET /v1/erasures/{erasureId}'),
    'Privacy/Worker/Role': [
      ...house('Privacy/Worker'),
      ...on('ProfileStore/Profiles', 'dynamodb:DeleteItem'),
      ...on('ProfileStore/Identities', 'dynamodb:BatchWriteItem'),
      ...on('Privacy/Erasures', 'dynamodb:PutItem', 'dynamodb:Scan'),
      ...on('Segments/Bus', 'events:PutEvents'),
      ...eraseFromLake,
      ...sendFailedInvocations,
      ...key('kms:Decrypt', 'kms:GenerateDataKey'),
    ],
    'Privacy/Worker/Function (invoked by)': scheduledBy('Privacy/EveryMinute'),
    'PublicApi/WriteAuthorizer/Function/Role': [...house('PublicApi/WriteAuthorizer/Function'), ...readSecret('Credentials/WriteKey')],
    'PublicApi/WriteAuthorizer/Function/Function (invoked by)': [
      `lambda:InvokeFunction by apigateway.amazonaws.com from ${EXECUTE_API}/authorizers/PublicApi/WriteAuthorizer/Authorizer`,
    ],
    'PublicApi/ReadAuthorizer/Function/Role': [...house('PublicApi/ReadAuthorizer/Function'), ...readSecret('Credentials/ReadKey')],
    'PublicApi/ReadAuthorizer/Function/Function (invoked by)': [
      `lambda:InvokeFunction by apigateway.amazonaws.com from ${EXECUTE_API}/authorizers/PublicApi/ReadAuthorizer/Authorizer`,
    ],
    'Lake/EventsDeliveryRole': [
      ...deliveryRole('EventsDelivery', ['events/', 'errors/events/']),
      ...readStream,
      ...on('Lake/ConsentFilter/Function', 'lambda:GetFunctionConfiguration', 'lambda:InvokeFunction'),
    ],
    'Lake/BadEventsDeliveryRole': deliveryRole('BadEventsDelivery', ['bad-events/', 'errors/bad-events/']),
    'Lake/SegmentEventsDeliveryRole': deliveryRole('SegmentEventsDelivery', ['segment-events/', 'errors/segment-events/']),
    // EventBridge's role for the segment events rule's target.
    'Lake/SegmentEventsDelivery/EventsRole': on('Lake/SegmentEventsDelivery', 'firehose:PutRecord', 'firehose:PutRecordBatch'),
    'PublicApi/Api/CloudWatchRole': ['managed policy arn:${Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs'],
  };
  if (options.personalize) {
    Object.assign(table, {
      'PersonalizeForwarder/Forward/Role': [
        ...house('PersonalizeForwarder/Forward'),
        // The Personalize developer guide requires "*" for PutEvents from a Lambda execution role (acknowledged in personalize-forwarder.ts).
        'personalize:PutEvents on *',
        ...readStream,
        ...on('PersonalizeForwarder/Failures', 'sqs:SendMessage'),
        ...key('kms:Decrypt', 'kms:GenerateDataKey'),
      ],
    });
  }
  for (const lines of Object.values(table)) lines.sort();
  return table;
}

/** Every policy statement of the template, with where it is. */
function statementsOf(template: Template): Array<{ where: string; type: string; statement: Json }> {
  const found: Array<{ where: string; type: string; statement: Json }> = [];
  const walk = (value: Json, where: string, type: string) => {
    if (Array.isArray(value)) value.forEach((v) => walk(v, where, type));
    else if (value && typeof value === 'object') {
      if (Array.isArray(value.Statement)) for (const statement of value.Statement) found.push({ where, type, statement });
      for (const [k, v] of Object.entries(value)) if (k !== 'Statement') walk(v, where, type);
    }
  };
  for (const [id, resource] of Object.entries<Json>(template.toJSON().Resources)) walk(resource.Properties, id, resource.Type);
  return found;
}

const XRAY = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];

describe.each([
  ['customer-managed', { customerManagedKey: true, personalize: false }, {}],
  ['aws-managed', { customerManagedKey: false, personalize: false }, { encryption: 'aws-managed' }],
  [
    'customer-managed, with Amazon Personalize',
    { customerManagedKey: true, personalize: true },
    { personalizeTrackingId: 'tracking-id-1', personalizeCampaignArn: 'arn:aws:personalize:eu-west-1:123456789012:campaign/shop', recommendations: { strategy: 'personalize' } },
  ],
])('least privilege (encryption %s)', (_name, options, context) => {
  const synthesized = synth(context);
  const { template } = synthesized;

  it('gives every principal exactly the permissions of the table, on its own resources', () => {
    expect(permissionsOf(synthesized)).toEqual(expectedPermissions(options));
  });

  it('has one role per function, each with no AWS managed policy', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(options.personalize ? 14 : 13);
    const roles = functions.map((fn) => fn.Properties.Role['Fn::GetAtt'][0]);
    expect(new Set(roles).size).toBe(functions.length);
    for (const role of roles) expect(template.findResources('AWS::IAM::Role')[role].Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('allows no wildcard action anywhere: only the TLS-only denials use one', () => {
    const statements = statementsOf(template);
    expect(statements.length).toBeGreaterThan(30);
    for (const { where, statement } of statements) {
      const actions: string[] = [statement.Action ?? statement.NotAction].flat();
      if (statement.Effect === 'Deny') {
        // enforceSSL on buckets and queues: deny everything over plain HTTP.
        expect({ where, condition: statement.Condition }).toEqual({ where, condition: { Bool: { 'aws:SecureTransport': 'false' } } });
        continue;
      }
      expect(statement.NotAction).toBeUndefined();
      expect({ where, wildcards: actions.filter((a) => a.includes('*')) }).toEqual({ where, wildcards: [] });
    }
  });

  it('names a resource in every Allow statement, but for X-Ray (no resource-level permissions) and key policies ("*" is the key itself)', () => {
    for (const { where, type, statement } of statementsOf(template)) {
      if (statement.Effect !== 'Allow' || ![statement.Resource].flat().includes('*')) continue;
      const actions = [statement.Action].flat().sort();
      if (type === 'AWS::KMS::Key') continue; // asserted below
      if (options.personalize && actions.join() === 'personalize:PutEvents') continue; // the Personalize developer guide requires it
      expect({ where, actions }).toEqual({ where, actions: XRAY });
    }
  });

  it(options.customerManagedKey ? 'has one key, whose policy lets IAM policies grant it by name, EventBridge put dead letters and CloudWatch notify the alarm topic' : 'has no KMS key', () => {
    const keys = Object.values(template.findResources('AWS::KMS::Key'));
    if (!options.customerManagedKey) {
      expect(keys).toEqual([]);
      expect(JSON.stringify(template.toJSON())).not.toMatch(/kms:/);
      return;
    }
    expect(keys).toHaveLength(1);
    expect(keys[0].Properties.EnableKeyRotation).toBe(true);
    expect(keys[0].Properties.KeyPolicy.Statement).toEqual([
      {
        Sid: 'AccountIamPolicies',
        Effect: 'Allow',
        Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] } },
        Action: ACCOUNT_KEY_ACTIONS,
        Resource: '*',
      },
      {
        Sid: 'EventBridgeDeadLetterQueues',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
      {
        Sid: 'CloudWatchAlarmNotifications',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
  });

  it('lets only API Gateway (its routes and authorizers) and the rules invoke functions, each permission scoped to its source', () => {
    for (const permission of Object.values(template.findResources('AWS::Lambda::Permission'))) {
      expect(permission.Properties).toEqual({
        Action: 'lambda:InvokeFunction',
        FunctionName: expect.anything(),
        Principal: expect.stringMatching(/^(apigateway|events)\.amazonaws\.com$/),
        SourceArn: expect.anything(),
      });
    }
  });
});

describe('least privilege with destroyData (development stacks)', () => {
  const { template } = synth({ destroyData: 'true' });

  it("has wildcard actions only in CDK's auto-delete-objects grants, to its own custom resource provider, on the buckets it empties", () => {
    const wildcards = statementsOf(template).filter(({ statement }) => statement.Effect === 'Allow' && [statement.Action].flat().some((a: string) => a.includes('*')));
    expect(wildcards.map(({ type }) => type)).toEqual(['AWS::S3::BucketPolicy', 'AWS::S3::BucketPolicy', 'AWS::S3::BucketPolicy']);
    for (const { statement } of wildcards) {
      expect([statement.Action].flat().sort()).toEqual(['s3:DeleteObject*', 's3:GetBucket*', 's3:List*', 's3:PutBucketPolicy']);
      expect(statement.Principal).toEqual({ AWS: { 'Fn::GetAtt': [expect.stringMatching(/^CustomS3AutoDeleteObjectsCustomResourceProviderRole/), 'Arn'] } });
    }
  });
});
