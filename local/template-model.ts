import * as path from 'node:path';

/**
 * The local runtime's view of the synthesized CloudFormation template. Everything the local runtime
 * creates or runs is read from here (tables, streams, Firehose delivery streams, secrets, event buses and the rules
 * on them, functions with their environment, event source mappings, schedules, API routes), so local and deployed
 * can only differ where an emulator does.
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface LocalTable {
  logicalId: string;
  name: string;
  keySchema: Array<{ AttributeName: string; KeyType: 'HASH' | 'RANGE' }>;
  attributeDefinitions: Array<{ AttributeName: string; AttributeType: 'S' | 'N' | 'B' }>;
  ttlAttribute?: string;
  /** As in the template (`IndexName`, `KeySchema`, `Projection`). */
  globalSecondaryIndexes?: Array<{ IndexName: string; KeySchema: LocalTable['keySchema']; Projection: Json }>;
}

/** An EventBridge event bus (emulated: what is put on it is recorded, see `event-bus.ts`). */
export interface LocalEventBus {
  logicalId: string;
  name: string;
  arn: string;
}

/**
 * An EventBridge rule on a bus of the template that sends the events matching its pattern to a Firehose delivery
 * stream of the template (Direct PUT), as they are. The patterns emulated: exact values of `source` and
 * `detail-type`, e.g. `{ "source": ["personalization.segments"] }`.
 */
export interface LocalBusRule {
  logicalId: string;
  /** The bus it matches events on. */
  busName: string;
  /** Event field → the values it may have (one of them, exactly). */
  pattern: Partial<Record<PatternField, string[]>>;
  /** The delivery stream the matching events are put on. */
  deliveryStreamName: string;
}

/** Event fields a local rule's pattern may match on. */
export const PATTERN_FIELDS = ['source', 'detail-type'] as const;
export type PatternField = (typeof PATTERN_FIELDS)[number];

/** An EventBridge rule that invokes a function of the template on a schedule. */
export interface LocalSchedule {
  logicalId: string;
  functionId: string;
  /** `rate(…)` or `cron(…)`, as in the template. */
  expression: string;
  enabled: boolean;
}

export interface LocalStream {
  logicalId: string;
  name: string;
  arn: string;
  retentionHours: number;
}

/** A Kinesis Data Firehose delivery stream to the S3 lake (emulated as files under the local lake directory). */
export interface LocalDeliveryStream {
  logicalId: string;
  name: string;
  arn: string;
  /** `KinesisStreamAsSource`: reads a stream of the template; `DirectPut`: written through PutRecord(Batch). */
  type: 'KinesisStreamAsSource' | 'DirectPut';
  /** Logical id of the source stream (`KinesisStreamAsSource` only). */
  sourceStreamId?: string;
  /** The S3 destination's key prefix, with its `!{timestamp:…}` expressions unexpanded ('' when none). */
  prefix: string;
  errorOutputPrefix?: string;
  /** The function Firehose invokes to transform records before delivery (a Lambda processor), if any. */
  processor?: { functionId: string; functionArn: string };
  /** Firehose ends every record with a newline before delivery (an `AppendDelimiterToRecord` processor). */
  appendsNewline?: true;
}

export interface LocalSecret {
  logicalId: string;
  name: string;
  arn: string;
}

export interface LocalFunction {
  logicalId: string;
  name: string;
  /** The bundled file esbuild produced for Lambda (`<asset dir>/index.js`). */
  modulePath: string;
  handlerExport: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** Environment exactly as in the template, with references resolved to local names. */
  environment: Record<string, string>;
}

export interface LocalEventSourceMapping {
  logicalId: string;
  functionId: string;
  streamId: string;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  bisectOnError: boolean;
  maxRetryAttempts: number;
  maxRecordAgeSeconds: number;
  reportBatchItemFailures: boolean;
  startingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** Logical id of the on-failure destination (a queue), if any. */
  onFailureId?: string;
}

