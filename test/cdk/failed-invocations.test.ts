import { CfnElement, CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { synth } from '../support/synth';

/*
 * Where failures go. Asynchronous invocations (EventBridge rules and the functions they run) end in the one queue of
 * failed invocations; stream consumers' event source mappings in their own failure queues; synchronously invoked
 * functions return their errors to the invoker (cdk-nag acknowledgements: nag.test.ts).
 */

const { stack, template } = synth();
const resources = (type: string) => template.findResources(type);
const logicalIdOf = (construct: IConstruct) => stack.getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
const failedInvocations = { 'Fn::GetAtt': [logicalIdOf(stack.failedInvocations), 'Arn'] };

describe('failed invocations', () => {
  it('are kept 14 days in one queue the stack exposes', () => {
    expect(resources('AWS::SQS::Queue')[logicalIdOf(stack.failedInvocations)].Properties.MessageRetentionPeriod).toBe(14 * 86_400);
    expect(template.toJSON().Outputs.FailedInvocationsQueueUrl.Value).toEqual({ Ref: logicalIdOf(stack.failedInvocations) });
  });

  it('are what every rule target cannot deliver: the schedules and the segment events into the lake', () => {
    const rules = resources('AWS::Events::Rule');
    expect(Object.keys(rules).sort()).toEqual([stack.segments, stack.privacy, stack.training, stack.lake].map(ruleOf).sort());
    for (const rule of Object.values(rules)) {
      for (const target of rule.Properties.Targets) expect(target.DeadLetterConfig).toEqual({ Arn: failedInvocations });
    }
    // EventBridge may send to the queue for exactly these rules.
    const [policy] = Object.values(resources('AWS::SQS::QueuePolicy')).filter((p) => p.Properties.Queues[0].Ref === logicalIdOf(stack.failedInvocations));
    const senders = policy.Properties.PolicyDocument.Statement.filter((s: { Effect: string }) => s.Effect === 'Allow');
    expect(senders.map((s: { Condition: { ArnEquals: { 'aws:SourceArn': unknown } } }) => s.Condition.ArnEquals['aws:SourceArn'])).toEqual(
      expect.arrayContaining(Object.keys(rules).map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] }))),
    );
    expect(senders).toHaveLength(Object.keys(rules).length);
    for (const s of senders) expect(s).toMatchObject({ Action: 'sqs:SendMessage', Principal: { Service: 'events.amazonaws.com' } });
  });

  it('are what the scheduled functions fail, after Lambda\'s retries: their dead-letter queue (one mechanism each, no on-failure destination)', () => {
    const scheduled = [stack.segments.clock, stack.privacy.worker, stack.training.function].map((f) => logicalIdOf(f.fn));
    for (const [id, fn] of Object.entries(resources('AWS::Lambda::Function'))) {
      expect({ id, dlq: fn.Properties.DeadLetterConfig }).toEqual({ id, dlq: scheduled.includes(id) ? { TargetArn: failedInvocations } : undefined });
    }
    for (const config of Object.values(resources('AWS::Lambda::EventInvokeConfig'))) expect(config.Properties.DestinationConfig).toBeUndefined();
  });

  it('leave the stream consumers to their event source mappings\' failure queues', () => {
    for (const mapping of Object.values(resources('AWS::Lambda::EventSourceMapping'))) {
      expect(mapping.Properties.DestinationConfig.OnFailure.Destination).toEqual({ 'Fn::GetAtt': [logicalIdOf(stack.processor.failureQueue), 'Arn'] });
    }
  });
});

/** The logical id of the one rule under `construct`. */
function ruleOf(construct: IConstruct): string {
  const ids = construct.node
    .findAll()
    .filter((c): c is CfnResource => CfnResource.isCfnResource(c) && c.cfnResourceType === 'AWS::Events::Rule')
    .map((c) => stack.getLogicalId(c));
  expect(ids).toHaveLength(1);
  return ids[0];
}
