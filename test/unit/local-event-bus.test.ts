import * as fs from 'node:fs';
import type { Server } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { listen } from '../../local/emulators';
import { eventBusStub, matchesRule, recordedEvents } from '../../local/event-bus';
import { LocalBusRule, modelFromTemplate } from '../../local/template-model';

/** The local EventBridge's rules: read from the template, matched as EventBridge matches them, delivered to their target. */

const PREFIX = 'segment-events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/';

describe('rules in the template model', () => {
  const resources = {
    Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: 'segments' } },
    Delivery: {
      Type: 'AWS::KinesisFirehose::DeliveryStream',
      Properties: {
        DeliveryStreamType: 'DirectPut',
        ExtendedS3DestinationConfiguration: { Prefix: PREFIX, ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] } },
      },
      Metadata: { 'aws:cdk:path': 'P/Lake/SegmentEvents/Resource' },
    },
  };
  const rule = (properties: Record<string, unknown>) => ({
    Type: 'AWS::Events::Rule',
    Properties: {
      EventBusName: { Ref: 'Bus' },
      EventPattern: { source: ['personalization.segments'] },
      State: 'ENABLED',
      Targets: [{ Id: 'Target0', Arn: { 'Fn::GetAtt': ['Delivery', 'Arn'] }, RoleArn: { 'Fn::GetAtt': ['Role', 'Arn'] } }],
      ...properties,
    },
  });
  const modelWith = (ruleProperties: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    modelFromTemplate({ Resources: { ...resources, Rule: rule(ruleProperties), ...extra } }, '/assembly');

  it('reads a rule on a bus of the template with exact source and detail-type values and a Direct PUT delivery stream as its target', () => {
    const model = modelWith({ EventPattern: { source: ['personalization.segments'], 'detail-type': ['Segment Entered', 'Segment Exited'] } });
    expect(model.rules).toEqual([
      { logicalId: 'Rule', busName: 'segments', pattern: { source: ['personalization.segments'], 'detail-type': ['Segment Entered', 'Segment Exited'] }, deliveryStreamName: 'P-Lake-SegmentEvents' },
    ]);
    expect(model.deliveryStreams[0]).toMatchObject({ name: 'P-Lake-SegmentEvents', type: 'DirectPut', appendsNewline: true });
    // Schedules are not bus rules; disabled rules route nothing.
    expect(modelWith({ State: 'DISABLED' }).rules).toEqual([]);
  });

  it('refuses, by name, the patterns, buses and targets it does not emulate', () => {
    expect(() => modelWith({ EventPattern: { source: [{ prefix: 'personalization.' }] } })).toThrow(/Rule Rule: .*exact values \(strings\) of source and detail-type only/);
    expect(() => modelWith({ EventPattern: { detail: { segmentId: ['vip'] } } })).toThrow(/the pattern \{"detail":/);
    expect(() => modelWith({ EventPattern: { source: [] } })).toThrow(/exact values/);
    expect(() => modelWith({ EventBusName: 'default' })).toThrow(/rules on "default"/);
    expect(() => modelWith({ Targets: [{ Id: 'T', Arn: 'arn:aws:lambda:us-east-1:1:function:f' }] })).toThrow(/one Direct PUT delivery stream of this template only/);
    expect(() => modelWith({ Targets: [rule({}).Properties.Targets[0], rule({}).Properties.Targets[0]] })).toThrow(/one Direct PUT delivery stream/);
    expect(() => modelWith({ Targets: [{ ...rule({}).Properties.Targets[0], InputPath: '$.detail' }] })).toThrow(/InputPath on a target/);
  });

  it('reads an AppendDelimiterToRecord processor without parameters, and refuses it with parameters or with other processors', () => {
    const withProcessors = (Processors: unknown[]) =>
      modelFromTemplate({ Resources: { D: { ...resources.Delivery, Properties: { ExtendedS3DestinationConfiguration: { Prefix: PREFIX, ProcessingConfiguration: { Enabled: true, Processors } } } } } }, '/a');
    expect(withProcessors([]).deliveryStreams[0].appendsNewline).toBeUndefined();
    expect(() => withProcessors([{ Type: 'AppendDelimiterToRecord', Parameters: [{ ParameterName: 'Delimiter', ParameterValue: ',' }] }])).toThrow(/without parameters/);
    expect(() => withProcessors([{ Type: 'AppendDelimiterToRecord' }, { Type: 'MetadataExtraction' }])).toThrow(/not \[\{"Type":"AppendDelimiterToRecord"\}/);
  });
});

describe('matchesRule', () => {
  const event = { source: 'personalization.segments', 'detail-type': 'Segment Entered', detail: { segmentId: 'vip' } };

  it('matches when each field the pattern names has one of its values, exactly', () => {
    expect(matchesRule({ pattern: { source: ['personalization.segments'] } }, event)).toBe(true);
    expect(matchesRule({ pattern: { source: ['other', 'personalization.segments'], 'detail-type': ['Segment Entered'] } }, event)).toBe(true);
    expect(matchesRule({ pattern: { source: ['personalization.segments'], 'detail-type': ['Segment Exited'] } }, event)).toBe(false);
    expect(matchesRule({ pattern: { source: ['personalization'] } }, event)).toBe(false);
    expect(matchesRule({ pattern: { source: ['Personalization.Segments'] } }, event)).toBe(false);
  });
});

describe('the local EventBridge endpoint with rules', () => {
  const buses = [{ logicalId: 'Bus', name: 'segments', arn: 'arn:aws:events:us-east-1:000000000000:event-bus/segments' }];
  const rules: LocalBusRule[] = [{ logicalId: 'Rule', busName: 'segments', pattern: { source: ['personalization.segments'] }, deliveryStreamName: 'lake' }];
  let dir: string;
  let server: Server;
  let client: EventBridgeClient;
  let delivered: Array<{ rule: string; records: string[] }>;
  let failDelivery: boolean;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'event-bus-'));
    server = eventBusStub(buses, dir, {
      rules,
      deliver: async (rule, records) => {
        if (failDelivery) throw new Error('disk full');
        delivered.push({ rule: rule.logicalId, records: records.map((r) => r.toString('utf8')) });
      },
    });
    client = new EventBridgeClient({ region: 'us-east-1', endpoint: await listen(server), credentials: { accessKeyId: 'l', secretAccessKey: 'l' }, maxAttempts: 1 });
  });
  beforeEach(() => {
    delivered = [];
    failDelivery = false;
  });
  afterAll(async () => {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const entry = (Source: string, segmentId: string) => ({ EventBusName: 'segments', Source, DetailType: 'Segment Entered', Detail: JSON.stringify({ segmentId }) });

  it("delivers the matching events of a call to the rule's target, each as the recorded event's JSON without a newline, before answering", async () => {
    const out = await client.send(new PutEventsCommand({ Entries: [entry('personalization.segments', 'a'), entry('other.app', 'b'), entry('personalization.segments', 'c')] }));
    expect(out.FailedEntryCount).toBe(0);
    const recorded = recordedEvents(dir, 'segments').slice(-3);
    expect(delivered).toEqual([{ rule: 'Rule', records: [JSON.stringify(recorded[0]), JSON.stringify(recorded[2])] }]);
    expect(delivered[0].records.every((r) => !r.endsWith('\n'))).toBe(true);
  });

  it('delivers nothing when nothing matches, and fails the call when the delivery fails (the publisher puts the events again)', async () => {
    await client.send(new PutEventsCommand({ Entries: [entry('other.app', 'x')] }));
    expect(delivered).toEqual([]);
    failDelivery = true;
    await expect(client.send(new PutEventsCommand({ Entries: [entry('personalization.segments', 'y')] }))).rejects.toThrow(/could not record or deliver the events: disk full/);
  });
});
