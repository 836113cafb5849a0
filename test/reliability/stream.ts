import * as fs from 'node:fs';
import { _Record, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand, PutRecordsCommand, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { localKinesis } from '../../local/clients';
import type { OnFailureRecord } from '../../local/kinesis-event-source';
import { lakeWriterIdOf } from '../../local/lake-writer';
import { checkpointsFileOf, LocalRuntime } from '../../local/runtime';

/** The stream ingest writes to (the one the profile processor reads). */
export function eventStreamOf(runtime: Pick<LocalRuntime, 'model'>): string {
  const processor = runtime.model.mappings[0];
  const stream = runtime.model.streams.find((s) => s.logicalId === processor?.streamId);
  if (!stream) throw new Error('The template has no stream with an event source mapping');
  return stream.name;
}

/** Every record of the stream, each shard from its start, with its shard id. */
export async function readStream(kinesis: KinesisClient, streamName: string): Promise<Array<_Record & { shardId: string }>> {
  const all: Array<_Record & { shardId: string }> = [];
  const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  for (const { ShardId } of Shards) {
    let iterator = (await kinesis.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    while (iterator) {
      const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      all.push(...(out.Records ?? []).map((r) => ({ ...r, shardId: ShardId as string })));
      if ((out.Records ?? []).length === 0 || out.MillisBehindLatest === 0) break;
      iterator = out.NextShardIterator;
    }
  }
  return all;
}

/** The message id of a stream record's event; undefined for data that is not an event. */
export function messageIdOf(record: _Record): string | undefined {
  try {
    const id = JSON.parse(Buffer.from(record.Data ?? new Uint8Array()).toString('utf8')).messageId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Puts records on the stream as they are (a replay, or poison no ingest would write), all or throw. */
export async function putRaw(kinesis: KinesisClient, streamName: string, entries: PutRecordsRequestEntry[]): Promise<void> {
  for (let i = 0; i < entries.length; i += 500) {
    const out = await kinesis.send(new PutRecordsCommand({ StreamName: streamName, Records: entries.slice(i, i + 500) }));
    if (out.FailedRecordCount) throw new Error(`${out.FailedRecordCount} records were not put`);
  }
}

/** The message ids of the records an on-failure record describes (its shard, from its first to its last sequence number). */
export function givenUpIds(records: Array<_Record & { shardId: string }>, failures: readonly OnFailureRecord[]): Set<string> {
  const ids = new Set<string>();
  for (const { KinesisBatchInfo: batch } of failures) {
    const start = BigInt(batch.startSequenceNumber);
    const end = BigInt(batch.endSequenceNumber);
    for (const record of records) {
      const sequence = BigInt(record.SequenceNumber as string);
      const id = messageIdOf(record);
      if (record.shardId === batch.shardId && sequence >= start && sequence <= end && id !== undefined) ids.add(id);
    }
  }
  return ids;
}

/** What `waitForConsumers` needs of a runtime (in this process or another: its model, emulators and data directory). */
export type RuntimeView = Pick<LocalRuntime, 'model'> & { endpoints: { kinesis: string }; dataDir: string };

/**
 * Waits until every consumer of the event stream (the event source mappings and the lake writer) has checkpointed
 * the stream's last record on every shard: everything put so far is in the profiles and the lake, or was given up
 * on with a reason. Call it once nothing more is being put. Throws at the timeout, naming who is behind.
 */
export async function waitForConsumers(runtime: RuntimeView, timeoutMs = 120_000): Promise<void> {
  const kinesis = localKinesis(runtime.endpoints.kinesis);
  const streamName = eventStreamOf(runtime);
  const ends = new Map<string, bigint>();
  try {
    for (const record of await readStream(kinesis, streamName)) ends.set(record.shardId, BigInt(record.SequenceNumber as string));
  } finally {
    kinesis.destroy();
  }
  const stream = runtime.model.streams.find((s) => s.name === streamName);
  const consumers = [
    ...runtime.model.mappings.filter((m) => m.streamId === stream?.logicalId).map((m) => m.logicalId),
    ...runtime.model.deliveryStreams.filter((d) => d.sourceStreamId === stream?.logicalId).map((d) => lakeWriterIdOf(d.logicalId)),
  ];
  const behind = () => {
    const file = checkpointsFileOf(runtime.dataDir);
    const positions: Record<string, string> = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
    return consumers.flatMap((consumer) =>
      [...ends].filter(([shardId, end]) => positions[`${consumer}/${shardId}`] === undefined || BigInt(positions[`${consumer}/${shardId}`]) < end).map(([shardId]) => `${consumer}/${shardId}`),
    );
  };
  const deadline = Date.now() + timeoutMs;
  while (behind().length > 0) {
    if (Date.now() > deadline) throw new Error(`Stream consumers still behind after ${timeoutMs} ms: ${behind().join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
