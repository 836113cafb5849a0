import { ProfileRecord, withoutNotices } from '../domain/profile-record';
import type { ProfileStore } from './profile-store';
import type { SegmentBus } from './segment-bus';

export interface NoticeDelivery {
  published: number;
  /** Why publishing failed: the notices stay queued on the profile, due at once for the scheduled pass. */
  error?: Error;
}

/** Re-reads before giving up removing published notices from a profile that other writers keep changing. */
const MAX_REMOVAL_ATTEMPTS = 3;

type NoticeDeps = { profiles: ProfileStore; bus: SegmentBus; now: () => number };

/**
 * Publishes the notices a profile was just written with, then removes them from it. Never throws. If the bus
 * fails, the notices stay on the profile and are published by its next write or the scheduled pass. If another
 * writer changed the profile in between (sealed it for a merge, most often), the published notices are removed
 * from its new version, which still holds them. The one case of a duplicate is a writer that publishes them
 * itself before they are removed (or a crash between the publish and the removal): subscribers drop it by
 * `noticeId`.
 */
export async function deliverNotices(record: ProfileRecord, deps: NoticeDeps): Promise<NoticeDelivery> {
  const notices = record.notices ?? [];
  if (notices.length === 0) return { published: 0 };
  try {
    await deps.bus.publish(notices);
  } catch (error) {
    return { published: 0, error: error as Error };
  }
  await removePublished(record, new Set(notices.map((n) => n.id)), deps);
  return { published: notices.length };
}

/** Writes the profile without the published notices, re-reading it when another writer got there first. */
async function removePublished(written: ProfileRecord, published: ReadonlySet<string>, deps: NoticeDeps): Promise<void> {
  let current: ProfileRecord | undefined = written;
  for (let attempt = 0; attempt < MAX_REMOVAL_ATTEMPTS && current; attempt++) {
    const remaining = (current.notices ?? []).filter((n) => !published.has(n.id));
    if (remaining.length === (current.notices ?? []).length) return; // none of them is there any more
    const next = withoutNotices(current, deps.now());
    if (remaining.length > 0) next.notices = remaining;
    if (await deps.profiles.put(next, current.version).catch(() => false)) return;
    current = await deps.profiles.get(written.state.profileId).catch(() => undefined);
  }
}
