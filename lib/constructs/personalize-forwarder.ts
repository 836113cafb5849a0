import { Duration, Token, Validations } from 'aws-cdk-lib';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { IStream } from 'aws-cdk-lib/aws-kinesis';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/shared/env';
import { DEFAULT_CONFIG } from '../config';
import { HouseFunction } from './house-function';
import { consumeStream } from './stream-consumer';

export interface PersonalizeForwarderProps {
  /** The event stream to forward interactions from. */
  stream: IStream;
  /** Tracking id of the Amazon Personalize event tracker (CreateEventTracker) that receives the events. */
  trackingId: string;
  /** Days the function's log group keeps logs. */
  logRetentionDays: number;
  /** Records per invocation; each becomes up to one PutEvents call per session (≤ 10 events a call). @default 100 */
  batchSize?: number;
  /** Customer managed key of the failure queue. @default - SSE-SQS */
  encryptionKey?: IKey;
}

/**
 * Optional: Kinesis → forwarder → Amazon Personalize PutEvents, so a Personalize campaign learns from the same
 * interactions as the built-in model. A consumer of its own, isolated from the profile processor: its own
 * event source mapping (the safe defaults of `consumeStream`), position in the stream, retries and failure
 * queue, so Personalize being slow, throttled or down never holds back profile updates.
 */
export class PersonalizeForwarder extends Construct {
  readonly function: HouseFunction;
  /** On-failure destination of the event source mapping. */
  readonly failureQueue: Queue;

  constructor(scope: Construct, id: string, props: PersonalizeForwarderProps) {
    super(scope, id);
    if (!Token.isUnresolved(props.trackingId) && props.trackingId.trim() === '') throw new Error('PersonalizeForwarder needs a non-empty trackingId');

    this.function = new HouseFunction(this, 'Forward', {
      entry: 'personalize/handler.ts',
      serviceName: 'personalize-forwarder',
      description: 'Event stream to Amazon Personalize: item interactions as PutEvents, at most 10 per call',
      timeout: Duration.seconds(60),
      logRetentionDays: props.logRetentionDays,
      environment: { [ENV.personalizeTrackingId]: props.trackingId },
    });
    this.grantPutEvents();

    // The profile processor's default failure handling, with smaller batches (PutEvents takes 10 events a call).
    this.failureQueue = consumeStream(this, this.function.fn, props.stream, { ...DEFAULT_CONFIG.processor, batchSize: props.batchSize ?? 100 }, props.encryptionKey);
  }

  /**
   * `personalize:PutEvents` on `*`: the Service Authorization Reference lists the event tracker as its resource,
   * but the Personalize developer guide requires a Lambda execution role to have it on `*`, and roles scoped
   * to the tracker ARN are refused. Its own policy, so its acknowledgement covers this statement alone.
   */
  private grantPutEvents() {
    const policy = new Policy(this, 'PutEvents', {
      statements: [new PolicyStatement({ actions: ['personalize:PutEvents'], resources: ['*'] })],
    });
    const role = this.function.fn.role;
    if (!role) throw new Error('The forwarder function has no role');
    policy.attachToRole(role);
    // As with the role's default policy: the function (and so its event source mapping) waits for the grant.
    this.function.fn.node.addDependency(policy);
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'personalize:PutEvents must be granted on "*" to a Lambda execution role (Personalize developer guide, PutEvents); the tracking id in the environment selects the event tracker',
    });
  }
}
