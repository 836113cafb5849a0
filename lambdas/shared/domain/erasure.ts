import { MergeScope } from './profile';
import { ProfileRecord } from './profile-record';
import { exitAll, NO_MEMBERSHIPS, SegmentNotice } from './segment-membership';

/**
 * Erasure (GDPR Art. 17, CCPA deletion) of one person, everywhere the platform keeps them:
 * - every id of theirs (`user#…`, `anon#…`) is suppressed: its identity link is replaced by one to `ERASED`, so the
 *   processor drops their later events, the lake filter keeps them out of the lake, and reads find no profile;
 * - their device links are deleted;
 * - their profile and every profile merged into it are deleted, with exit notices for their segment memberships;
 * - their lines are removed from the lake (`lake-eraser.ts`), once events already on their way there have landed.
 *
 * A request is tracked as an `ErasureRecord`: `pending` until the lake is clean, then `complete`. Every step is
 * idempotent, and the scheduled worker runs all of them again before the lake step, so a request interrupted at
 * any point completes, and an event that slipped past the suppression while it was written is erased too.
 */

/** The canonical id of an erased id: a suppression marker, never a profile (profile ids start with `user#` or `anon#`). */
export const ERASED = '#erased';

/** Years a suppression lasts: the ids of an erased person stay refused for this long. */
export const SUPPRESSION_YEARS = 10;

/** What erasing one person touches, gathered from their canonical profile. */
export interface ErasureSubject {
  /** The canonical profile and every profile id merged into it. */
  profileIds: string[];
  /** `device#…` links the person's profile claimed (device linking). */
  deviceIds: string[];
  /** The raw ids their events carry (`userId`, `anonymousId`), for the lake. */
  eventIds: string[];
}

export type ErasureStatus = 'pending' | 'complete';

export interface ErasureResult {
  profilesDeleted: number;
  idsSuppressed: number;
  lake: { objectsScanned: number; objectsRewritten: number; objectsDeleted: number; linesRemoved: number };
}

export interface ErasureRecord {
  erasureId: string;
  status: ErasureStatus;
  /** Epoch ms. */
  requestedAt: number;
  /** The worker starts the lake step at or after this (epoch ms): events already on their way to the lake have landed. */
  notBefore: number;
  completedAt?: number;
  /** What to erase; removed once the erasure is complete (the record then keeps no personal data). */
  subject?: ErasureSubject;
  /** Segment exit notices to publish (the profile is gone, so they travel with the request). */
  notices?: SegmentNotice[];
  result?: ErasureResult;
  attempts: number;
  lastError?: string;
}

/** The ids, profiles and devices of the person whose canonical profile is `record` (absent: only `profileId`). */
export function subjectOf(profileId: string, record: ProfileRecord | undefined): ErasureSubject {
  const linked = record?.linked ?? [];
  const profileIds = unique([profileId, ...linked.map((l) => l.id).filter(isProfileId)]);
  const deviceIds = unique(linked.map((l) => l.id).filter((id) => id.startsWith('device#')));
  const eventIds = unique([
    ...profileIds.map((id) => id.slice(id.indexOf('#') + 1)),
    ...(record?.state.userId !== undefined ? [record.state.userId] : []),
    ...Object.keys(record?.state.anonymousIds ?? {}),
  ]);
  return { profileIds, deviceIds, eventIds };
}

/** The exit notices of a profile erased as a whole, with the notices it had not published yet. */
export function erasureNotices(record: ProfileRecord | undefined, nowMs: number): SegmentNotice[] {
  if (!record) return [];
  return [...(record.notices ?? []), ...exitAll(record.state, record.memberships ?? NO_MEMBERSHIPS, nowMs, 'erased')];
}

/** The identity link that suppresses `id`. */
export function suppressionOf(id: string, nowMs: number): { id: string; canonicalId: string; scope: MergeScope; linkedAt: number; expiresAt: number } {
  return { id, canonicalId: ERASED, scope: 'all', linkedAt: nowMs, expiresAt: Math.floor(nowMs / 1000) + SUPPRESSION_YEARS * 365 * 86_400 };
}

/** The record as the API shows it: status, times and counts, never the person's ids. */
export function erasureView(record: ErasureRecord): Record<string, unknown> {
  return {
    erasureId: record.erasureId,
    status: record.status,
    requestedAt: new Date(record.requestedAt).toISOString(),
    ...(record.completedAt !== undefined ? { completedAt: new Date(record.completedAt).toISOString() } : {}),
    ...(record.result ? { result: record.result } : {}),
    ...(record.status === 'pending' ? { attempts: record.attempts, ...(record.lastError ? { lastError: record.lastError } : {}) } : {}),
  };
}

const isProfileId = (id: string) => id.startsWith('user#') || id.startsWith('anon#');
const unique = (ids: string[]) => [...new Set(ids)];
