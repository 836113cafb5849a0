import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/** Runs `fn` every minute. A missed or failed minute is made up by the next run: a stale run is never retried. */
export function everyMinute(scope: Construct, fn: IFunction, description: string): Rule {
  return new Rule(scope, 'EveryMinute', {
    description,
    schedule: Schedule.rate(Duration.minutes(1)),
    targets: [new LambdaFunction(fn, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
  });
}

/** An alarm on `fn` failing at least `threshold` times within `period`; no traffic is not a failure. No action yet. */
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
