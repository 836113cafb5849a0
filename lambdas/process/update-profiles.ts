import { forEachLimited } from '../shared/concurrency';
import { StreamEvent } from '../shared/domain/event-schema';
import { profileIdOf } from '../shared/domain/profile';
import { applyBatch } from '../shared/domain/profile-record';
import { ProfileSettings } from '../shared/domain/settings';
import { ProfileStore } from '../shared/store/profile-store';

export interface UpdateDeps {
  profiles: ProfileStore;
  settings: ProfileSettings;
  now: () => number;
  /** Profiles written in parallel. */
  concurrency?: number;
  /** Re-reads after a lost conditional write before giving up on the profile for this batch. */
  maxConflictRetries?: number;
}

export interface UpdateStats {
  profiles: number;
  writes: number;
  applied: number;
  duplicates: number;
  conflicts: number;
}

export interface UpdateOutcome {
  /** Profiles that could not be written, with the reason; their events must be retried. */
  failed: Map<string, Error>;
  stats: UpdateStats;
}

/**
 * Coalesces a batch of events into profile writes: events are grouped by profile, all profiles are read in one
 * consistent batch read, and each profile is written once with a conditional Put on its version. If another
 * writer changed the profile in between, the profile is re-read and the (pure, idempotent) batch re-applied.
 */
export async function updateProfiles(events: readonly StreamEvent[], deps: UpdateDeps): Promise<UpdateOutcome> {
  const groups = new Map<string, StreamEvent[]>();
  for (const event of events) {
    const id = profileIdOf(event);
    const group = groups.get(id);
    if (group) group.push(event);
    else groups.set(id, [event]);
  }
  const stats: UpdateStats = { profiles: groups.size, writes: 0, applied: 0, duplicates: 0, conflicts: 0 };
  const failed = new Map<string, Error>();
  if (groups.size === 0) return { failed, stats };

  let stored: Awaited<ReturnType<ProfileStore['getMany']>>;
  try {
    stored = await deps.profiles.getMany([...groups.keys()]);
  } catch (error) {
    for (const id of groups.keys()) failed.set(id, error as Error);
    return { failed, stats };
  }

  const maxRetries = deps.maxConflictRetries ?? 3;
  await forEachLimited([...groups], deps.concurrency ?? 16, async ([profileId, group]) => {
    try {
      let current = stored.get(profileId);
      for (let attempt = 0; ; attempt++) {
        const result = applyBatch(current, profileId, group, deps.settings, deps.now());
        if (!result.next) {
          stats.duplicates += result.duplicates;
          return;
        }
        stats.writes += 1;
        if (await deps.profiles.put(result.next, current?.version)) {
          stats.applied += result.applied;
          stats.duplicates += result.duplicates;
          return;
        }
        stats.conflicts += 1;
        if (attempt >= maxRetries) throw new Error(`Profile ${profileId} kept changing under concurrent writes (${attempt + 1} attempts)`);
        current = await deps.profiles.get(profileId);
      }
    } catch (error) {
      failed.set(profileId, error as Error);
    }
  });
  return { failed, stats };
}
