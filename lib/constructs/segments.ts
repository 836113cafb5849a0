import { Duration } from 'aws-cdk-lib';
import { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { ITable, Table } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { profileSettingsToEnv, ProfileSettings } from '../../lambdas/shared/domain/settings';
import { ENV, SEGMENTS_DUE_INDEX, SEGMENTS_KEY } from '../../lambdas/shared/env';
import { HouseFunction } from './house-function';
import { everyMinute, failingAlarm } from './schedules';
import { dataTable } from './tables';

export interface SegmentsProps {
  /** The profiles table, with its segments-due index. */
  profiles: ITable;
  settings: ProfileSettings;
  /** Delete the definitions table with the stack. */
  destroyData: boolean;
  logRetentionDays: number;
  /** Where the clock's failed runs go (`failedInvocationsQueue`). */
  failedInvocations: IQueue;
  /** Customer managed key of the definitions table. @default - AWS-managed */
  encryptionKey?: IKey;
}

/**
 * Real-time segments, apart from their evaluation in the profile processor:
 * - the definitions table and the admin API on it (`/v1/segments`, IAM authorization);
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
  /** The clock failing: timed exits and retried notices wait. */
  readonly clockAlarm: Alarm;

  constructor(scope: Construct, id: string, props: SegmentsProps) {
    super(scope, id);
    this.table = dataTable(this, 'Definitions', { partitionKey: SEGMENTS_KEY.partitionKey, expires: false, destroyData: props.destroyData, encryptionKey: props.encryptionKey });
    this.bus = new EventBus(this, 'Bus', { description: 'Segment entry and exit events (source personalization.segments)' });

    this.api = new HouseFunction(this, 'Api', {
      entry: 'segments/api-handler.ts',
      serviceName: 'segments-api',
      description: 'Segment definitions admin API',
      memorySize: 256,
      timeout: Duration.seconds(5),
      logRetentionDays: props.logRetentionDays,
    })
      .bindTable(this.table, ENV.segmentsTable, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Scan')
      .invokedSynchronouslyBy('API Gateway (/v1/segments, IAM authorization)', 'the caller gets the error response');

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
    everyMinute(this, this.clock, 'Runs the segment clock', props.failedInvocations);
    this.clockAlarm = failingAlarm(this, 'ClockFailing', this.clock.fn, {
      description: 'The segment clock failed for 5 minutes: timed segment exits and retried notices are waiting (see its logs)',
      period: Duration.minutes(5),
      threshold: 5,
    });
  }
}
