import { ProfileRecord, withoutNotices } from '../domain/profile-record';
import type { ProfileStore } from './profile-store';
import type { SegmentBus } from './segment-bus';

export interface NoticeDelivery {
  published: number;
  /** Why publishing failed: the notices stay queued on the profile, due at once for the scheduled pass. */
  error?: Error;
}

/**
 * Publishes the notices a profile was just written with, then writes the next version without them. Never throws.
 * If the bus fails, the notices stay on the profile and are published by its next write or the scheduled pass.
 * If the removal loses to a concurrent writer, that writer carried the notices and publishes them again: the one
 * case of a duplicate, which subscribers drop by `noticeId`.
 */
export async function deliverNotices(record: ProfileRecord, deps: { profiles: ProfileStore; bus: SegmentBus; now: () => number }): Promise<NoticeDelivery> {
  const notices = record.notices ?? [];
  if (notices.length === 0) return { published: 0 };
  try {
    await deps.bus.publish(notices);
  } catch (error) {
    return { published: 0, error: error as Error };
  }
  await deps.profiles.put(withoutNotices(record, deps.now()), record.version).catch(() => false);
  return { published: notices.length };
}
