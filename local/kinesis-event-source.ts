import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  _Record,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { InvokeOutcome } from './lambda-host';
import { LOCAL_ACCOUNT, LOCAL_REGION, LocalEventSourceMapping, LocalStream } from './template-model';

/** Where a mapping's position in each shard is kept, so a restart resumes where processing stopped. */
export class CheckpointStore {
  private readonly positions: Record<string, string>;

  constructor(private readonly file: string) {
    this.positions = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  }

  get(mappingId: string, shardId: string): string | undefined {
    return this.positions[`${mappingId}/${shardId}`];
  }

  /** Records that everything up to and including `sequenceNumber` is done (written atomically). */
  set(mappingId: string, shardId: string, sequenceNumber: string): void {
    this.positions[`${mappingId}/${shardId}`] = sequenceNumber;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.positions, null, 1));
    fs.renameSync(tmp, this.file);
  }
}

export interface EventSourceOptions {
  mapping: LocalEventSourceMapping;
  stream: LocalStream;
  kinesis: KinesisClient;
  invoke: (event: KinesisStreamEvent) => Promise<InvokeOutcome>;
  checkpoints: CheckpointStore;
  /** Receives Lambda's on-failure record for what the mapping gives up on; undefined when none is configured. */
  onFailure?: (record: OnFailureRecord) => Promise<void>;
  functionArn: string;
  /** Pause between polls of a shard with nothing new. */
  pollIntervalMs: number;
  /** First retry delay; doubles per attempt up to 5 s. */
  retryBaseDelayMs: number;
  /**
   * On `stop()`, read every shard to its end and deliver what was read (one attempt per batch, no batching
   * window) before stopping, as a Firehose delivery stream flushes its buffer. Lambda does not do this, so
   * event source mappings leave it off: what is unfinished then is delivered again after a restart.
   */
  drainOnStop?: boolean;
  log: (message: string) => void;
}

