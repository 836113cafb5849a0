import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

let sequence = 0;

/** A Kinesis stream record as Lambda delivers it; `data` is JSON-encoded unless it is already a Buffer or string. */
export function kinesisRecord(data: unknown, opts: { partitionKey?: string; sequenceNumber?: string; arrivedAtMs?: number } = {}): KinesisStreamRecord {
  const sequenceNumber = opts.sequenceNumber ?? String(49_000_000_000 + ++sequence).padStart(20, '0');
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(typeof data === 'string' ? data : JSON.stringify(data));
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: opts.partitionKey ?? 'pk',
      sequenceNumber,
      data: bytes.toString('base64'),
      approximateArrivalTimestamp: (opts.arrivedAtMs ?? Date.UTC(2024, 4, 1, 12)) / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `shardId-000000000000:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/test',
    awsRegion: 'us-east-1',
    eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/events',
  };
}

export const kinesisEvent = (records: KinesisStreamRecord[]): KinesisStreamEvent => ({ Records: records });
