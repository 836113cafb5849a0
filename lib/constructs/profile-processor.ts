import { Duration, Validations } from 'aws-cdk-lib';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { IStream } from 'aws-cdk-lib/aws-kinesis';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { profileSettingsToEnv, ProfileSettings } from '../../lambdas/shared/domain/settings';
import { ENV } from '../../lambdas/shared/env';
import { PlatformConfig } from '../config';
import { HouseFunction } from './house-function';

export interface ProfileProcessorProps {
  stream: IStream;
  profiles: ITable;
  badEvents: ITable;
  settings: ProfileSettings;
  processor: PlatformConfig['processor'];
  logRetentionDays: number;
}

/**
 * Kinesis → profile processor → DynamoDB. The event source mapping is set so that one poison record never
 * blocks a shard: failed batches are bisected, partial failures are reported per record, retries and record
 * age are bounded, and what is still failing goes to the failure queue (pointers to the shard and sequence
 * range; the data stays in the stream for its retention period, for replay).
 */
export class ProfileProcessor extends Construct {
  readonly function: HouseFunction;
  /** On-failure destination of the event source mapping. */
  readonly failureQueue: Queue;

  constructor(scope: Construct, id: string, props: ProfileProcessorProps) {
    super(scope, id);
    this.function = new HouseFunction(this, 'Process', {
      entry: 'process/handler.ts',
      serviceName: 'profile-processor',
      description: 'Event stream to profiles: coalesced, idempotent, order-insensitive profile updates',
      // 1,769 MB is one full vCPU: the processor is CPU-bound per write (SDK, JSON), and a shorter run at
      // more memory costs about the same per event.
      memorySize: 1769,
      timeout: Duration.seconds(60),
      logRetentionDays: props.logRetentionDays,
      environment: profileSettingsToEnv(props.settings),
    })
      .bindTable(props.profiles, ENV.profilesTable, 'dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem')
      .bindTable(props.badEvents, ENV.badEventsTable, 'dynamodb:BatchWriteItem');

    this.failureQueue = new Queue(this, 'Failures', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failureQueue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is itself the failure destination of the event source mapping' });

    this.function.fn.addEventSource(
      new KinesisEventSource(props.stream, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: props.processor.batchSize,
        maxBatchingWindow: Duration.seconds(props.processor.maxBatchingWindowSeconds),
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: props.processor.retryAttempts,
        maxRecordAge: Duration.hours(props.processor.maxRecordAgeHours),
        onFailure: new SqsDlq(this.failureQueue),
      }),
    );
  }
}