/** A Lambda REQUEST authorizer (`AWS::ApiGateway::Authorizer` of type REQUEST). */
export interface LocalAuthorizer {
  logicalId: string;
  /** The function it invokes (from its `AuthorizerUri`). */
  functionId: string;
  /** The headers of its identity source, lower case: a request without one of them is refused (401) without invoking. */
  identityHeaders: string[];
  /** How long a result is cached per identity source values (`AuthorizerResultTtlInSeconds`, 300 by default; 0: never). */
  ttlSeconds: number;
}

export interface LocalRoute {
  /** The `AWS::ApiGateway::Method`. */
  logicalId: string;
  method: string;
  /** Resource path as API Gateway names it, e.g. `/v1/profiles/{userId}`. */
  resource: string;
  functionId?: string;
  /** Static response headers of a MOCK integration (CORS preflight). */
  mockHeaders?: Record<string, string>;
  mockStatus?: number;
  /** Who may call it: anyone (`NONE`), whom a Lambda authorizer allows (`CUSTOM`), a SigV4-signed caller (`AWS_IAM`). */
  authorization: 'NONE' | 'CUSTOM' | 'AWS_IAM';
  /** The authorizer of a `CUSTOM` route. */
  authorizer?: LocalAuthorizer;
}

/** An `AWS::ApiGateway::GatewayResponse`: how API Gateway answers one kind of its own refusals. */
export interface LocalGatewayResponse {
  /** `UNAUTHORIZED`, `ACCESS_DENIED`, …, or `DEFAULT_4XX`/`DEFAULT_5XX` for the kinds without their own. */
  type: string;
  /** Replaces the kind's status code. */
  statusCode?: number;
  /** Static header values (`'…'` in the template). */
  headers: Record<string, string>;
  /** The `application/json` body template (`$context.error.messageString` and `$context.error.message` are filled in). */
  template?: string;
}

export interface LocalApi {
  stageName: string;
  /** Media types API Gateway passes to functions base64-encoded ("*\/*" matches all). */
  binaryMediaTypes: string[];
  routes: LocalRoute[];
  gatewayResponses: LocalGatewayResponse[];
}

export interface LocalModel {
  tables: LocalTable[];
  streams: LocalStream[];
  deliveryStreams: LocalDeliveryStream[];
  secrets: LocalSecret[];
  queues: Array<{ logicalId: string; name: string }>;
  functions: LocalFunction[];
  mappings: LocalEventSourceMapping[];
  buses: LocalEventBus[];
  rules: LocalBusRule[];
  schedules: LocalSchedule[];
  api?: LocalApi;
}

/** Resource types that are named (for `Ref`) but not emulated, and the property holding the name, if set. */
const NAMED_ONLY: Record<string, (properties: Json) => string | undefined> = {
  'AWS::Athena::WorkGroup': (p) => p.Name,
  'AWS::Glue::Database': (p) => p.DatabaseInput?.Name,
  'AWS::S3::Bucket': (p) => p.BucketName,
};

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

