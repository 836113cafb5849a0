import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { AttributeType, BillingMode, ITable, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { profileSettingsToEnv, ProfileSettings } from '../../lambdas/shared/domain/settings';
import { ENV, SEGMENTS_DUE_INDEX, SEGMENTS_KEY } from '../../lambdas/shared/env';
import { HouseFunction } from './house-function';

export interface SegmentsProps {
  /** The profiles table, with its segments-due index. */
  profiles: ITable;
  adminKey: ISecret;
  settings: ProfileSettings;
  /** Delete the definitions table with the stack. */
  destroyData: boolean;
  logRetentionDays: number;
}

/**
 * Real-time segments, apart from their evaluation in the profile processor:
 * - the definitions table and the admin API on it (`/v1/segments`, admin key);
 * - the segment bus: an EventBridge bus that receives `Segment Entered` and `Segment Exited` events (source
 *   `personalization.segments`) for email, CMS, CRM and webhook rules to subscribe to;
 * - the clock: every minute, the profiles whose memberships change with time alone (the profiles table's
 *   segments-due index) are settled and their events published.
 */
export class Segments extends Construct {
  readonly table: Table;
  readonly bus: EventBus;
  readonly api: HouseFunction;
  readonly clock: HouseFunction;
  /** The clock failing: timed exits and retried notices wait. No action yet. */
  readonly clockAlarm: Alarm;

  constructor(scope: Construct, id: string, props: SegmentsProps) {
    super(scope, id);
    this.table = new Table(this, 'Definitions', {
      partitionKey: { name: SEGMENTS_KEY.partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.destroyData ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    this.bus = new EventBus(this, 'Bus', { description: 'Segment entry and exit events (source personalization.segments)' });

    this.api = new HouseFunction(this, 'Api', {
      entry: 'segments/api-handler.ts',
      serviceName: 'segments-api',
      description: 'Segment definitions admin API (admin key)',
      memorySize: 256,
      timeout: Duration.seconds(5),
      logRetentionDays: props.logRetentionDays,
    })
      .bindTable(this.table, ENV.segmentsTable, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Scan')
      .bindSecret(props.adminKey, ENV.adminKeySecret);

    this.clock = new HouseFunction(this, 'Clock', {
      entry: 'segments/clock-handler.ts',
      serviceName: 'segment-clock',
      description: 'Every minute: segment memberships that change with time alone, and notices waiting to be published',
      memorySize: 512,
      timeout: Duration.seconds(55),
      // One run at a time: two would read the same due profiles (harmless, conditional writes) for nothing.
      reservedConcurrentExecutions: 1,
      logRetentionDays: props.logRetentionDays,
      environment: profileSettingsToEnv(props.settings),
    })
      .bindTable(props.profiles, ENV.profilesTable, 'dynamodb:GetItem', 'dynamodb:PutItem')
      .bindTableIndex(props.profiles, SEGMENTS_DUE_INDEX.indexName, 'dynamodb:Query')
      .bindTable(this.table, ENV.segmentsTable, 'dynamodb:Scan')
      .bindEventBus(this.bus, ENV.segmentEventBus);
    new Rule(this, 'EveryMinute', {
      description: 'Runs the segment clock',
      schedule: Schedule.rate(Duration.minutes(1)),
      // A missed minute is made up by the next run: no retries of a stale one.
      targets: [new LambdaFunction(this.clock.fn, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
    });

    this.clockAlarm = new Alarm(this, 'ClockFailing', {
      alarmDescription: 'The segment clock failed for 5 minutes: timed segment exits and retried notices are waiting (see its logs)',
      metric: this.clock.fn.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
      threshold: 5,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}
