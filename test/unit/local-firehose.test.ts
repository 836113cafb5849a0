import * as fs from 'node:fs';
import type { Server } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DescribeDeliveryStreamCommand, FirehoseClient, PutRecordBatchCommand, PutRecordCommand } from '@aws-sdk/client-firehose';
import { FirehoseBadEventStore } from '../../lambdas/shared/store/bad-event-store';
import { listen } from '../../local/emulators';
import { expandPrefix, firehoseStub } from '../../local/firehose';
import { LocalDeliveryStream, modelFromTemplate } from '../../local/template-model';
import { T0 } from '../support/events';

/** The local Firehose endpoint, driven by the real SDK client, and the template model's delivery streams. */

const BAD_EVENTS_PREFIX = 'bad-events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/';
const EVENTS_PREFIX = 'events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/';

describe('expandPrefix', () => {
  it("expands !{timestamp:…} in UTC, as Firehose does", () => {
    expect(expandPrefix(BAD_EVENTS_PREFIX, Date.UTC(2024, 11, 31, 23, 59, 59))).toBe('bad-events/dt=2024-12-31/hour=23/');
    expect(expandPrefix('x/!{timestamp:yyyyMMdd}/!{timestamp:HH-mm-ss}/', T0 + 61_000)).toBe('x/20240501/12-01-01/');
  });

  it("appends Firehose's default time part to a prefix without a timestamp, and to none", () => {
    expect(expandPrefix('raw/', T0)).toBe('raw/2024/05/01/12/');
    expect(expandPrefix('', T0)).toBe('2024/05/01/12/');
  });

  it('refuses what it does not emulate', () => {
    expect(() => expandPrefix('x/!{firehose:random-string}/!{timestamp:HH}/', T0)).toThrow(/cannot expand !\{firehose:random-string\}/);
    expect(() => expandPrefix('x/!{timestamp:yy}/', T0)).toThrow(/cannot format "yy"/);
  });
});

describe('the local Firehose endpoint', () => {
  const deliveryStreams: LocalDeliveryStream[] = [
    { logicalId: 'BadEvents', name: 'bad-events', arn: 'arn:bad', type: 'DirectPut', prefix: BAD_EVENTS_PREFIX },
    { logicalId: 'Events', name: 'events', arn: 'arn:events', type: 'KinesisStreamAsSource', sourceStreamId: 'Stream', prefix: EVENTS_PREFIX },
    { logicalId: 'SegmentEvents', name: 'segment-events', arn: 'arn:segment-events', type: 'DirectPut', prefix: 'segment-events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/', appendsNewline: true },
  ];
  let lakeDir: string;
  let server: Server;
  let client: FirehoseClient;
  let now = T0;
  beforeAll(async () => {
    lakeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'firehose-'));
    server = firehoseStub(deliveryStreams, lakeDir, () => now);
    client = new FirehoseClient({ region: 'us-east-1', endpoint: await listen(server), credentials: { accessKeyId: 'l', secretAccessKey: 'l' }, maxAttempts: 1 });
  });
  afterAll(async () => {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(lakeDir, { recursive: true, force: true });
  });
  /** Every object under the lake, by key, with its content. */
  const objects = () =>
    (fs.readdirSync(lakeDir, { recursive: true }) as string[])
      .filter((key) => key.endsWith('.json.gz'))
      .sort()
      .map((key) => ({ key, text: gunzipSync(fs.readFileSync(path.join(lakeDir, key))).toString('utf8') }));

  it('writes each PutRecordBatch call as one gzip object, the records concatenated as they are', async () => {
    now = Date.UTC(2024, 4, 1, 7, 8, 9);
    const out = await client.send(new PutRecordBatchCommand({ DeliveryStreamName: 'bad-events', Records: [{ Data: Buffer.from('{"a":1}\n') }, { Data: Buffer.from('{"b":2}\n') }] }));
    expect(out.FailedPutCount).toBe(0);
    expect(out.RequestResponses).toHaveLength(2);
    expect(out.RequestResponses?.every((r) => typeof r.RecordId === 'string' && !r.ErrorCode)).toBe(true);
    const put = await client.send(new PutRecordCommand({ DeliveryStreamName: 'bad-events', Record: { Data: Buffer.from('{"c":3}\n') } }));
    expect(typeof put.RecordId).toBe('string');

    const written = objects();
    expect(written).toHaveLength(2);
    for (const { key } of written) expect(key).toMatch(/^bad-events\/dt=2024-05-01\/hour=07\/bad-events-20240501070809-[0-9a-f-]{36}\.json\.gz$/);
    expect(written.map((o) => o.text).sort()).toEqual(['{"a":1}\n{"b":2}\n', '{"c":3}\n']);
    expect((fs.readdirSync(lakeDir, { recursive: true }) as string[]).filter((key) => key.endsWith('.tmp'))).toEqual([]);
  });

  it('appends a newline to each record when the delivery stream has an AppendDelimiterToRecord processor', async () => {
    now = Date.UTC(2024, 4, 3, 1);
    const out = await client.send(new PutRecordBatchCommand({ DeliveryStreamName: 'segment-events', Records: [{ Data: Buffer.from('{"a":1}') }, { Data: Buffer.from('{"b":2}') }] }));
    expect(out.FailedPutCount).toBe(0);
    expect(objects().filter((o) => o.key.startsWith('segment-events/dt=2024-05-03/hour=01/')).map((o) => o.text)).toEqual(['{"a":1}\n{"b":2}\n']);
  });

  it('refuses unknown delivery streams, Kinesis-sourced ones, oversized records and other actions, with clear errors', async () => {
    const put = (name: string, data: Buffer[]) => client.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: data.map((Data) => ({ Data })) }));
    await expect(put('nope', [Buffer.from('x')])).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(put('events', [Buffer.from('x')])).rejects.toMatchObject({ name: 'InvalidArgumentException', message: expect.stringMatching(/KinesisStreamAsSource/) });
    await expect(put('bad-events', [Buffer.alloc(1000 * 1024 + 1)])).rejects.toThrow(/larger than 1024000 bytes/);
    await expect(put('bad-events', Array.from({ length: 501 }, () => Buffer.from('x')))).rejects.toThrow(/1 to 500 records/);
    await expect(client.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'bad-events' }))).rejects.toThrow(
      'The local Firehose only supports PutRecordBatch and PutRecord, not Firehose_20150804.DescribeDeliveryStream',
    );
  });

  it('takes what the bad-events store sends: newline-terminated JSON lines in the bad-events/ partition of the call', async () => {
    now = Date.UTC(2024, 4, 2, 0, 30);
    const store = new FirehoseBadEventStore(client, 'bad-events', () => now);
    await store.putAll([
      { id: 'ingest/r/0', source: 'ingest', reason: 'bad', payload: '{}', sourceId: 'src_1', arrivedAt: now },
      { id: 'shardId-1/2', source: 'processor', reason: 'worse', payload: 'x', partitionKey: 'u' },
    ]);
    const [object] = objects().filter((o) => o.key.startsWith('bad-events/dt=2024-05-02/hour=00/'));
    expect(object.text.endsWith('\n')).toBe(true);
    expect(object.text.trimEnd().split('\n').map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ id: 'ingest/r/0', source: 'ingest', reason: 'bad', sourceId: 'src_1' }),
      expect.objectContaining({ id: 'shardId-1/2', source: 'processor', partitionKey: 'u', detectedAt: '2024-05-02T00:30:00.000Z' }),
    ]);
  });
});

