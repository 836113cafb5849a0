import { Match } from 'aws-cdk-lib/assertions';
import { HouseFunction } from '../../lib/constructs/house-function';
import { synth } from '../support/synth';

const { stack, template } = synth();
const alarms = () => Object.values(template.findResources('AWS::CloudWatch::Alarm'));
const topicId = stack.getLogicalId(stack.observability.topic.node.defaultChild as never);

describe('observability', () => {
  it('sends every alarm of the stack to the one topic, on alarm and on recovery', () => {
    expect(alarms().length).toBeGreaterThan(30);
    for (const alarm of alarms()) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId }]);
    }
    template.hasResourceProperties('AWS::SNS::TopicPolicy', Match.anyValue());
  });

  it('alarms on errors and throttles of every function', () => {
    const functions = stack.node.findAll().filter((c): c is HouseFunction => c instanceof HouseFunction);
    expect(functions.length).toBeGreaterThanOrEqual(13);
    for (const { fn } of functions) {
      const id = stack.getLogicalId(fn.node.defaultChild as never);
      for (const metricName of ['Errors', 'Throttles']) {
        const matching = alarms().filter((a) => a.Properties.MetricName === metricName && JSON.stringify(a.Properties.Dimensions).includes(id));
        expect([id, metricName, matching.length > 0]).toEqual([id, metricName, true]);
      }
    }
  });

  it('alarms on the depth of every failure queue: the stream consumers\' and the failed invocations\'', () => {
    for (const queue of [stack.processor.failureQueue, stack.failedInvocations]) {
      const id = stack.getLogicalId(queue.node.defaultChild as never);
      const depth = alarms().filter((a) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' && JSON.stringify(a.Properties.Dimensions).includes(id));
      expect([id, depth.length]).toEqual([id, 1]);
    }
  });

  it('encrypts the alarm topic with the platform key, or not at all with AWS-managed encryption', () => {
    const keyId = stack.getLogicalId(stack.platformKey!.key.node.defaultChild as never);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    const awsManaged = synth({ encryption: 'aws-managed' }).template;
    expect(Object.values(awsManaged.findResources('AWS::SNS::Topic')).map((t) => t.Properties.KmsMasterKeyId)).toEqual([undefined]);
  });

  it('alarms on stream lag, failure queue depth, API 5xx/4xx/p99, table throttles and model age', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Namespace: 'AWS/Lambda', Statistic: 'Maximum', Threshold: 300_000 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: '5XXError', Namespace: 'AWS/ApiGateway' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: '4XXError', Statistic: 'Average', Threshold: 0.2 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Latency', ExtendedStatistic: 'p99', Threshold: 1000 });
    const modelAge = alarms().filter((a) => JSON.stringify(a.Properties.Metrics ?? '').includes('"ModelAgeHours"'));
    expect(modelAge).toHaveLength(1);
    expect(modelAge[0].Properties).toMatchObject({
      Threshold: 48,
      Metrics: [{ MetricStat: { Metric: { Namespace: 'Personalization', Dimensions: [{ Name: 'service', Value: 'recommendations' }] }, Stat: 'Maximum' } }],
    });
    const throttleAlarms = alarms().filter((a) => JSON.stringify(a.Properties.Metrics ?? '').includes('WriteThrottleEvents'));
    expect(throttleAlarms).toHaveLength(5);
  });

  it('has one dashboard, and subscribes an address when asked', () => {
    expect(Object.keys(template.findResources('AWS::CloudWatch::Dashboard'))).toHaveLength(1);
    synth({ alarmEmail: 'oncall@example.com' }).template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    expect(() => synth({ alarmEmail: 'not-an-address' })).toThrow('alarmEmail');
  });

  it('gives every function the same log salt from its secret', () => {
    const fns = Object.values(template.findResources('AWS::Lambda::Function'));
    const salts = new Set(fns.map((f) => JSON.stringify(f.Properties.Environment.Variables.LOG_HASH_SALT)));
    expect(salts.size).toBe(1);
    expect([...salts][0]).toContain(stack.getLogicalId(stack.credentials.logSalt.node.defaultChild as never));
  });
});
