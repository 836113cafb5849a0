import { Duration } from 'aws-cdk-lib';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { IStream } from 'aws-cdk-lib/aws-kinesis';
import { IEventBus } from 'aws-cdk-lib/aws-events';
import { IDeliveryStream } from 'aws-cdk-lib/aws-kinesisfirehose';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { profileSettingsToEnv, ProfileSettings } from '../../lambdas/shared/domain/settings';
import { ENV } from '../../lambdas/shared/env';
import { PlatformConfig } from '../config';
import { HouseFunction } from './house-function';
import { consumeStream } from './stream-consumer';

export interface ProfileProcessorProps {
  stream: IStream;
  profiles: ITable;
  identities: ITable;
  /** Firehose delivery stream (Direct PUT) of rejected events. */
  badEvents: IDeliveryStream;
  /** Segment definitions (read) and the bus their entry and exit events go to. */
  segments: ITable;
  segmentBus: IEventBus;
  settings: ProfileSettings;
  processor: PlatformConfig['processor'];
  logRetentionDays: number;
  /** Customer managed key of the failure queue. @default - SSE-SQS */
  encryptionKey?: IKey;
}

/**
 * Kinesis → profile processor → DynamoDB, subscribed to the stream with the safe defaults of `consumeStream`
 * (bisection, per-record failures, bounded retries and record age, a failure queue). Records it rejects go to the
 * bad-events delivery stream (Firehose → the lake's `bad-events/`). Every profile write re-evaluates the segments;
 * their entry and exit events go to the segment bus.
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
      .bindTable(props.identities, ENV.identitiesTable, 'dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:BatchWriteItem')
      .bindDeliveryStream(props.badEvents, ENV.badEventsDeliveryStream, 'firehose:PutRecord', 'firehose:PutRecordBatch')
      .bindTable(props.segments, ENV.segmentsTable, 'dynamodb:Scan')
      .bindEventBus(props.segmentBus, ENV.segmentEventBus);

    this.failureQueue = consumeStream(this, this.function.fn, props.stream, props.processor, props.encryptionKey);
  }
}
