import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { forEachLimited } from '../shared/concurrency';
import { settleRecord } from '../shared/domain/profile-record';
import { SegmentDefinition } from '../shared/domain/segments';
import { ProfileSettings } from '../shared/domain/settings';
import type { DueProfiles, ProfileStore } from '../shared/store/profile-store';
import type { SegmentBus } from '../shared/store/segment-bus';
import { deliverNotices } from '../shared/store/segment-notices';

export interface SegmentClockDeps {
  profiles: ProfileStore & DueProfiles;
  definitions: () => Promise<SegmentDefinition[]>;
  bus: SegmentBus;
  settings: ProfileSettings;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
  /** Profiles looked at per run. @default 2000 */
  limit?: number;
  /** Profiles handled in parallel. @default 16 */
  concurrency?: number;
}

export interface SegmentClockStats {
  due: number;
  /** Profiles whose memberships (or next check time) were written. */
  settled: number;
  noticesPublished: number;
  noticesDelayed: number;
  /** Profiles left for the next run: another writer kept changing them, or a store call failed. */
  skipped: number;
}

/** Re-reads of a profile that another writer changed meanwhile, before leaving it to the next run. */
const MAX_ATTEMPTS = 3;

/**
 * The scheduled segment pass (every minute): the profiles whose memberships are due to change with time alone, or
 * whose notices are still waiting to be published, read from the profiles table's sparse due index. Each is
 * settled at its exact change times (`settleRecord`), written conditionally (a profile written meanwhile by the
 * processor is re-read; the processor settles it too, so a transition is never computed twice), then its notices
 * are published. A profile that fails is left due and taken again by the next run.
 */
export async function runSegmentClock(deps: SegmentClockDeps): Promise<SegmentClockStats> {
  const stats: SegmentClockStats = { due: 0, settled: 0, noticesPublished: 0, noticesDelayed: 0, skipped: 0 };
  const limit = deps.limit ?? 2000;
  const definitions = await deps.definitions();
  const due = await deps.profiles.listDue(deps.now(), limit);
  stats.due = due.length;
  await forEachLimited(due, deps.concurrency ?? 16, async (profileId) => {
    try {
      if (!(await settleProfile(profileId, definitions, deps, stats))) stats.skipped += 1;
    } catch (error) {
      stats.skipped += 1;
      deps.logger.warn('Segment check failed; the profile stays due', { error: (error as Error).message });
    }
  });

  const { metrics } = deps;
  metrics.addMetric('SegmentChecksDue', MetricUnit.Count, stats.due);
  metrics.addMetric('SegmentChecksSettled', MetricUnit.Count, stats.settled);
  metrics.addMetric('SegmentChecksSkipped', MetricUnit.Count, stats.skipped);
  metrics.addMetric('SegmentNoticesPublished', MetricUnit.Count, stats.noticesPublished);
  metrics.addMetric('SegmentNoticesDelayed', MetricUnit.Count, stats.noticesDelayed);
  // A full page means more may be due than one run takes: the backlog is worth an alarm.
  if (stats.due >= limit) deps.logger.warn('More profiles are due than one run takes', { limit });
  return stats;
}

/** Settles one profile and publishes its notices; false when it kept changing under other writers. */
async function settleProfile(profileId: string, definitions: SegmentDefinition[], deps: SegmentClockDeps, stats: SegmentClockStats): Promise<boolean> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const record = await deps.profiles.get(profileId);
    if (!record) return true; // deleted (TTL, erasure) since the index was read
    const { next } = settleRecord(record, definitions, deps.settings, deps.now());
    if (next && !(await deps.profiles.put(next, record.version))) continue;
    if (next) stats.settled += 1;
    const written = next ?? record;
    const delivery = await deliverNotices(written, deps);
    stats.noticesPublished += delivery.published;
    if (delivery.error) {
      stats.noticesDelayed += written.notices?.length ?? 0;
      deps.logger.warn('Segment notices not published; they stay queued', { error: delivery.error.message });
    }
    return true;
  }
  return false;
}
