import { decodeSeen, encodeSeen, pruneSeen, seenKey } from './dedup';
import { StreamEvent } from './event-schema';
import { emptyProfile, mergeProfileState, MergeScope, ProfileState, reduceEvents } from './profile';
import { exitAll, Memberships, NO_MEMBERSHIPS, queueNotices, SegmentNotice, settleMemberships } from './segment-membership';
import { SegmentDefinition } from './segments';
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
  /**
   * Set once this id's profile has been merged into another person's (see `identity.ts`): the record is then a
   * redirect to the canonical profile and never takes another event.
   */
  mergedInto?: string;
  /** How the redirect was linked, when it was a device link (`history`); absent for a deterministic one. */
  mergeScope?: 'history';
  /** Every id linked to this profile, oldest first (bounded): each profile among them was merged exactly once. */
  linked?: LinkedId[];
  /** The TTL (epoch seconds) this profile's identity links were last written with. */
  linksExpireAt?: number;
  /** Segment memberships, and when one may next change with time alone (`segment-membership.ts`). */
  memberships?: Memberships;
  /** Segment entry and exit notices written with this version and not yet published (the outbox). */
  notices?: SegmentNotice[];
}

/** An id linked to a profile: another profile merged into it, or (device linking) a device it claimed. */
export interface LinkedId {
  id: string;
  /** `all` for a deterministic link (identify, alias, both ids on one event); `history` for a device link. */
  scope: MergeScope;
  /** Epoch ms of the link. */
  at: number;
}

/** Linked ids remembered per profile (about 30 KB at most): beyond this the oldest are forgotten. */
export const MAX_LINKED_IDS = 100;

/** A profile to merge into the one a batch is written to: its id's record as sealed (`sealRecord`), if any. */
export interface MergeSource {
  profileId: string;
  record?: ProfileRecord;
  scope: MergeScope;
}

/** The identity changes a write carries: sealed profiles to merge and device ids claimed. */
export interface LinkChanges {
  sources: readonly MergeSource[];
  /** `device#…` ids now linked to this profile. */
  devices: readonly string[];
}

const NO_LINKS: LinkChanges = { sources: [], devices: [] };

/**
 * Whether a stored record has expired. DynamoDB deletes expired items up to two days late, so every reader
 * treats an expired item as absent rather than trusting that it is gone.
 */
export function isExpired(record: Pick<ProfileRecord, 'expiresAt'>, nowMs: number): boolean {
  return record.expiresAt <= Math.floor(nowMs / 1000);
}

/** The TTL of a profile written now: known people (with a `userId`) are kept longer than anonymous visitors. */
export function expiresAtFor(state: ProfileState, nowMs: number, settings: ProfileSettings): number {
  return state.userId !== undefined ? knownExpiresAt(nowMs, settings) : Math.floor(nowMs / 1000) + Math.round(settings.anonymousTtlDays * 86_400);
}

/** The TTL (epoch seconds) of a known person's profile written now: also the first TTL of an identity link. */
export function knownExpiresAt(nowMs: number, settings: Pick<ProfileSettings, 'knownTtlDays'>): number {
  return Math.floor(nowMs / 1000) + Math.round(settings.knownTtlDays * 86_400);
}

export interface BatchResult {
  /** The record to write, or undefined when every event had already been applied (nothing to write). */
  next?: ProfileRecord;
  /** How many events were new. */
  applied: number;
  /** How many were duplicates (in this batch or already applied earlier). */
  duplicates: number;
  /** How many profiles were merged in. */
  merged: number;
  /** Segment notices not kept because too many were waiting to be published (see `MAX_PENDING_NOTICES`). */
  noticesDropped?: number;
}

/**
 * Applies a batch of one profile's events to its stored record (absent or expired: a new profile), after merging
 * in the sealed profiles of `sources` that this profile has not merged before.
 * Events whose `messageId` the profile (or a profile merged into it) has already applied within the
 * de-duplication window are skipped, so replaying a batch, or a client resending an event, changes nothing.
 *
 * With `segments` (the current definitions) the memberships are re-evaluated in the same write, and its entry
 * and exit notices queued on the record; without, they are carried over unchanged.
 */
