import { Duration, Validations } from 'aws-cdk-lib';
import { IStream } from 'aws-cdk-lib/aws-kinesis';
import { IFunction, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** How a function reads the event stream. */
export interface StreamConsumerSettings {
  /** Records per invocation (Lambda allows up to 10,000). */
  batchSize: number;
  /** How long Lambda may wait to fill a batch. */
  maxBatchingWindowSeconds: number;
  /** Retries of a failing batch before its records go to the failure queue. */
  retryAttempts: number;
  /** Records older than this go to the failure queue instead of being retried. */
  maxRecordAgeHours: number;
}

/**
 * Subscribes `fn` to `stream` the way every consumer of the event stream is subscribed, so that one poison
 * record never blocks a shard: from the oldest retained record, failed batches bisected, partial failures
 * reported per record (`batchItemFailures`), retries and record age bounded, and what still fails sent to a
 * failure queue (pointers to the shard and sequence range; the data stays in the stream for its retention
 * period, for replay). The queue, encrypted and TLS-only, is created in `scope` as `Failures` and returned.
 */
export function consumeStream(scope: Construct, fn: IFunction, stream: IStream, settings: StreamConsumerSettings): Queue {
  const failureQueue = new Queue(scope, 'Failures', {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(failureQueue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is itself the failure destination of the event source mapping' });

  fn.addEventSource(
    new KinesisEventSource(stream, {
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: settings.batchSize,
      maxBatchingWindow: Duration.seconds(settings.maxBatchingWindowSeconds),
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      retryAttempts: settings.retryAttempts,
      maxRecordAge: Duration.hours(settings.maxRecordAgeHours),
      onFailure: new SqsDlq(failureQueue),
    }),
  );
  return failureQueue;
}