/** Reads the model out of a template; `assemblyDir` is where the bundled assets are. */
export function modelFromTemplate(template: Json, assemblyDir: string): LocalModel {
  const resources: Record<string, Json> = template.Resources ?? {};
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const localName = (id: string) => nameFromPath(resources[id]?.Metadata?.['aws:cdk:path'], id);

  const tables: LocalTable[] = ofType('AWS::DynamoDB::Table').map(([id, r]) => ({
    logicalId: id,
    name: r.Properties.TableName ?? localName(id),
    keySchema: r.Properties.KeySchema,
    attributeDefinitions: r.Properties.AttributeDefinitions,
    ...(r.Properties.TimeToLiveSpecification?.Enabled ? { ttlAttribute: r.Properties.TimeToLiveSpecification.AttributeName } : {}),
    ...(r.Properties.GlobalSecondaryIndexes ? { globalSecondaryIndexes: r.Properties.GlobalSecondaryIndexes } : {}),
  }));
  const buses: LocalEventBus[] = ofType('AWS::Events::EventBus').map(([id, r]) => {
    const name = r.Properties?.Name ?? localName(id);
    return { logicalId: id, name, arn: `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:event-bus/${name}` };
  });
  const streams: LocalStream[] = ofType('AWS::Kinesis::Stream').map(([id, r]) => {
    const name = r.Properties.Name ?? localName(id);
    return { logicalId: id, name, arn: `arn:aws:kinesis:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stream/${name}`, retentionHours: r.Properties.RetentionPeriodHours ?? 24 };
  });
  const secrets: LocalSecret[] = ofType('AWS::SecretsManager::Secret').map(([id, r]) => {
    const name = r.Properties.Name ?? localName(id);
    return { logicalId: id, name, arn: `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${name}` };
  });
  const queues = ofType('AWS::SQS::Queue').map(([id, r]) => ({ logicalId: id, name: r.Properties.QueueName ?? localName(id) }));

  /** What `Ref` and `Fn::GetAtt Arn` resolve to locally. */
  // Pseudo parameters, as CloudFormation resolves them (the stack's name is the first part of every cdk path).
  const stackName = Object.values(resources).map((r) => r.Metadata?.['aws:cdk:path']?.split('/')[0]).find(Boolean) ?? 'local';
  const refs = new Map<string, string>([
    ['AWS::AccountId', LOCAL_ACCOUNT],
    ['AWS::Region', LOCAL_REGION],
    ['AWS::Partition', 'aws'],
    ['AWS::URLSuffix', 'amazonaws.com'],
    ['AWS::StackName', stackName],
  ]);
  const arns = new Map<string, string>();
  for (const t of tables) {
    refs.set(t.logicalId, t.name);
    arns.set(t.logicalId, `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${t.name}`);
  }
  for (const s of streams) {
    refs.set(s.logicalId, s.name);
    arns.set(s.logicalId, s.arn);
  }
  for (const s of secrets) {
    refs.set(s.logicalId, s.arn); // CloudFormation's Ref of a secret is its ARN
    arns.set(s.logicalId, s.arn);
  }
  for (const b of buses) {
    refs.set(b.logicalId, b.name);
    arns.set(b.logicalId, b.arn);
  }
  // Resources the functions may name but the local runtime does not emulate (the training function's Athena
  // workgroup and Glue database, buckets): Ref resolves to their name, as in CloudFormation.
  for (const [type, nameOf] of Object.entries(NAMED_ONLY)) {
    for (const [id, r] of ofType(type)) {
      const name = nameOf(r.Properties ?? {}) ?? localName(id);
      refs.set(id, type === 'AWS::S3::Bucket' ? name.toLowerCase() : name);
      if (type === 'AWS::S3::Bucket') arns.set(id, `arn:aws:s3:::${refs.get(id)}`);
    }
  }
  const functionArnOf = (id: string) =>
    resources[id]?.Type === 'AWS::Lambda::Function' ? `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${localName(id)}` : undefined;
  const deliveryStreams = ofType('AWS::KinesisFirehose::DeliveryStream').map(([id, r]) =>
    deliveryStreamOf(id, r.Properties ?? {}, r.Properties?.DeliveryStreamName ?? localName(id), streams, arns, functionArnOf),
  );
  for (const d of deliveryStreams) {
    refs.set(d.logicalId, d.name); // Ref of a delivery stream is its name, as for tables and streams
    arns.set(d.logicalId, d.arn);
  }
  const resolve = (value: unknown, where: string): string => {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
    const v = value as Json;
    if (v?.Ref && refs.has(v.Ref)) return refs.get(v.Ref) as string;
    if (v?.['Fn::GetAtt']?.[1] === 'Arn' && arns.has(v['Fn::GetAtt'][0])) return arns.get(v['Fn::GetAtt'][0]) as string;
    const join = v?.['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) return join[1].map((part: unknown) => resolve(part, where)).join(join[0]);
    throw new Error(`The local runtime cannot resolve ${JSON.stringify(value)} in ${where}`);
  };

  const functions: LocalFunction[] = ofType('AWS::Lambda::Function').map(([id, r]) => {
    const assetDir = r.Metadata?.['aws:asset:path'];
    if (!assetDir) throw new Error(`Function ${id} has no aws:asset:path metadata: synthesize with asset metadata enabled`);
    const [file, handlerExport] = splitHandler(r.Properties.Handler);
    const variables: Record<string, unknown> = r.Properties.Environment?.Variables ?? {};
    return {
      logicalId: id,
      name: localName(id),
      modulePath: path.join(assemblyDir, assetDir, `${file}.js`),
      handlerExport,
      timeoutSeconds: r.Properties.Timeout ?? 3,
      memoryMb: r.Properties.MemorySize ?? 128,
      environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, resolve(v, `${id} environment ${k}`)])),
    };
  });

  const mappings: LocalEventSourceMapping[] = ofType('AWS::Lambda::EventSourceMapping').map(([id, r]) => {
    const p = r.Properties;
    const streamId = p.EventSourceArn?.['Fn::GetAtt']?.[0];
    if (!streams.some((s) => s.logicalId === streamId)) throw new Error(`Event source mapping ${id}: only Kinesis streams of this template are emulated`);
    return {
      logicalId: id,
      functionId: p.FunctionName.Ref,
      streamId,
      batchSize: p.BatchSize ?? 100,
      maxBatchingWindowSeconds: p.MaximumBatchingWindowInSeconds ?? 0,
      bisectOnError: p.BisectBatchOnFunctionError === true,
      maxRetryAttempts: p.MaximumRetryAttempts ?? -1,
      maxRecordAgeSeconds: p.MaximumRecordAgeInSeconds ?? -1,
      reportBatchItemFailures: (p.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
      startingPosition: p.StartingPosition,
      ...(p.DestinationConfig?.OnFailure?.Destination ? { onFailureId: p.DestinationConfig.OnFailure.Destination['Fn::GetAtt']?.[0] } : {}),
    };
  });

  const schedules: LocalSchedule[] = ofType('AWS::Events::Rule')
    .filter(([, r]) => r.Properties?.ScheduleExpression !== undefined)
    .flatMap(([id, r]) =>
      (r.Properties.Targets ?? [])
        .map((t: Json) => t.Arn?.['Fn::GetAtt']?.[0])
        .filter((fnId: unknown) => functions.some((f) => f.logicalId === fnId))
        .map((functionId: string) => ({ logicalId: id, functionId, expression: r.Properties.ScheduleExpression, enabled: r.Properties.State !== 'DISABLED' })),
    );

  const rules = ofType('AWS::Events::Rule')
    .filter(([, r]) => r.Properties?.EventPattern !== undefined && r.Properties.State !== 'DISABLED')
    .map(([id, r]) => busRuleOf(id, r.Properties, buses, deliveryStreams));

  return { tables, streams, deliveryStreams, secrets, queues, functions, mappings, buses, rules, schedules, api: apiFromResources(resources) };
}