describe('delivery streams in the template model', () => {
  const template = {
    Resources: {
      Stream: { Type: 'AWS::Kinesis::Stream', Properties: { RetentionPeriodHours: 24 }, Metadata: { 'aws:cdk:path': 'P/Ingestion/Stream/Resource' } },
      EventsDelivery: {
        Type: 'AWS::KinesisFirehose::DeliveryStream',
        Properties: {
          DeliveryStreamType: 'KinesisStreamAsSource',
          KinesisStreamSourceConfiguration: { KinesisStreamARN: { 'Fn::GetAtt': ['Stream', 'Arn'] }, RoleARN: { 'Fn::GetAtt': ['Role', 'Arn'] } },
          ExtendedS3DestinationConfiguration: { BucketARN: { 'Fn::GetAtt': ['Lake', 'Arn'] }, Prefix: EVENTS_PREFIX, ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/' },
        },
        Metadata: { 'aws:cdk:path': 'P/Lake/Events/Resource' },
      },
      BadEventsDelivery: {
        Type: 'AWS::KinesisFirehose::DeliveryStream',
        Properties: { DeliveryStreamType: 'DirectPut', ExtendedS3DestinationConfiguration: { BucketARN: { 'Fn::GetAtt': ['Lake', 'Arn'] }, Prefix: BAD_EVENTS_PREFIX } },
        Metadata: { 'aws:cdk:path': 'P/Lake/BadEvents/Resource' },
      },
      Fn: {
        Type: 'AWS::Lambda::Function',
        Properties: { Handler: 'index.handler', Environment: { Variables: { BAD: { Ref: 'BadEventsDelivery' }, BAD_ARN: { 'Fn::GetAtt': ['BadEventsDelivery', 'Arn'] } } } },
        Metadata: { 'aws:asset:path': 'asset.fn', 'aws:cdk:path': 'P/Fn/Resource' },
      },
    },
  };

  it('reads their source, type and S3 prefixes, and resolves Ref to the name and Arn to the ARN', () => {
    const model = modelFromTemplate(template, '/assembly');
    expect(model.deliveryStreams).toEqual([
      {
        logicalId: 'EventsDelivery',
        name: 'P-Lake-Events',
        arn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/P-Lake-Events',
        type: 'KinesisStreamAsSource',
        sourceStreamId: 'Stream',
        prefix: EVENTS_PREFIX,
        errorOutputPrefix: 'errors/!{firehose:error-output-type}/',
      },
      { logicalId: 'BadEventsDelivery', name: 'P-Lake-BadEvents', arn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/P-Lake-BadEvents', type: 'DirectPut', prefix: BAD_EVENTS_PREFIX },
    ]);
    expect(model.functions[0].environment).toEqual({ BAD: 'P-Lake-BadEvents', BAD_ARN: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/P-Lake-BadEvents' });
  });

  it('defaults to Direct PUT, and refuses a source that is not a stream of the template or a destination that is not S3', () => {
    const { Stream } = template.Resources;
    const with_ = (properties: object) => modelFromTemplate({ Resources: { Stream, Delivery: { Type: 'AWS::KinesisFirehose::DeliveryStream', Properties: properties } } }, '/a');
    expect(with_({ DeliveryStreamName: 'named', S3DestinationConfiguration: { Prefix: 'p/' } }).deliveryStreams[0]).toMatchObject({ name: 'named', type: 'DirectPut', prefix: 'p/' });
    expect(() => with_({ DeliveryStreamType: 'KinesisStreamAsSource', KinesisStreamSourceConfiguration: { KinesisStreamARN: 'arn:aws:kinesis:eu-west-1:1:stream/x' }, ExtendedS3DestinationConfiguration: {} })).toThrow(
      /is not a Kinesis stream of this template/,
    );
    expect(() => with_({ HttpEndpointDestinationConfiguration: {} })).toThrow(/only S3 destinations/);
  });
});
