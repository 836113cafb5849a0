import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { FirehoseTransformationEvent, FirehoseTransformationResult } from 'aws-lambda';
import { ConsentSettings } from '../shared/domain/consent';
import { filterLakeRecords, LakeDecision, PersonLookup } from '../shared/domain/lake-filter';
import { ERASED } from '../shared/domain/erasure';
import { ProfileStores, readCanonicalProfile } from '../shared/store/canonical-profile';

export interface LakeFilterDeps extends ProfileStores {
  /** The analytics category, and whether an unstated category is denied. */
  settings: ConsentSettings;
  now: () => number;
  /** People read in parallel. */
  concurrency?: number;
  logger: Logger;
  metrics: Metrics;
}

/**
 * The events delivery stream's transformation (Firehose → this function → S3): keeps out of the lake every event
 * without analytics consent and every event of an erased person (`filterLakeRecords`), reading each person's consent from their canonical profile by
 * any linked id. Records that are not stream events come back `ProcessingFailed`, their reasons logged here
 * (Firehose's error output keeps the record, not the reason). A store failure fails the invocation: Firehose
 * retries the batch, then writes its records to the `processing-failed` error output.
 */
export async function filterRecords(event: FirehoseTransformationEvent, deps: LakeFilterDeps): Promise<FirehoseTransformationResult> {
  const now = deps.now();
  let lookups = 0;
  const byProfile = personLookup(deps, now);
  const lookup: PersonLookup = (profileId) => {
    lookups += 1;
    return byProfile(profileId);
  };
  const decisions = await filterLakeRecords(event.records, { lookup, settings: deps.settings, concurrency: deps.concurrency });
  report(decisions, lookups, deps);
  return { records: decisions.map(({ recordId, result, data }) => ({ recordId, result, data })) };
}

/** A person as the lake filter needs them, by any of their ids: their canonical profile's consent, or erased. */
export function personLookup(stores: ProfileStores, nowMs: number): PersonLookup {
  return async (profileId) => {
    const canonical = await readCanonicalProfile(profileId, stores, nowMs);
    return { consent: canonical.record?.state.consent, erased: canonical.profileId === ERASED };
  };
}

function report(decisions: LakeDecision[], lookups: number, { logger, metrics }: Pick<LakeFilterDeps, 'logger' | 'metrics'>): void {
  const count = (result: LakeDecision['result']) => decisions.filter((d) => d.result === result).length;
  metrics.addMetric('LakeRecordsKept', MetricUnit.Count, count('Ok'));
  metrics.addMetric('LakeRecordsDroppedNoConsent', MetricUnit.Count, count('Dropped'));
  metrics.addMetric('LakeRecordsFailed', MetricUnit.Count, count('ProcessingFailed'));
  metrics.addMetric('ConsentLookups', MetricUnit.Count, lookups);
  const failed = decisions.flatMap((d) => (d.result === 'ProcessingFailed' ? [{ recordId: d.recordId, reason: d.reason }] : []));
  if (failed.length > 0) logger.warn('Records that are not stream events go to the processing-failed output', { count: failed.length, reasons: failed });
}