/**
 * A delivery stream (AWS::KinesisFirehose::DeliveryStream): its source (a Kinesis stream of the template, or
 * Direct PUT when `DeliveryStreamType` is absent, as in CloudFormation), its S3 destination's prefixes, from
 * `ExtendedS3DestinationConfiguration` (or the older `S3DestinationConfiguration`), and its Lambda processor.
 * Other destinations are not emulated.
 */
function deliveryStreamOf(
  id: string,
  p: Json,
  name: string,
  streams: LocalStream[],
  arns: Map<string, string>,
  functionArnOf: (functionId: string) => string | undefined,
): LocalDeliveryStream {
  const type = p.DeliveryStreamType ?? 'DirectPut';
  if (type !== 'DirectPut' && type !== 'KinesisStreamAsSource') throw new Error(`Delivery stream ${id}: the local runtime emulates DirectPut and KinesisStreamAsSource, not ${type}`);
  const destination = p.ExtendedS3DestinationConfiguration ?? p.S3DestinationConfiguration;
  if (!destination) throw new Error(`Delivery stream ${id}: only S3 destinations are emulated`);
  const text = (value: unknown, what: string): string | undefined => {
    if (value === undefined || typeof value === 'string') return value;
    throw new Error(`Delivery stream ${id}: the local runtime needs ${what} as a plain string, not ${JSON.stringify(value)}`);
  };
  const errorOutputPrefix = text(destination.ErrorOutputPrefix, 'ErrorOutputPrefix');
  const { processor, appendsNewline } = processorsOf(id, destination.ProcessingConfiguration, functionArnOf);
  const stream: Omit<LocalDeliveryStream, 'sourceStreamId'> = {
    logicalId: id,
    name,
    arn: `arn:aws:firehose:${LOCAL_REGION}:${LOCAL_ACCOUNT}:deliverystream/${name}`,
    type,
    prefix: text(destination.Prefix, 'Prefix') ?? '',
    ...(errorOutputPrefix !== undefined ? { errorOutputPrefix } : {}),
    ...(processor ? { processor } : {}),
    ...(appendsNewline ? { appendsNewline } : {}),
  };
  if (type === 'DirectPut') return stream;

  // The source stream's ARN: `Fn::GetAtt [stream, Arn]` as CDK writes it, or the ARN itself.
  const source = p.KinesisStreamSourceConfiguration?.KinesisStreamARN;
  const getAtt = source?.['Fn::GetAtt'];
  const sourceArn = getAtt?.[1] === 'Arn' ? arns.get(getAtt[0]) : source;
  const sourceStream = streams.find((s) => s.arn === sourceArn);
  if (!sourceStream) throw new Error(`Delivery stream ${id}: its source ${JSON.stringify(source)} is not a Kinesis stream of this template`);
  return { ...stream, sourceStreamId: sourceStream.logicalId };
}

