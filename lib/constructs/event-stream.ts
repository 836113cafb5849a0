import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';

export interface EventStreamProps {
  /** Hours records stay readable (and replayable after a processor outage). */
  retentionHours: number;
}

/** The event stream: on-demand capacity (no shard planning), encrypted at rest, partitioned by person. */
export class EventStream extends Construct {
  readonly stream: Stream;

  constructor(scope: Construct, id: string, props: EventStreamProps) {
    super(scope, id);
    this.stream = new Stream(this, 'Stream', {
      streamMode: StreamMode.ON_DEMAND,
      encryption: StreamEncryption.MANAGED,
      retentionPeriod: Duration.hours(props.retentionHours),
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
