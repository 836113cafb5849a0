import { DescribeTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ENV, ERASURES_KEY, IDENTITIES_KEY, ITEMS_KEY, PROFILES_KEY, SEGMENTS_KEY, TTL_ATTRIBUTE } from '../../lambdas/shared/env';
import { expandPrefix } from '../../local/firehose';
import { LAKE_EVENTS_PREFIX } from '../../local/lake-writer';
import type { LocalRuntime } from '../../local/runtime';
import { lakeObjects } from '../support/lake';
import { dynamoDbAt, eventually, kinesisAt, READ_KEY, startTestRuntime, WRITE_KEY } from '../support/local-runtime';

/** The local runtime creates and runs what the synthesized template defines, and what the handlers expect. */

jest.setTimeout(60_000);

type Resource = { Type: string; Properties: Record<string, any> };
let runtime: LocalRuntime;
let resources: Array<[string, Resource]>;
beforeAll(async () => {
  runtime = await startTestRuntime();
  resources = Object.entries((runtime.template as { Resources: Record<string, Resource> }).Resources);
});
afterAll(async () => {
  await runtime?.stop();
});
const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
const localName = (logicalId: string) => {
  const found = [...runtime.model.tables, ...runtime.model.streams, ...runtime.model.deliveryStreams, ...runtime.model.buses].find((r) => r.logicalId === logicalId);
  if (!found) throw new Error(`${logicalId} has no local counterpart`);
  return found.name;
};

it('creates every table of the template with its key schema and indexes, and expires items by its TTL attribute', async () => {
  const dynamodb = dynamoDbAt(runtime.endpoints.dynamodb);
  const tables = ofType('AWS::DynamoDB::Table');
  expect(tables).toHaveLength(5);
  for (const [id, table] of tables) {
    const described = await dynamodb.send(new DescribeTableCommand({ TableName: localName(id) }));
    expect(described.Table?.KeySchema).toEqual(table.Properties.KeySchema);
    expect(described.Table?.AttributeDefinitions).toEqual(table.Properties.AttributeDefinitions);
    expect((described.Table?.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName, i.KeySchema])).toEqual(
      (table.Properties.GlobalSecondaryIndexes ?? []).map((i: { IndexName: string; KeySchema: unknown }) => [i.IndexName, i.KeySchema]),
    );
    // Segment definitions do not expire.
    if (!table.Properties.TimeToLiveSpecification) continue;

    // The template's TTL attribute is the one that expires items locally (dynalite has no TTL of its own).
    const ttlAttribute = table.Properties.TimeToLiveSpecification.AttributeName;
    expect(ttlAttribute).toBe(TTL_ATTRIBUTE);
    const key = { [table.Properties.KeySchema[0].AttributeName]: { S: `parity-${id}` } };
    await dynamodb.send(new PutItemCommand({ TableName: localName(id), Item: { ...key, [ttlAttribute]: { N: String(Math.floor(Date.now() / 1000) - 5) } } }));
    await runtime.ttl.sweep();
    expect((await dynamodb.send(new GetItemCommand({ TableName: localName(id), Key: key }))).Item).toBeUndefined();
  }
  // …and the key schema is the one the handlers' stores use.
  const keyNames = tables.map(([, t]) => t.Properties.KeySchema[0].AttributeName);
  expect(new Set(keyNames)).toEqual(new Set([PROFILES_KEY.partitionKey, IDENTITIES_KEY.partitionKey, ITEMS_KEY.partitionKey, SEGMENTS_KEY.partitionKey, ERASURES_KEY.partitionKey]));
});

it('creates every stream of the template with its retention', async () => {
  const kinesis = kinesisAt(runtime.endpoints.kinesis);
  const streams = ofType('AWS::Kinesis::Stream');
  expect(streams).toHaveLength(1);
  for (const [id, stream] of streams) {
    const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: localName(id) }));
    expect(summary.StreamDescriptionSummary?.StreamStatus).toBe('ACTIVE');
    expect(summary.StreamDescriptionSummary?.RetentionPeriodHours).toBe(stream.Properties.RetentionPeriodHours);
  }
});

