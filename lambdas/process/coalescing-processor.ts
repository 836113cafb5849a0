import { BasePartialBatchProcessor, EventType } from '@aws-lambda-powertools/batch';
import type { KinesisStreamRecord } from 'aws-lambda';

/** Handles a whole batch at once and returns the records that failed, with why. */
export type BatchHandler = (records: KinesisStreamRecord[]) => Promise<Map<KinesisStreamRecord, Error>>;

/**
 * A Powertools partial-batch processor for Kinesis that hands the *whole* batch to one handler instead of
 * calling a handler per record, so records can be coalesced per profile (one write per profile per batch).
 * Everything else is Powertools': the `batchItemFailures` response, and the rule that when every record fails
 * the invocation throws, which makes Lambda bisect the batch (`bisectBatchOnError`) to isolate a poison record.
 *
 * Use with `processPartialResponse(event, handler, new CoalescingKinesisProcessor())`.
 */
export class CoalescingKinesisProcessor extends BasePartialBatchProcessor {
  constructor() {
    super(EventType.KinesisDataStreams);
  }

  override async process() {
    this.prepare();
    const records = this.records as KinesisStreamRecord[];
    const failures = await (this.handler as BatchHandler)(records);
    const results = records.map((record) => {
      const error = failures.get(record);
      return error ? this.failureHandler(record, error) : this.successHandler(record, undefined);
    });
    this.clean();
    return results;
  }

  processRecord(): never {
    throw new Error('CoalescingKinesisProcessor handles whole batches: use process()');
  }

  processRecordSync(): never {
    throw new Error('CoalescingKinesisProcessor handles whole batches: use process()');
  }
}
