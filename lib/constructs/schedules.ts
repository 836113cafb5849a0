import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { IRuleTarget, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { addToDeadLetterQueueResourcePolicy, LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { IQueue, Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { failureQueue } from './failure-queue';
import { HouseFunction } from './house-function';
import { allowServiceToEncrypt } from './platform-key';

/**
 * The queue of failed asynchronous invocations, one for the stack: the dead-letter queue of every EventBridge rule
 * target (what EventBridge could not deliver, after the target's retries) and of every function a rule invokes
 * (what failed after Lambda's own retries, or waited too long). Encrypted with `encryptionKey` (whose key policy
 * then lets EventBridge send to it) or SSE-SQS, TLS-only, 14 days. Its depth is the alarm: nothing should ever be
 * in it.
 */
export function failedInvocationsQueue(scope: Construct, id: string, encryptionKey?: IKey): Queue {
  const queue = failureQueue(scope, id, { failuresOf: 'the scheduled functions and of the EventBridge rule targets', encryptionKey });
  if (encryptionKey) allowServiceToEncrypt(encryptionKey, 'events.amazonaws.com', 'EventBridgeDeadLetterQueues');
  return queue;
}

/**
 * `fn` as the target of a rule, which EventBridge invokes asynchronously: what EventBridge cannot deliver, and what
 * fails in the function once Lambda's retries are spent, goes to `failedInvocations` (the target's and the
 * function's dead-letter queue).
 */
export function scheduledTarget(fn: HouseFunction, failedInvocations: IQueue, retry: { retryAttempts: number; maxEventAge: Duration }): LambdaFunction {
  fn.sendAsyncFailuresTo(failedInvocations);
  return new LambdaFunction(fn.fn, { ...retry, deadLetterQueue: failedInvocations });
}

/**
 * `target` with a dead-letter queue, for targets whose CDK class takes none (`FirehoseDeliveryStream`): what
 * EventBridge cannot deliver after its retries goes to `deadLetterQueue`, which lets this rule send to it (as
 * `TargetBaseProps.deadLetterQueue` does).
 */
export function withDeadLetterQueue(target: IRuleTarget, deadLetterQueue: IQueue): IRuleTarget {
  return {
    bind: (rule, id) => {
      addToDeadLetterQueueResourcePolicy(rule, deadLetterQueue);
      return { ...target.bind(rule, id), deadLetterConfig: { arn: deadLetterQueue.queueArn } };
    },
  };
}

/**
 * Runs `fn` every minute. A missed or failed minute is made up by the next run: a stale run is never retried. What
 * fails still lands in `failedInvocations` (see `scheduledTarget`).
 */
export function everyMinute(scope: Construct, fn: HouseFunction, description: string, failedInvocations: IQueue): Rule {
  return new Rule(scope, 'EveryMinute', {
    description,
    schedule: Schedule.rate(Duration.minutes(1)),
    targets: [scheduledTarget(fn, failedInvocations, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
  });
}

/** An alarm on `fn` failing at least `threshold` times within `period`; no traffic is not a failure. */
export function failingAlarm(scope: Construct, id: string, fn: IFunction, options: { description: string; period: Duration; threshold: number }): Alarm {
  return new Alarm(scope, id, {
    alarmDescription: options.description,
    metric: fn.metricErrors({ statistic: 'Sum', period: options.period }),
    threshold: options.threshold,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
}