/**
 * The processors of a delivery stream's destination (`ProcessingConfiguration`, unless disabled), either of:
 * - one Lambda processor: the function its `LambdaArn` names, as `Fn::GetAtt [function, Arn]` (as CDK writes it);
 * - one `AppendDelimiterToRecord` processor without parameters: a newline after every record.
 * Other processor types, parameters and combinations are not emulated.
 */
function processorsOf(
  id: string,
  configuration: Json | undefined,
  functionArnOf: (functionId: string) => string | undefined,
): Pick<LocalDeliveryStream, 'processor' | 'appendsNewline'> {
  const processors: Json[] = configuration?.Enabled === false ? [] : (configuration?.Processors ?? []);
  if (processors.length === 0) return {};
  const [only] = processors;
  if (processors.length === 1 && only.Type === 'Lambda') return { processor: lambdaProcessorOf(id, only, functionArnOf) };
  if (processors.length === 1 && only.Type === 'AppendDelimiterToRecord' && only.Parameters === undefined) return { appendsNewline: true };
  throw new Error(
    `Delivery stream ${id}: the local runtime emulates one Lambda processor or one AppendDelimiterToRecord processor without parameters, not ${JSON.stringify(processors)}`,
  );
}

/** The function a Lambda processor invokes. */
function lambdaProcessorOf(id: string, processor: Json, functionArnOf: (functionId: string) => string | undefined): NonNullable<LocalDeliveryStream['processor']> {
  const lambdaArn = (processor.Parameters ?? []).find((p: Json) => p.ParameterName === 'LambdaArn')?.ParameterValue;
  const functionId = lambdaArn?.['Fn::GetAtt']?.[1] === 'Arn' ? lambdaArn['Fn::GetAtt'][0] : undefined;
  const functionArn = functionId === undefined ? undefined : functionArnOf(functionId);
  if (functionArn === undefined) throw new Error(`Delivery stream ${id}: its Lambda processor ${JSON.stringify(lambdaArn)} is not a function of this template`);
  return { functionId, functionArn };
}

/**
 * A rule with an event pattern (AWS::Events::Rule): the bus it is on (`EventBusName` as a `Ref` to a bus of the
 * template, or its name), its pattern, and its one target, a Direct PUT delivery stream of the template given by
 * `Fn::GetAtt [stream, Arn]`, receiving the whole event. Anything else is refused here, so a rule the local runtime
 * would not honour never goes unnoticed.
 */
