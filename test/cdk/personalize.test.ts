import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ENV } from '../../lambdas/shared/env';
import { EventStream } from '../../lib/constructs/event-stream';
import { PersonalizeForwarder, PersonalizeForwarderProps } from '../../lib/constructs/personalize-forwarder';
import { cdkJsonContext } from '../../lib/platform';

const TRACKING_ID = 'a1b2c3d4-0000-4000-8000-tracking';

/** A small stack: the event stream and the forwarder on it, synthesized as `cdk synth` does, without bundling. */
function build(props: Partial<PersonalizeForwarderProps> = {}, outdir?: string) {
  const app = new App({ outdir, context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'PersonalizeTest');
  const events = new EventStream(stack, 'Events', { retentionHours: 24 });
  const forwarder = new PersonalizeForwarder(stack, 'Personalize', { stream: events.stream, trackingId: TRACKING_ID, logRetentionDays: 30, ...props });
  return { app, stack, events, forwarder };
}

const { stack, events, forwarder } = build();
const template = Template.fromStack(stack);
const logicalIdOf = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
const functionId = logicalIdOf(forwarder.function.fn);

describe('personalize forwarder', () => {
  it('is its own consumer of the stream, with the safe defaults: bisect, per-record failures, bounded retries and age, a failure queue', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionId },
      EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(events.stream), 'Arn'] },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 1,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalIdOf(forwarder.failureQueue), 'Arn'] } } },
    });
  });

  it('takes its batch size from props', () => {
    Template.fromStack(build({ batchSize: 25 }).stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 25 });
  });

  it('sends failures to an encrypted queue that refuses non-TLS requests', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: logicalIdOf(forwarder.failureQueue) }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('runs the forwarder handler with the tracking id', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.personalizeTrackingId]: TRACKING_ID, POWERTOOLS_SERVICE_NAME: 'personalize-forwarder' }) },
      Runtime: 'nodejs22.x',
      Timeout: 60,
    });
  });

  it('may call PutEvents, in its own policy, and nothing else of Personalize', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown; Effect: string }>);
    const personalize = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('personalize:')));
    // "*": the Personalize developer guide requires it for PutEvents from a Lambda execution role.
    expect(personalize).toEqual([{ Effect: 'Allow', Action: 'personalize:PutEvents', Resource: '*' }]);

    const putEventsPolicy = policies.find((p) => p.Properties.PolicyDocument.Statement.includes(personalize[0]));
    expect(putEventsPolicy?.Properties.PolicyDocument.Statement).toHaveLength(1);
    const roleRef = template.findResources('AWS::Lambda::Function')[functionId].Properties.Role['Fn::GetAtt'][0];
    expect(putEventsPolicy?.Properties.Roles).toEqual([{ Ref: roleRef }]);
  });

  it('starts the function (and so its event source mapping) only once it may call PutEvents', () => {
    const fn = template.findResources('AWS::Lambda::Function')[functionId];
    const policyIds = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([, p]) => JSON.stringify(p.Properties.PolicyDocument).includes('personalize:PutEvents'))
      .map(([id]) => id);
    expect(fn.DependsOn).toEqual(expect.arrayContaining(policyIds));
  });

  it('refuses an empty tracking id', () => {
    expect(() => build({ trackingId: ' ' })).toThrow(/non-empty trackingId/);
  });
});

describe('cdk-nag AwsSolutions on the forwarder', () => {
  it('finds nothing unacknowledged, and acknowledges the PutEvents wildcard with its reason', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nag-personalize-'));
    const { app, forwarder: nagged } = build({}, outdir);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    app.synth();

    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: Array<{ violations: Array<{ ruleName: string; violatingConstructs: Array<{ constructPath: string }> }> }>;
    };
    const findings = report.pluginReports.flatMap((r) => r.violations.map((v) => `${v.ruleName} at ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}`));
    expect(findings).toEqual([]);

    const acknowledgements = nagged.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).map((m) => ({ path: c.node.path, rules: m.data as Record<string, string> })));
    const putEvents = acknowledgements.find((a) => a.path.endsWith('/PutEvents'));
    expect(putEvents?.rules['Annotation::AwsSolutions-IAM5[Resource::*]']).toMatch(/personalize:PutEvents/);
    for (const ack of acknowledgements) for (const reason of Object.values(ack.rules)) expect(reason.length).toBeGreaterThan(30);
  });
});
