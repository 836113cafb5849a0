import { Duration, Validations } from 'aws-cdk-lib';
import { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/shared/env';
import { DEFAULT_CONFIG } from '../config';
import { Analytics } from './analytics';
import { HouseFunction } from './house-function';
import { failingAlarm, scheduledTarget } from './schedules';

export interface TrainingScheduleProps {
  /** The items table: catalog in, model versions out. */
  items: ITable;
  /** The lake's SQL: the trainer aggregates the `events` table in its workgroup. */
  analytics: Analytics;
  /** EventBridge schedule expression. @default 'rate(1 day)' */
  schedule?: string;
  /** Whether the rule runs; when off the function can still be invoked by hand. @default true */
  enabled?: boolean;
  /** Days of events a run reads. @default 90 */
  windowDays?: number;
  /** Days a trained model version's rows live. @default 30 */
  modelRetentionDays?: number;
  /** Days the trainer's logs are kept. @default 30 */
  logRetentionDays?: number;
  /** Where failed runs go, once retried (`failedInvocationsQueue`). */
  failedInvocations: IQueue;
}

/**
 * Scheduled training: an EventBridge rule runs the trainer, which aggregates the lake's item interactions with
 * Athena, trains the model, writes the new version to the items table and switches the serving pointer
 * (`lambdas/train/`). One run at a time (reserved concurrency 1); a failed run leaves the serving model as it was.
 */
export class TrainingSchedule extends Construct {
  readonly function: HouseFunction;
  readonly rule: Rule;
  /** The trainer failed (or timed out) in the last hour. No action yet. */
  readonly failureAlarm: Alarm;

  constructor(scope: Construct, id: string, props: TrainingScheduleProps) {
    super(scope, id);
    const d = DEFAULT_CONFIG;
    this.function = new HouseFunction(this, 'Train', {
      entry: 'train/handler.ts',
      serviceName: 'model-trainer',
      description: 'Scheduled training: lake interactions (Athena) → item-to-item model → items table',
      // Training is CPU-bound: 4 GB gives more than 2 vCPUs (and room for the interaction matrix).
      memorySize: 4096,
      timeout: Duration.minutes(15),
      // Two runs would race for the pointer switch (the loser's version is written and never served).
      reservedConcurrentExecutions: 1,
      logRetentionDays: props.logRetentionDays ?? d.logRetentionDays,
      environment: {
        [ENV.athenaWorkGroup]: props.analytics.workGroupName,
        [ENV.lakeDatabase]: props.analytics.databaseName,
        [ENV.trainingWindowDays]: String(props.windowDays ?? d.trainingWindowDays),
        [ENV.modelRetentionDays]: String(props.modelRetentionDays ?? d.modelRetentionDays),
      },
    })
      // Exactly the calls of runTraining: catalog scan, unavailable set (GetItem) and forgetUnavailable (UpdateItem);
      // model currentVersion (GetItem), writeVersion (BatchWriteItem) and switchTo (PutItem).
      .bindTable(props.items, ENV.itemsTable, 'dynamodb:BatchWriteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan', 'dynamodb:UpdateItem');
    props.analytics.grantQuery(this.function.fn, 'events');
    Validations.of(this.function).acknowledge(
      ...props.analytics.iam5FindingsOf('events').map((id) => ({
        id,
        reason: 'Object ARNs limited to a prefix: the events table partitions under events/ (read) and the Athena results under results/ (Athena writes them with the caller\'s credentials)',
      })),
    );
    // Lambda's own retries of an asynchronous invocation: one more try of a failed run, none of a stale one.
    this.function.fn.configureAsyncInvoke({ retryAttempts: 1, maxEventAge: Duration.hours(1) });
    Validations.of(this.function.fn.node.findChild('EventInvokeConfig')).acknowledge({
      id: 'Serverless-LambdaAsyncFailureDestination',
      reason:
        "A run that still fails after this config's retry, or waited past its event age, goes to the function's dead-letter queue (the failed-invocations queue); an on-failure destination as well would put every failed run in that queue twice",
    });

    this.rule = new Rule(this, 'Schedule', {
      description: 'Runs the model trainer',
      schedule: Schedule.expression(props.schedule ?? d.trainingSchedule),
      enabled: props.enabled ?? d.trainingEnabled,
      targets: [scheduledTarget(this.function, props.failedInvocations, { retryAttempts: 2, maxEventAge: Duration.hours(1) })],
    });

    this.failureAlarm = failingAlarm(this, 'Failing', this.function.fn, {
      description: 'The model trainer failed; the previous model keeps serving (see the function logs)',
      period: Duration.hours(1),
      threshold: 1,
    });
  }
}
