import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { PutEventsCommand, type PersonalizeEventsClient } from '@aws-sdk/client-personalize-events';
import type { KinesisStreamRecord } from 'aws-lambda';
import { forEachLimited } from '../shared/concurrency';
import { interactionsOf, PersonalizeInteraction, PutEventsBatch, toPutEventsBatches } from '../shared/domain/personalize-events';
import { decodeRecord } from '../process/records';

/** What `forwardRecords` needs; the handler builds it once per function instance. */
export interface ForwardDeps {
  client: PersonalizeEventsClient;
  /** The event tracker's tracking id. */
  trackingId: string;
  logger: Logger;
  metrics: Metrics;
  /** PutEvents calls in flight at once. @default 8 */
  concurrency?: number;
}

/**
 * One batch of stream records → Personalize PutEvents calls (≤ 10 events each, one session each). Returns the
 * records to retry. The forwarder's failure handling is its own, separate from the profile processor's:
 * - It is a separate consumer (its own event source mapping, position in each shard, retries and failure
 *   queue): while Personalize is down or throttling, only this consumer falls behind, never the profiles.
 * - A record that does not decode is skipped with a warning, not failed: the profile processor reads the same
 *   record and sends it to the lake's bad events, and no retry here could make it decode.
 * - A call that still fails after the SDK's bounded retries (throttling included) fails every record it
 *   carried. Lambda then retries the shard from the earliest failed record; records after it are sent again,
 *   which is harmless because event ids are deterministic (Personalize trains on the first event of an id).
 *   A call Personalize keeps rejecting ends, after the mapping's bounded retries and bisection, in this
 *   consumer's failure queue, from which the range can be replayed while the stream retains it.
 */
export async function forwardRecords(records: KinesisStreamRecord[], deps: ForwardDeps): Promise<Map<KinesisStreamRecord, Error>> {
  const inputs = interactionsOfRecords(records, deps.logger);
  const batches = toPutEventsBatches(inputs);
  const failures = new Map<KinesisStreamRecord, Error>();
  const failedCalls: Error[] = [];
  let eventsSent = 0;
  await forEachLimited(batches, deps.concurrency ?? 8, async (batch) => {
    try {
      await putEvents(batch, deps);
      eventsSent += batch.request.eventList.length;
    } catch (error) {
      failedCalls.push(error as Error);
      for (const record of batch.sources) failures.set(record, error as Error);
    }
  });
  if (failedCalls.length > 0) {
    deps.logger.error('PutEvents failed after retries; its records will be retried', {
      calls: failedCalls.length,
      records: failures.size,
      errors: [...new Set(failedCalls.map((e) => `${e.name}: ${e.message}`))],
    });
  }

  const { metrics } = deps;
  metrics.addMetric('PersonalizeRecordsReceived', MetricUnit.Count, records.length);
  metrics.addMetric('PersonalizeEventsSent', MetricUnit.Count, eventsSent);
  metrics.addMetric('PersonalizeCallsFailed', MetricUnit.Count, failedCalls.length);
  metrics.addMetric('PersonalizeRecordsFailed', MetricUnit.Count, failures.size);
  return failures;
}

/** Decodes the records and maps each to its interactions; undecodable records are logged and left out. */
function interactionsOfRecords(records: KinesisStreamRecord[], logger: Logger): Array<{ source: KinesisStreamRecord; interactions: PersonalizeInteraction[] }> {
  const inputs: Array<{ source: KinesisStreamRecord; interactions: PersonalizeInteraction[] }> = [];
  const skipped: Array<{ id: string; reason: string }> = [];
  for (const record of records) {
    const decoded = decodeRecord(record);
    if ('event' in decoded) inputs.push({ source: record, interactions: interactionsOf(decoded.event) });
    else skipped.push({ id: decoded.bad.id, reason: decoded.bad.reason });
  }
  if (skipped.length > 0) logger.warn('Undecodable stream records skipped (the profile processor quarantines them)', { count: skipped.length, skipped });
  return inputs;
}

function putEvents(batch: PutEventsBatch<KinesisStreamRecord>, deps: ForwardDeps) {
  return deps.client.send(new PutEventsCommand({ trackingId: deps.trackingId, ...batch.request }));
}