export function applyBatch(
  current: ProfileRecord | undefined,
  profileId: string,
  events: readonly StreamEvent[],
  settings: ProfileSettings,
  nowMs: number,
  links: LinkChanges = NO_LINKS,
  segments?: readonly SegmentDefinition[],
): BatchResult {
  const live = current && !isExpired(current, nowMs) ? current : undefined;
  const nowSeconds = Math.floor(nowMs / 1000);
  const window = settings.dedupWindowHours * 3600;
  const merging = sourcesToMerge(live, profileId, links.sources, nowMs);
  const linkedBefore = new Set((live?.linked ?? []).map((l) => l.id));
  const devices = links.devices.filter((id) => !linkedBefore.has(id));

  const seen = pruneSeen(decodeSeen(live?.seen), nowSeconds, window, Number.POSITIVE_INFINITY);
  for (const { record } of merging) {
    for (const [key, at] of pruneSeen(decodeSeen(record?.seen), nowSeconds, window, Number.POSITIVE_INFINITY)) seen.set(key, Math.max(seen.get(key) ?? 0, at));
  }
  const fresh: StreamEvent[] = [];
  for (const event of events) {
    const key = seenKey(event.messageId);
    if (seen.has(key)) continue;
    seen.set(key, nowSeconds);
    fresh.push(event);
  }
  const duplicates = events.length - fresh.length;
  if (fresh.length === 0 && merging.length === 0 && devices.length === 0) return { applied: 0, duplicates, merged: 0 };

  let state = live?.state ?? emptyProfile(profileId);
  for (const { record, scope } of merging) if (record) state = mergeProfileState(state, record.state, scope, settings.affinityHalfLifeDays, settings);
  state = reduceEvents(state, fresh, settings.affinityHalfLifeDays, settings);
  const linked = [
    ...(live?.linked ?? []),
    ...merging.flatMap((s) => [...(s.record?.linked ?? []), { id: s.profileId, scope: s.scope, at: nowMs }]),
    ...devices.map((id): LinkedId => ({ id, scope: 'history', at: nowMs })),
  ].slice(-MAX_LINKED_IDS);
  const next: ProfileRecord = {
      state,
      seen: encodeSeen(pruneSeen(seen, nowSeconds, window, settings.dedupMaxIds)),
      // The version continues from the stored item even when it had expired: the conditional write must
      // replace exactly the item that was read.
      version: (current?.version ?? 0) + 1,
      expiresAt: expiresAtFor(state, nowMs, settings),
      updatedAt: nowMs,
      ...(linked.length > 0 ? { linked } : {}),
      ...(live?.linksExpireAt !== undefined ? { linksExpireAt: live.linksExpireAt } : {}),
  };
  const noticesDropped = segments ? updateSegments(next, live, merging, segments, settings, nowMs) : carrySegments(next, live);
  return { applied: fresh.length, duplicates, merged: merging.length, next, ...(noticesDropped > 0 ? { noticesDropped } : {}) };
}

/**
 * Re-evaluates `next`'s memberships (see `settleMemberships`): merged profiles' memberships end, and the notices join
 * those still waiting. (A merged profile's own pending notices stay on its sealed record, where its publisher or the
 * scheduled pass publishes them.) Returns how many old notices were dropped.
 */
function updateSegments(
  next: ProfileRecord,
  previous: ProfileRecord | undefined,
  merged: readonly MergeSource[],
  definitions: readonly SegmentDefinition[],
  settings: ProfileSettings,
  nowMs: number,
): number {
  const fromMerged = merged.flatMap(({ record }) => (record ? exitAll(record.state, record.memberships ?? NO_MEMBERSHIPS, nowMs, 'merged') : []));
  const { memberships, notices } = settleMemberships(
    { before: previous?.state, after: next.state },
    previous?.memberships ?? NO_MEMBERSHIPS,
    definitions,
    nowMs,
    { affinityHalfLifeDays: settings.affinityHalfLifeDays, consent: settings },
  );
  const queued = queueNotices(previous?.notices ?? [], [...fromMerged, ...notices]);
  setSegments(next, memberships, queued.notices);
  return queued.dropped;
}

/** Keeps the previous memberships and pending notices as they were (no definitions to evaluate with). */
function carrySegments(next: ProfileRecord, previous: ProfileRecord | undefined): number {
  setSegments(next, previous?.memberships ?? NO_MEMBERSHIPS, previous?.notices ?? []);
  return 0;
}

function setSegments(record: ProfileRecord, memberships: Memberships, notices: SegmentNotice[]): void {
  if (Object.keys(memberships.segments).length > 0 || memberships.changesAt !== undefined) record.memberships = memberships;
  else delete record.memberships;
  if (notices.length > 0) record.notices = notices;
  else delete record.notices;
}

/**
 * The scheduled segment pass on one profile: its timed changes due by `nowMs`. Returns the record to write (version
 * + 1), or undefined when nothing changed (not live, a redirect, nothing due, no change).
 */
