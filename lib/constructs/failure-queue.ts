import { Duration, Validations } from 'aws-cdk-lib';
import { Grant, IGrantable } from 'aws-cdk-lib/aws-iam';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { grantKey, KEY_ACTIONS } from './platform-key';

export interface FailureQueueProps {
  /** What sends its failures here, for the acknowledgements: "the processor's event source mapping". */
  failuresOf: string;
  /** @default - SQS-managed encryption (SSE-SQS) */
  encryptionKey?: IKey;
}

/**
 * A queue of failures: encrypted (with `encryptionKey`, or SSE-SQS), TLS-only, messages kept 14 days (SQS's most).
 * It is the last stop of what failed: an operator reads it, and replays or drops what it holds; nothing consumes it
 * automatically, so it has no dead-letter queue of its own.
 */
export function failureQueue(scope: Construct, id: string, props: FailureQueueProps): Queue {
  const queue = new Queue(scope, id, {
    ...(props.encryptionKey ? { encryption: QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey } : { encryption: QueueEncryption.SQS_MANAGED }),
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge(
    { id: 'AwsSolutions-SQS3', reason: `This queue is itself the failure destination of ${props.failuresOf}` },
    {
      id: 'Serverless-SQSRedrivePolicy',
      reason: `This queue is the terminal destination of the failures of ${props.failuresOf}, read by operators and consumed by nothing automatic: a redrive policy would only move its messages to one more queue`,
    },
  );
  return queue;
}

/** Lets `grantee` send to `queue`: `sqs:SendMessage`, and the queue key's `KEY_ACTIONS.encrypt` if it has a key of its own. */
export function grantSendMessage(grantee: IGrantable, queue: IQueue): void {
  Grant.addToPrincipal({ grantee, actions: ['sqs:SendMessage'], resourceArns: [queue.queueArn] });
  grantKey(grantee, queue.encryptionMasterKey, KEY_ACTIONS.encrypt);
}