function busRuleOf(id: string, p: Json, buses: LocalEventBus[], deliveryStreams: LocalDeliveryStream[]): LocalBusRule {
  const refused = (what: string) => new Error(`Rule ${id}: the local EventBridge does not emulate ${what}`);
  const bus = buses.find((b) => (p.EventBusName?.Ref !== undefined ? b.logicalId === p.EventBusName.Ref : b.name === p.EventBusName));
  if (!bus) throw refused(`rules on ${JSON.stringify(p.EventBusName ?? 'default')} (only on the buses of this template)`);

  const pattern: LocalBusRule['pattern'] = {};
  for (const [field, values] of Object.entries<unknown>(p.EventPattern)) {
    const exactValues = Array.isArray(values) && values.length > 0 && values.every((v) => typeof v === 'string');
    if (!(PATTERN_FIELDS as readonly string[]).includes(field) || !exactValues) {
      throw refused(`the pattern ${JSON.stringify({ [field]: values })}: it matches exact values (strings) of ${PATTERN_FIELDS.join(' and ')} only`);
    }
    pattern[field as PatternField] = values as string[];
  }

  const targets: Json[] = p.Targets ?? [];
  const [target] = targets;
  const deliveryStream = deliveryStreams.find((d) => d.logicalId === target?.Arn?.['Fn::GetAtt']?.[0]);
  if (targets.length !== 1 || !deliveryStream || deliveryStream.type !== 'DirectPut') {
    throw refused(`the targets ${JSON.stringify(targets.map((t) => t.Arn))} (one Direct PUT delivery stream of this template only)`);
  }
  const reshaped = ['Input', 'InputPath', 'InputTransformer'].filter((key) => target[key] !== undefined);
  if (reshaped.length > 0) throw refused(`${reshaped.join(', ')} on a target (targets receive the whole event)`);
  return { logicalId: id, busName: bus.name, pattern, deliveryStreamName: deliveryStream.name };
}

function apiFromResources(resources: Record<string, Json>): LocalApi | undefined {
  const entries = Object.entries(resources);
  const apis = entries.filter(([, r]) => r.Type === 'AWS::ApiGateway::RestApi');
  if (apis.length === 0) return undefined;
  if (apis.length > 1) throw new Error('The local runtime serves one REST API per stack');
  const [apiId, api] = apis[0];

  const pathOf = (resourceRef: Json): string => {
    if (resourceRef?.['Fn::GetAtt']?.[0] === apiId) return '';
    const resource = resources[resourceRef?.Ref];
    if (!resource || resource.Type !== 'AWS::ApiGateway::Resource') throw new Error(`Unknown API resource ${JSON.stringify(resourceRef)}`);
    return `${pathOf(resource.Properties.ParentId)}/${resource.Properties.PathPart}`;
  };

  const authorizers = new Map(
    entries.filter(([, r]) => r.Type === 'AWS::ApiGateway::Authorizer').map(([id, r]) => [id, authorizerOf(id, r.Properties, resources)] as const),
  );
  const routes: LocalRoute[] = entries
    .filter(([, r]) => r.Type === 'AWS::ApiGateway::Method')
    .map(([id, r]) => {
      const p = r.Properties;
      const authorization = p.AuthorizationType ?? 'NONE';
      if (!['NONE', 'CUSTOM', 'AWS_IAM'].includes(authorization)) throw new Error(`Method ${id}: the local API does not emulate ${authorization} authorization`);
      const route: LocalRoute = { logicalId: id, method: p.HttpMethod, resource: pathOf(p.ResourceId) || '/', authorization };
      if (authorization === 'CUSTOM') {
        route.authorizer = authorizers.get(p.AuthorizerId?.Ref);
        if (!route.authorizer) throw new Error(`Method ${id}: its authorizer ${JSON.stringify(p.AuthorizerId)} is not an authorizer of this template`);
      }
      const integration = p.Integration ?? {};
      if (integration.Type === 'AWS_PROXY') {
        route.functionId = findFunctionRef(integration.Uri, resources);
      } else if (integration.Type === 'MOCK') {
        const response = integration.IntegrationResponses?.[0] ?? {};
        route.mockStatus = Number(response.StatusCode ?? 200);
        route.mockHeaders = staticHeaders(response.ResponseParameters, 'method.response.header.');
      }
      return route;
    });

  const stage = entries.find(([, r]) => r.Type === 'AWS::ApiGateway::Stage')?.[1];
  const gatewayResponses: LocalGatewayResponse[] = entries
    .filter(([, r]) => r.Type === 'AWS::ApiGateway::GatewayResponse')
    .map(([, r]) => {
      const p = r.Properties;
      const template = p.ResponseTemplates?.['application/json'];
      return {
        type: p.ResponseType,
        ...(p.StatusCode !== undefined ? { statusCode: Number(p.StatusCode) } : {}),
        headers: staticHeaders(p.ResponseParameters, 'gatewayresponse.header.'),
        ...(typeof template === 'string' ? { template } : {}),
      };
    });
  return {
    stageName: stage?.Properties?.StageName ?? 'prod',
    binaryMediaTypes: (api.Properties.BinaryMediaTypes ?? []).map((t: string) => t.replace('~1', '/')),
    routes,
    gatewayResponses,
  };
}

