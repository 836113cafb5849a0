import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface EventStreamProps {
  /** Hours records stay readable (and replayable after a processor outage). */
  retentionHours: number;
  /** Customer managed key of the stream. @default - the AWS-managed key for Kinesis (`aws/kinesis`) */
  encryptionKey?: IKey;
}

/**
 * The event stream: on-demand capacity (no shard planning), encrypted at rest (with `encryptionKey`, or the
 * AWS-managed key), partitioned by person. Producers bind it with `HouseFunction.bindStream`, consumers with
 * `consumeStream`; both bring the key actions they need.
 */
export class EventStream extends Construct {
  readonly stream: Stream;

  constructor(scope: Construct, id: string, props: EventStreamProps) {
    super(scope, id);
    this.stream = new Stream(this, 'Stream', {
      streamMode: StreamMode.ON_DEMAND,
      ...(props.encryptionKey ? { encryption: StreamEncryption.KMS, encryptionKey: props.encryptionKey } : { encryption: StreamEncryption.MANAGED }),
      retentionPeriod: Duration.hours(props.retentionHours),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    if (props.encryptionKey) {
      Validations.of(this.stream).acknowledge({
        id: 'AwsSolutions-KDS3',
        reason:
          'The customer managed key is a deliberate choice (encryption: customer-managed, the default, for key control and audit of every principal); encryption: aws-managed uses aws/kinesis and saves its per-request cost',
      });
    }
  }
}