export function settleRecord(
  record: ProfileRecord,
  definitions: readonly SegmentDefinition[],
  settings: ProfileSettings,
  nowMs: number,
): { next?: ProfileRecord; noticesDropped: number } {
  if (isExpired(record, nowMs) || record.mergedInto !== undefined) return { noticesDropped: 0 };
  const next: ProfileRecord = { ...record, version: record.version + 1, updatedAt: nowMs };
  const noticesDropped = updateSegments(next, record, [], definitions, settings, nowMs);
  const unchanged = JSON.stringify([next.memberships, next.notices]) === JSON.stringify([record.memberships, record.notices]);
  return unchanged ? { noticesDropped } : { next, noticesDropped };
}

/** `record` once its pending notices are published: the next version, without them. */
export function withoutNotices(record: ProfileRecord, nowMs: number): ProfileRecord {
  const { notices: _published, ...rest } = record;
  return { ...rest, version: record.version + 1, updatedAt: nowMs };
}

/**
 * The sources a write merges: not the profile itself, none it merged before, none that another source being
 * merged already contains (a merge of a merge), and only live records' contents (an expired one merges as empty).
 */
function sourcesToMerge(live: ProfileRecord | undefined, profileId: string, sources: readonly MergeSource[], nowMs: number): MergeSource[] {
  const contained = new Set([profileId, ...(live?.linked ?? []).map((l) => l.id)]);
  for (const source of sources) for (const l of source.record?.linked ?? []) contained.add(l.id);
  const merging: MergeSource[] = [];
  for (const source of sources) {
    if (contained.has(source.profileId)) continue;
    contained.add(source.profileId);
    const record = source.record && !isExpired(source.record, nowMs) ? source.record : undefined;
    merging.push({ profileId: source.profileId, scope: source.scope, ...(record ? { record } : {}) });
  }
  return merging;
}

/**
 * `record` (absent: an empty profile) sealed as merged into `canonicalId`: from this write on, the id takes no
 * events (writers that read it before see their conditional write fail, re-read and follow `mergedInto`), and
 * its state is frozen until the canonical profile has merged it. It lives at least as long as a known profile.
 */
export function sealRecord(
  record: ProfileRecord | undefined,
  profileId: string,
  canonicalId: string,
  scope: MergeScope,
  settings: ProfileSettings,
  nowMs: number,
): ProfileRecord {
  const live = record && !isExpired(record, nowMs) ? record : undefined;
  return {
    state: live?.state ?? emptyProfile(profileId),
    seen: live?.seen ?? new Uint8Array(),
    version: (record?.version ?? 0) + 1,
    expiresAt: Math.max(live?.expiresAt ?? 0, knownExpiresAt(nowMs, settings)),
    updatedAt: nowMs,
    mergedInto: canonicalId,
    ...(scope === 'history' ? { mergeScope: scope } : {}),
    ...(live?.linked ? { linked: live.linked } : {}),
    // Ended by the canonical profile's write (exit notices); no longer scheduled.
    ...(live?.memberships ? { memberships: { segments: live.memberships.segments } } : {}),
    ...(live?.notices?.length ? { notices: live.notices } : {}),
  };
}

/**
 * How long the writer of pending notices has to publish them before the scheduled pass takes them over: the writer
 * publishes right after its write, and a pass that took them at once could publish them a second time meanwhile.
 */
export const NOTICE_HANDOFF_MS = 60_000;

/**
 * When the scheduled segment pass must look at this profile (epoch ms): `NOTICE_HANDOFF_MS` after the write while
 * notices wait to be published (a sealed or redirect record too), or when a membership may change with time alone if
 * that is sooner; undefined when nothing is due.
 */
export function segmentsDueAt(record: ProfileRecord): number | undefined {
  const changesAt = record.mergedInto === undefined ? record.memberships?.changesAt : undefined;
  if (!record.notices?.length) return changesAt;
  return Math.min(record.updatedAt + NOTICE_HANDOFF_MS, changesAt ?? Infinity);
}

/** A sealed record once the canonical profile has merged it: the redirect alone, living as long as the canonical profile. */
export function redirectRecord(sealed: ProfileRecord, canonicalExpiresAt: number, nowMs: number): ProfileRecord {
  return {
    state: emptyProfile(sealed.state.profileId),
    seen: new Uint8Array(),
    version: sealed.version + 1,
    expiresAt: canonicalExpiresAt,
    updatedAt: nowMs,
    mergedInto: sealed.mergedInto,
    ...(sealed.mergeScope ? { mergeScope: sealed.mergeScope } : {}),
    // Notices it had not published yet are still published from here.
    ...(sealed.notices?.length ? { notices: sealed.notices } : {}),
  };
}
