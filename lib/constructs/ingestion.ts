import { Duration } from 'aws-cdk-lib';
import { IStream } from 'aws-cdk-lib/aws-kinesis';
import { IDeliveryStream } from 'aws-cdk-lib/aws-kinesisfirehose';
import { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/shared/env';
import { HouseFunction } from './house-function';

export interface IngestionProps {
  stream: IStream;
  writeKey: ISecret;
  /** Firehose delivery stream (Direct PUT) of the events the function rejects. */
  badEvents: IDeliveryStream;
  logRetentionDays: number;
}

/**
 * The ingest function: validates and enriches Segment calls and puts them on the stream (PutRecords only); the
 * events it rejects go to the bad-events delivery stream.
 */
export class Ingestion extends Construct {
  readonly function: HouseFunction;

  constructor(scope: Construct, id: string, props: IngestionProps) {
    super(scope, id);
    this.function = new HouseFunction(this, 'Ingest', {
      entry: 'ingest/handler.ts',
      serviceName: 'ingest',
      description: 'Segment HTTP Tracking API: validate, enrich, put on the event stream',
      memorySize: 512,
      timeout: Duration.seconds(10),
      logRetentionDays: props.logRetentionDays,
    })
      .bindStream(props.stream, ENV.eventStream, 'kinesis:PutRecords')
      .bindSecret(props.writeKey, ENV.writeKeySecret)
      .bindDeliveryStream(props.badEvents, ENV.badEventsDeliveryStream, 'firehose:PutRecord', 'firehose:PutRecordBatch')
      .invokedSynchronouslyBy('API Gateway (the Segment tracking routes)', 'the caller gets the error response and retries (Segment SDKs retry with backoff)');
  }
}