it('gives each function exactly the template environment, resolved to local resources, and nothing from the host', async () => {
  const functions = ofType('AWS::Lambda::Function');
  expect(functions).toHaveLength(13); // 11, and the write and read keys' authorizers
  const secrets = new SecretsManagerClient({ region: 'us-east-1', endpoint: runtime.endpoints.secretsManager, credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
  const allNames = new Set<string>();
  for (const [id, fn] of functions) {
    const templateNames = Object.keys(fn.Properties.Environment.Variables).sort();
    const local = runtime.lambdas.environmentOf(id);
    for (const name of templateNames) allNames.add(name);
    for (const name of templateNames) expect(local[name]).toBeDefined();
    // The rest is what Lambda itself provides, plus the emulator endpoints and local-only switches.
    const extra = Object.keys(local).filter((k) => !templateNames.includes(k));
    for (const name of extra) expect(name).toMatch(/^(AWS_|_HANDLER$|PATH$|POWERTOOLS_(LOG_LEVEL|TRACE_ENABLED|METRICS_DISABLED)$)/);
    expect(local.HOME).toBeUndefined();

    for (const [name, value] of Object.entries(fn.Properties.Environment.Variables)) {
      if (typeof value === 'object' && (value as { Ref?: string }).Ref) {
        const target = resources.find(([rid]) => rid === (value as { Ref: string }).Ref)?.[1];
        if (target?.Type === 'AWS::SecretsManager::Secret') {
          const secret = await secrets.send(new GetSecretValueCommand({ SecretId: local[name] }));
          // The write key (ingest, and the write key's authorizer), the read key (the read key's authorizer).
          const credential = name === ENV.writeKeySecret ? 'write' : name === ENV.keySecret ? fn.Properties.Environment.Variables[ENV.credential] : undefined;
          expect(JSON.parse(secret.SecretString as string)).toEqual({ key: { write: WRITE_KEY, read: READ_KEY }[credential as 'write' | 'read'] });
        } else if (target?.Type === 'AWS::Athena::WorkGroup' || target?.Type === 'AWS::Glue::Database') {
          expect(local[name]).toBe(target.Properties.Name ?? target.Properties.DatabaseInput.Name); // named, not emulated
        } else if (target?.Type === 'AWS::S3::Bucket') {
          expect(local[name]).toEqual(expect.any(String)); // the lake bucket: the local lake is a directory
        } else {
          expect(local[name]).toBe(localName((value as { Ref: string }).Ref));
        }
      } else if (typeof value === 'object' && (value as { 'Fn::Join'?: unknown })['Fn::Join']) {
        // Joined from pseudo parameters and literals (the authorizers' usage identifier keys).
        const [, parts] = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
        for (const part of parts) if (typeof part === 'string') expect(local[name]).toContain(part);
        expect(local[name]).not.toMatch(/Fn::|\[object/);
      } else {
        expect(local[name]).toBe(String(value));
      }
    }
  }
  // Every variable a handler reads is set on some function.
  for (const name of [ENV.profilesTable, ENV.badEventsDeliveryStream, ENV.itemsTable, ENV.eventStream, ENV.writeKeySecret, ENV.keySecret, ENV.credential, ENV.recommendConfig]) {
    expect(allNames).toContain(name);
  }
});

it('polls the stream with the event source mapping settings of the template', () => {
  const [[id, esm]] = ofType('AWS::Lambda::EventSourceMapping');
  const local = runtime.model.mappings.find((m) => m.logicalId === id);
  expect(local).toEqual(
    expect.objectContaining({
      batchSize: esm.Properties.BatchSize,
      maxBatchingWindowSeconds: esm.Properties.MaximumBatchingWindowInSeconds,
      bisectOnError: esm.Properties.BisectBatchOnFunctionError,
      maxRetryAttempts: esm.Properties.MaximumRetryAttempts,
      maxRecordAgeSeconds: esm.Properties.MaximumRecordAgeInSeconds,
      reportBatchItemFailures: true,
      functionId: esm.Properties.FunctionName.Ref,
    }),
  );
});

it('serves every API method of the template', async () => {
  const methods = ofType('AWS::ApiGateway::Method');
  expect(methods.length).toBeGreaterThanOrEqual(29);
  for (const route of runtime.model.api?.routes ?? []) {
    const url = `${runtime.url}${route.resource.replace('{userId}', 'someone')}`;
    const response = await fetch(url, { method: route.method, ...(route.method === 'POST' ? { body: '{}' } : {}) });
    expect([route.method, route.resource, response.status]).not.toEqual([route.method, route.resource, 404]);
    expect(response.status).toBeLessThan(500);
  }
  expect(runtime.model.api?.routes).toHaveLength(methods.length);
});

it('authorizes each API method as the template says (IAM, or its Lambda authorizer), and answers with its gateway responses', async () => {
  const authorizers = ofType('AWS::ApiGateway::Authorizer');
  for (const [id, method] of ofType('AWS::ApiGateway::Method')) {
    const route = runtime.model.api?.routes.find((r) => r.logicalId === id);
    const authorization = method.Properties.AuthorizationType ?? 'NONE';
    expect([id, route?.authorization]).toEqual([id, authorization]);
    if (authorization === 'CUSTOM') {
      const [, authorizer] = authorizers.find(([authorizerId]) => authorizerId === method.Properties.AuthorizerId.Ref) ?? [];
      expect(JSON.stringify(authorizer?.Properties.AuthorizerUri)).toContain(`"${route?.authorizer?.functionId}"`);
      expect(route?.authorizer).toMatchObject({ identityHeaders: ['authorization'], ttlSeconds: authorizer?.Properties.AuthorizerResultTtlInSeconds });
    }
    if (authorization === 'NONE' || !route) continue;
    // Without credentials, API Gateway refuses before any function runs.
    const url = `${runtime.url}${route.resource.replace(/\{\w+\}/g, 'someone')}`;
    const response = await fetch(url, { method: route.method, ...(['GET', 'DELETE'].includes(route.method) ? {} : { body: '{}' }) });
    expect([id, response.status]).toEqual([id, authorization === 'AWS_IAM' ? 403 : 401]);
  }
  const responseTypes = (types: string[]) => [...types].sort();
  expect(responseTypes(runtime.model.api?.gatewayResponses.map((r) => r.type) ?? [])).toEqual(responseTypes(ofType('AWS::ApiGateway::GatewayResponse').map(([, r]) => r.Properties.ResponseType)));
});

describe('Firehose delivery streams', () => {
  it('reads the lake from each Kinesis-sourced delivery stream, with the prefix the local lake writes', () => {
    const kinesisSourced = ofType('AWS::KinesisFirehose::DeliveryStream').filter(([, d]) => d.Properties.DeliveryStreamType === 'KinesisStreamAsSource');
    expect(kinesisSourced).toHaveLength(1);
    for (const [id, d] of kinesisSourced) {
      const local = runtime.model.deliveryStreams.find((l) => l.logicalId === id);
      expect(local?.sourceStreamId).toBe(d.Properties.KinesisStreamSourceConfiguration.KinesisStreamARN['Fn::GetAtt'][0]);
      expect(local?.prefix).toBe(d.Properties.ExtendedS3DestinationConfiguration.Prefix);
      // Its processor, the lake's consent filter, is the template's function, run by the local Lambda host.
      const [processor] = d.Properties.ExtendedS3DestinationConfiguration.ProcessingConfiguration.Processors;
      const lambdaArn = processor.Parameters.find((p: { ParameterName: string }) => p.ParameterName === 'LambdaArn').ParameterValue;
      expect(local?.processor?.functionId).toBe(lambdaArn['Fn::GetAtt'][0]);
      expect(runtime.model.functions.map((fn) => fn.logicalId)).toContain(local?.processor?.functionId);
      // The lake writer's layout: events/dt=YYYY-MM-DD/hour=HH/, partitioned in UTC.
      expect(d.Properties.ExtendedS3DestinationConfiguration.Prefix).toBe(`${LAKE_EVENTS_PREFIX}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/`);
    }
  });

  it('serves each Direct PUT delivery stream a function writes to, by the name the function gets, under its prefix', async () => {
    const functionTargets = new Set(runtime.model.functions.map((fn) => fn.environment[ENV.badEventsDeliveryStream]).filter(Boolean));
    const directPut = ofType('AWS::KinesisFirehose::DeliveryStream').filter(([id, d]) => d.Properties.DeliveryStreamType === 'DirectPut' && functionTargets.has(localName(id)));
    expect(directPut).toHaveLength(1);
    const firehose = new FirehoseClient({ region: 'us-east-1', endpoint: runtime.endpoints.firehose, credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    for (const fn of runtime.model.functions) {
      if (fn.environment[ENV.badEventsDeliveryStream]) expect(runtime.lambdas.environmentOf(fn.logicalId).AWS_ENDPOINT_URL_FIREHOSE).toBe(runtime.endpoints.firehose);
    }
    const names = new Set(runtime.model.functions.map((fn) => fn.environment[ENV.badEventsDeliveryStream]).filter(Boolean));
    expect([...names]).toEqual([localName(directPut[0][0])]);

    const [[, d]] = directPut;
    const prefix: string = d.Properties.ExtendedS3DestinationConfiguration.Prefix;
    const marker = `parity-${Date.now()}`;
    const at = Date.now();
    const out = await firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: [...names][0], Records: [{ Data: Buffer.from(`{"marker":"${marker}"}\n`) }] }));
    expect(out.FailedPutCount).toBe(0);
    const top = prefix.split('/')[0];
    const object = await eventually(async () => lakeObjects(runtime.lakeDir, top).find((o) => o.lines.includes(`{"marker":"${marker}"}`)));
    expect([at, at + 60_000].map((t) => expandPrefix(prefix, t).slice(top.length + 1))).toContain(object.key.replace(/[^/]+$/, ''));
    firehose.destroy();
  });

  it("appends a newline to each record where the template's delivery stream does (AppendDelimiterToRecord), and nowhere else", () => {
    const deliveryStreams = ofType('AWS::KinesisFirehose::DeliveryStream');
    expect(deliveryStreams).toHaveLength(3);
    for (const [id, d] of deliveryStreams) {
      const processors: Array<{ Type: string }> = d.Properties.ExtendedS3DestinationConfiguration.ProcessingConfiguration?.Processors ?? [];
      const local = runtime.model.deliveryStreams.find((l) => l.logicalId === id);
      expect({ id, appendsNewline: local?.appendsNewline ?? false }).toEqual({ id, appendsNewline: processors.some((p) => p.Type === 'AppendDelimiterToRecord') });
    }
  });
});

describe('EventBridge rules', () => {
  it('routes what is put on a bus to the target of each rule of the template with an event pattern, as the pattern says', () => {
    const rules = ofType('AWS::Events::Rule').filter(([, r]) => r.Properties.EventPattern !== undefined);
    expect(rules).toHaveLength(1);
    for (const [id, r] of rules) {
      expect(runtime.model.rules.find((l) => l.logicalId === id)).toEqual({
        logicalId: id,
        busName: localName(r.Properties.EventBusName.Ref),
        pattern: r.Properties.EventPattern,
        deliveryStreamName: localName(r.Properties.Targets[0].Arn['Fn::GetAtt'][0]),
      });
    }
    expect(runtime.model.rules).toHaveLength(rules.length);
  });
});
