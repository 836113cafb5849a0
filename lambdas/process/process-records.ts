import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamRecord } from 'aws-lambda';
import { StreamEvent } from '../shared/domain/event-schema';
import { BadEvent, BadEventStore } from '../shared/store/bad-event-store';
import { decodeRecord } from './records';
import { updateProfiles, UpdateDeps } from './update-profiles';

export interface ProcessDeps extends UpdateDeps {
  badEvents: BadEventStore;
  logger: Logger;
  metrics: Metrics;
}

/**
 * One batch of stream records: invalid records go to the bad-events store (the lake's `bad-events/`), valid ones update their profiles
 * (one write per profile). Returns the records to retry: those of profiles that could not be written, and
 * bad records if the bad-events store could not take them.
 */
export async function processRecords(records: KinesisStreamRecord[], deps: ProcessDeps): Promise<Map<KinesisStreamRecord, Error>> {
  const failures = new Map<KinesisStreamRecord, Error>();
  const valid: Array<{ record: KinesisStreamRecord; event: StreamEvent }> = [];
  const bad: Array<{ record: KinesisStreamRecord; bad: BadEvent }> = [];
  for (const record of records) {
    const decoded = decodeRecord(record);
    if ('event' in decoded) valid.push({ record, event: decoded.event });
    else bad.push({ record, bad: decoded.bad });
  }

  if (bad.length > 0) {
    try {
      await deps.badEvents.putAll(bad.map((b) => b.bad));
      deps.logger.warn('Stream records rejected', { count: bad.length, reasons: bad.map((b) => ({ id: b.bad.id, reason: b.bad.reason })) });
    } catch (error) {
      for (const b of bad) failures.set(b.record, error as Error);
    }
  }

  const { failed, stats } = await updateProfiles(valid.map((v) => v.event), deps);
  for (const { record, event } of valid) {
    const error = failed.get(event);
    if (error) failures.set(record, error);
  }
  if (failed.size > 0) {
    deps.logger.error('Profiles not written; their records will be retried', {
      events: failed.size,
      firstError: [...failed.values()][0]?.message,
    });
  }

  const { metrics } = deps;
  metrics.addMetric('RecordsProcessed', MetricUnit.Count, records.length);
  metrics.addMetric('BadEvents', MetricUnit.Count, bad.length);
  metrics.addMetric('ProfileWrites', MetricUnit.Count, stats.writes);
  metrics.addMetric('DuplicateEvents', MetricUnit.Count, stats.duplicates);
  metrics.addMetric('WriteConflicts', MetricUnit.Count, stats.conflicts);
  metrics.addMetric('ProfilesMerged', MetricUnit.Count, stats.merges);
  metrics.addMetric('IdentityLinkConflicts', MetricUnit.Count, stats.linkConflicts);
  metrics.addMetric('EventsSuppressed', MetricUnit.Count, stats.suppressed);
  metrics.addMetric('RecordsFailed', MetricUnit.Count, failures.size);
  if (deps.segments) {
    metrics.addMetric('SegmentNoticesPublished', MetricUnit.Count, stats.noticesPublished);
    metrics.addMetric('SegmentNoticesDelayed', MetricUnit.Count, stats.noticesDelayed);
    metrics.addMetric('SegmentNoticesDropped', MetricUnit.Count, stats.noticesDropped);
    if (stats.noticesDelayed > 0) deps.logger.warn('Segment notices not published yet; they stay queued on their profiles', { notices: stats.noticesDelayed });
  }
  return failures;
}