/** What Lambda sends to a Kinesis event source mapping's on-failure destination. */
export interface OnFailureRecord {
  requestContext: { requestId: string; functionArn: string; condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded'; approximateInvokeCount: number };
  responseContext: { statusCode: number; executedVersion: string; functionError?: string };
  version: '1.0';
  timestamp: string;
  KinesisBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

const SHARD_DISCOVERY_MS = 10_000;

/**
 * A Kinesis event source mapping with Lambda's semantics, driven by the template's settings:
 * - one batch in flight per shard, records in order, up to `BatchSize`, waiting up to the batching window;
 * - success (no `batchItemFailures`): checkpoint after the batch;
 * - partial failure (`ReportBatchItemFailures`): checkpoint before the lowest failed sequence number and
 *   retry from it; an empty or unknown item identifier counts as a failure of the whole batch;
 * - function error or timeout: with `BisectBatchOnFunctionError` split the batch in two and retry each half,
 *   otherwise retry it whole;
 * - each retry counts against `MaximumRetryAttempts` (halves inherit their parent's count); records past it,
 *   or older than `MaximumRecordAgeInSeconds`, are described to the on-failure destination and skipped.
 * Delivery is at least once: records after a failed one may be delivered again.
 */
export class KinesisEventSource {
  private state: 'running' | 'draining' | 'stopped' = 'stopped';
  private readonly shardLoops = new Map<string, Promise<void>>();
  private discovery?: NodeJS.Timeout;
  private invocations = 0;

  constructor(private readonly options: EventSourceOptions) {}

  async start(): Promise<void> {
    this.state = 'running';
    await this.discoverShards();
    this.discovery = setInterval(() => void this.discoverShards().catch((e) => this.options.log(`Shard discovery failed: ${e}`)), SHARD_DISCOVERY_MS);
  }

  /**
   * Stops polling; waits for batches in flight (with `drainOnStop`, first delivers everything up to the end of
   * each shard). Unfinished batches are delivered again after a restart.
   */
  async stop(): Promise<void> {
    this.state = this.options.drainOnStop ? 'draining' : 'stopped';
    clearInterval(this.discovery);
    await Promise.all(this.shardLoops.values());
    this.state = 'stopped';
  }

  private async discoverShards(): Promise<void> {
    const out = await this.options.kinesis.send(new ListShardsCommand({ StreamName: this.options.stream.name }));
    for (const shard of out.Shards ?? []) {
      const shardId = shard.ShardId as string;
      if (this.state !== 'running' || this.shardLoops.has(shardId)) continue;
      this.shardLoops.set(
        shardId,
        this.pollShard(shardId).catch((error) => this.options.log(`Shard ${shardId} stopped: ${error?.stack ?? error}`)),
      );
    }
  }

  /**
   * Reads a shard until it is closed and processed, or the source stops. A failed read (the emulator restarting,
   * a reset connection) never ends the loop, as it never ends a Lambda event source mapping: it is logged, and
   * the read is retried with a fresh iterator after the last record read, backing off up to 5 s.
   */
  private async pollShard(shardId: string): Promise<void> {
    const { mapping, kinesis } = this.options;
    let lastRead = this.options.checkpoints.get(mapping.logicalId, shardId);
    let iterator: string | undefined;
    let needIterator = true;
    let readFailures = 0;
    const buffer: _Record[] = [];
    let firstBufferedAt = 0;
    const windowMs = mapping.maxBatchingWindowSeconds * 1000;

    while (this.state !== 'stopped') {
      let caughtUp = true;
      try {
        if (needIterator) {
          iterator = await this.iteratorAfter(shardId, lastRead);
          needIterator = false;
        }
        if (iterator && buffer.length < mapping.batchSize) {
          const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: mapping.batchSize - buffer.length }));
          iterator = out.NextShardIterator;
          const records = out.Records ?? [];
          if (records.length > 0) {
            if (buffer.length === 0) firstBufferedAt = Date.now();
            buffer.push(...records);
            lastRead = records[records.length - 1].SequenceNumber;
          }
          caughtUp = records.length === 0 || out.MillisBehindLatest === 0;
        }
        readFailures = 0;
      } catch (error) {
        needIterator = true;
        if (this.state === 'draining') {
          // Stopping with the stream unreadable: deliver what was read; the rest waits for a restart.
          this.options.log(`${mapping.functionId}: reading ${shardId} failed while stopping: ${(error as Error).message}`);
          if (buffer.length > 0) await this.deliver(shardId, buffer.splice(0), 0);
          return;
        }
        if ((error as Error).name !== 'ExpiredIteratorException') {
          readFailures += 1;
          this.options.log(`${mapping.functionId}: reading ${shardId} failed (${readFailures} in a row), retrying: ${(error as Error).message}`);
          await sleep(Math.min(5000, this.options.retryBaseDelayMs * 2 ** (readFailures - 1)));
        }
        continue;
      }
      const full = buffer.length >= mapping.batchSize;
      const draining = this.state === 'draining';
      if (buffer.length > 0 && (full || !iterator || draining || Date.now() - firstBufferedAt >= windowMs)) {
        await this.deliver(shardId, buffer.splice(0, mapping.batchSize), 0);
        if (buffer.length > 0) firstBufferedAt = Date.now();
        continue;
      }
      if (!iterator && buffer.length === 0) return; // a closed shard, fully processed
      if (draining && caughtUp) return; // the buffer is empty here: everything read has been delivered
      const wait = buffer.length > 0 ? Math.min(this.options.pollIntervalMs, windowMs - (Date.now() - firstBufferedAt)) : caughtUp ? this.options.pollIntervalMs : 0;
      await sleep(Math.max(0, wait));
    }
  }

  private async iteratorAfter(shardId: string, sequenceNumber: string | undefined): Promise<string | undefined> {
    const out = await this.options.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: this.options.stream.name,
        ShardId: shardId,
        ...(sequenceNumber
          ? { ShardIteratorType: ShardIteratorType.AFTER_SEQUENCE_NUMBER, StartingSequenceNumber: sequenceNumber }
          : { ShardIteratorType: this.options.mapping.startingPosition === 'LATEST' ? ShardIteratorType.LATEST : ShardIteratorType.TRIM_HORIZON }),
      }),
    );
    return out.ShardIterator;
  }

  /** Delivers `records` (retry `attempt`), following Lambda's failure handling. */
  private async deliver(shardId: string, records: _Record[], attempt: number): Promise<void> {
    const { mapping } = this.options;
    if (this.state === 'stopped') return; // not checkpointed: delivered again after a restart

    if (mapping.maxRecordAgeSeconds >= 0) {
      const cutoff = Date.now() - mapping.maxRecordAgeSeconds * 1000;
      const expired = records.filter((r) => (r.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) < cutoff);
      if (expired.length > 0) {
        // Arrival times only grow along a shard, so the expired records are a prefix of the batch.
        await this.giveUp(shardId, expired, 'RecordAgeExceeded', attempt);
        records = records.slice(expired.length);
        if (records.length === 0) return;
      }
    }

    this.invocations += 1;
    const outcome = await this.options.invoke(this.toEvent(shardId, records));
    if (outcome.ok) {
      const lowestFailed = mapping.reportBatchItemFailures ? lowestFailure(outcome.result, records) : undefined;
      if (lowestFailed === undefined) return this.checkpoint(shardId, records[records.length - 1]);
      if (lowestFailed !== 'whole-batch') {
        if (lowestFailed > 0) this.checkpoint(shardId, records[lowestFailed - 1]);
        return this.retry(shardId, records.slice(lowestFailed), attempt + 1);
      }
    } else {
      this.options.log(`${mapping.functionId} failed on ${records.length} records of ${shardId}: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
    }

    if (mapping.bisectOnError && records.length > 1) {
      const half = Math.ceil(records.length / 2);
      await this.retry(shardId, records.slice(0, half), attempt + 1);
      await this.retry(shardId, records.slice(half), attempt + 1);
      return;
    }
    return this.retry(shardId, records, attempt + 1);
  }

  private async retry(shardId: string, records: _Record[], attempt: number): Promise<void> {
    if (this.state !== 'running') {
      // Stopping (or draining: one attempt per batch). Nothing after this batch may be checkpointed, so the
      // drain ends here too; the batch and what follows it are delivered again after a restart.
      this.state = 'stopped';
      return;
    }
    const { maxRetryAttempts } = this.options.mapping;
    if (maxRetryAttempts >= 0 && attempt > maxRetryAttempts) return this.giveUp(shardId, records, 'RetryAttemptsExhausted', attempt);
    await sleep(Math.min(5000, this.options.retryBaseDelayMs * 2 ** (attempt - 1)));
    return this.deliver(shardId, records, attempt);
  }

  private async giveUp(shardId: string, records: _Record[], condition: OnFailureRecord['requestContext']['condition'], attempt: number): Promise<void> {
    const first = records[0];
    const last = records[records.length - 1];
    const record: OnFailureRecord = {
      requestContext: { requestId: `local-${this.invocations}`, functionArn: this.options.functionArn, condition, approximateInvokeCount: attempt },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId,
        startSequenceNumber: first.SequenceNumber as string,
        endSequenceNumber: last.SequenceNumber as string,
        approximateArrivalOfFirstRecord: (first.ApproximateArrivalTimestamp ?? new Date()).toISOString(),
        approximateArrivalOfLastRecord: (last.ApproximateArrivalTimestamp ?? new Date()).toISOString(),
        batchSize: records.length,
        streamArn: this.options.stream.arn,
      },
    };
    this.options.log(`${records.length} records of ${shardId} skipped (${condition})`);
    if (this.options.onFailure) await this.options.onFailure(record);
    this.checkpoint(shardId, last);
  }

  private checkpoint(shardId: string, record: _Record): void {
    this.options.checkpoints.set(this.options.mapping.logicalId, shardId, record.SequenceNumber as string);
  }

  private toEvent(shardId: string, records: _Record[]): KinesisStreamEvent {
    return {
      Records: records.map(
        (r): KinesisStreamRecord => ({
          kinesis: {
            kinesisSchemaVersion: '1.0',
            partitionKey: r.PartitionKey as string,
            sequenceNumber: r.SequenceNumber as string,
            data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
            approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) / 1000,
          },
          eventSource: 'aws:kinesis',
          eventVersion: '1.0',
          eventID: `${shardId}:${r.SequenceNumber}`,
          eventName: 'aws:kinesis:record',
          invokeIdentityArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/local`,
          awsRegion: LOCAL_REGION,
          eventSourceARN: this.options.stream.arn,
        }),
      ),
    };
  }
}

/**
 * Index of the lowest failed record in a partial batch response; undefined for success, 'whole-batch' for a
 * response Lambda treats as a failure of the whole batch (an empty, missing or unknown item identifier).
 */
function lowestFailure(result: unknown, records: _Record[]): number | 'whole-batch' | undefined {
  const failures = (result as { batchItemFailures?: unknown } | null)?.batchItemFailures;
  if (!Array.isArray(failures) || failures.length === 0) return undefined;
  let lowest = Number.POSITIVE_INFINITY;
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown })?.itemIdentifier;
    const index = typeof id === 'string' && id !== '' ? records.findIndex((r) => r.SequenceNumber === id) : -1;
    if (index === -1) return 'whole-batch';
    lowest = Math.min(lowest, index);
  }
  return lowest;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
