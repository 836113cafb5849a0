import { decodeSeen, encodeSeen, pruneSeen, seenKey } from './dedup';
import { StreamEvent } from './event-schema';
import { ProfileState, emptyProfile, reduceEvents } from './profile';
import { ProfileSettings } from './settings';

/**
 * A profile as stored: the state, the ids already applied, an optimistic-concurrency version and the TTL.
 * One record is one DynamoDB item, written with one conditional Put per batch.
 */
export interface ProfileRecord {
  state: ProfileState;
  /** Packed `messageId` hashes (see `dedup.ts`). */
  seen: Uint8Array;
  /** Incremented on every write; a write succeeds only if the stored version is the one it read. */
  version: number;
  /** Epoch seconds after which the profile no longer exists (the table's TTL attribute). */
  expiresAt: number;
  /** Epoch ms of the last write. */
  updatedAt: number;
}

/**
 * Whether a stored record has expired. DynamoDB deletes expired items up to two days late, so every reader
 * treats an expired item as absent rather than trusting that it is gone.
 */
export function isExpired(record: Pick<ProfileRecord, 'expiresAt'>, nowMs: number): boolean {
  return record.expiresAt <= Math.floor(nowMs / 1000);
}

/** The TTL of a profile written now: known people (with a `userId`) are kept longer than anonymous visitors. */
export function expiresAtFor(state: ProfileState, nowMs: number, settings: ProfileSettings): number {
  const days = state.userId !== undefined ? settings.knownTtlDays : settings.anonymousTtlDays;
  return Math.floor(nowMs / 1000) + Math.round(days * 86_400);
}

export interface BatchResult {
  /** The record to write, or undefined when every event had already been applied (nothing to write). */
  next?: ProfileRecord;
  /** How many events were new. */
  applied: number;
  /** How many were duplicates (in this batch or already applied earlier). */
  duplicates: number;
}

/**
 * Applies a batch of one profile's events to its stored record (absent or expired: a new profile).
 * Events whose `messageId` the profile has already applied within the de-duplication window are skipped,
 * so replaying a batch, or a client resending an event, changes nothing.
 */
export function applyBatch(
  current: ProfileRecord | undefined,
  profileId: string,
  events: readonly StreamEvent[],
  settings: ProfileSettings,
  nowMs: number,
): BatchResult {
  const live = current && !isExpired(current, nowMs) ? current : undefined;
  const nowSeconds = Math.floor(nowMs / 1000);
  const seen = pruneSeen(decodeSeen(live?.seen), nowSeconds, settings.dedupWindowHours * 3600, Number.POSITIVE_INFINITY);

  const fresh: StreamEvent[] = [];
  for (const event of events) {
    const key = seenKey(event.messageId);
    if (seen.has(key)) continue;
    seen.set(key, nowSeconds);
    fresh.push(event);
  }
  const duplicates = events.length - fresh.length;
  if (fresh.length === 0) return { applied: 0, duplicates };

  const state = reduceEvents(live?.state ?? emptyProfile(profileId), fresh, settings.affinityHalfLifeDays);
  return {
    applied: fresh.length,
    duplicates,
    next: {
      state,
      seen: encodeSeen(pruneSeen(seen, nowSeconds, settings.dedupWindowHours * 3600, settings.dedupMaxIds)),
      // The version continues from the stored item even when it had expired: the conditional write must
      // replace exactly the item that was read.
      version: (current?.version ?? 0) + 1,
      expiresAt: expiresAtFor(state, nowMs, settings),
      updatedAt: nowMs,
    },
  };
}