/**
 * A Lambda authorizer: REQUEST authorizers whose identity source is headers (`method.request.header.X`, comma
 * separated), as CDK's `RequestAuthorizer` writes them. TOKEN and Cognito authorizers, and other identity sources, are
 * refused here, so an authorizer the local API would not honour never goes unnoticed.
 */
function authorizerOf(id: string, p: Json, resources: Record<string, Json>): LocalAuthorizer {
  if (p.Type !== 'REQUEST') throw new Error(`Authorizer ${id}: the local API emulates REQUEST authorizers, not ${p.Type}`);
  const sources = typeof p.IdentitySource === 'string' ? p.IdentitySource.split(',').map((s: string) => s.trim()).filter(Boolean) : [];
  const prefix = 'method.request.header.';
  if (sources.length === 0 || sources.some((s: string) => !s.startsWith(prefix))) {
    throw new Error(`Authorizer ${id}: the local API emulates identity sources of request headers (${prefix}…), not ${JSON.stringify(p.IdentitySource)}`);
  }
  return {
    logicalId: id,
    functionId: findFunctionRef(p.AuthorizerUri, resources),
    identityHeaders: sources.map((s: string) => s.slice(prefix.length).toLowerCase()),
    ttlSeconds: p.AuthorizerResultTtlInSeconds ?? 300,
  };
}

/** The function an AWS_PROXY integration or an authorizer URI invokes (a `Fn::GetAtt [fn, Arn]` inside its `Fn::Join`). */
function findFunctionRef(uri: unknown, resources: Record<string, Json>): string {
  const found: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const getAtt = (v as Json)['Fn::GetAtt'];
      if (getAtt && resources[getAtt[0]]?.Type === 'AWS::Lambda::Function') found.push(getAtt[0]);
      Object.values(v).forEach(walk);
    }
  };
  walk(uri);
  // CDK's authorizer URIs name the function three times (its ARN's partition and region, then the ARN).
  const functions = [...new Set(found)];
  if (functions.length !== 1) throw new Error(`Cannot tell which function the URI ${JSON.stringify(uri)} invokes`);
  return functions[0];
}

/** `{ "method.response.header.X": "'value'" }` → `{ X: "value" }` (static values only). */
function staticHeaders(parameters: Record<string, unknown> | undefined, prefix: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(parameters ?? {})) {
    if (key.startsWith(prefix) && typeof value === 'string' && /^'.*'$/.test(value)) headers[key.slice(prefix.length)] = value.slice(1, -1);
  }
  return headers;
}

function splitHandler(handler: string): [string, string] {
  const dot = handler.lastIndexOf('.');
  return [handler.slice(0, dot), handler.slice(dot + 1)];
}

/** `Personalization/ProfileStore/Profiles/Resource` → `Personalization-ProfileStore-Profiles`. */
function nameFromPath(cdkPath: string | undefined, fallback: string): string {
  if (!cdkPath) return fallback;
  return cdkPath
    .split('/')
    .filter((part) => part !== 'Resource' && part !== 'Default')
    .join('-')
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 200);
}
