import { Duration, Validations } from 'aws-cdk-lib';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { IStream } from 'aws-cdk-lib/aws-kinesis';
import { DlqDestinationConfig, IEventSourceDlq, IEventSourceMapping, IFunction, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { IQueue, Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { failureQueue, grantSendMessage } from './failure-queue';

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
 * period, for replay). The queue, encrypted (with `encryptionKey`, or SSE-SQS) and TLS-only, is created in `scope`
 * as `Failures` and returned. Reading an encrypted stream is granted by the event source (`kms:Decrypt`).
 */
export function consumeStream(scope: Construct, fn: IFunction, stream: IStream, settings: StreamConsumerSettings, encryptionKey?: IKey): Queue {
  const queue = failureQueue(scope, 'Failures', { failuresOf: 'the event source mapping of a stream consumer', encryptionKey });

  fn.addEventSource(
    new KinesisEventSource(stream, {
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: settings.batchSize,
      maxBatchingWindow: Duration.seconds(settings.maxBatchingWindowSeconds),
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      retryAttempts: settings.retryAttempts,
      maxRecordAge: Duration.hours(settings.maxRecordAgeHours),
      onFailure: new FailureQueueDestination(queue),
    }),
  );
  Validations.of(fn).acknowledge({
    id: 'Serverless-LambdaDLQ',
    reason:
      'Invoked synchronously by its Kinesis event source mapping, whose on-failure destination (the failure queue) receives what still fails after bounded retries; a Lambda dead-letter queue only receives failed asynchronous invocations',
  });
  return queue;
}

/**
 * An event source mapping's on-failure destination: `queue`, with sending granted by name (`grantSendMessage`).
 * CDK's `SqsDlq` would grant `kms:GenerateDataKey*` and `kms:ReEncrypt*` on an encrypted queue, and queue reads
 * the mapping does not make.
 */
class FailureQueueDestination implements IEventSourceDlq {
  constructor(private readonly queue: IQueue) {}

  bind(_target: IEventSourceMapping, targetHandler: IFunction): DlqDestinationConfig {
    grantSendMessage(targetHandler, this.queue);
    return { destination: this.queue.queueArn };
  }
}
