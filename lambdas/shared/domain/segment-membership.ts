import { emptyActivity } from './activity';
import { ConsentSettings, isGranted } from './consent';
import { own } from './json';
import { ProfileState } from './profile';
import { evaluateSegment, SegmentDefinition, SegmentProfile } from './segments';

/**
 * A profile's segment memberships and the entry and exit notices they produce.
 *
 * Memberships are re-evaluated on every write of the profile (new events, a merge) and by the scheduled pass when
 * a membership is due to change with time alone (`changesAt`, from `evaluateSegment`). Each change of membership
 * is computed once, inside the profile's conditional write, and recorded as a notice in the same write (an
 * outbox): the notice is published after the write and removed by the next one, so a crash or a failed publish
 * never loses it. A notice's id is a function of the transition, so a subscriber can drop the rare duplicate
 * (a crash between the publish and the removal).
 *
 * Timed changes happen at their exact time: before a profile's new events are applied, the changes due since the
 * last evaluation are played on the profile as it was (`settleMemberships`' `before`), each at its own time. So the
 * "added to cart in the last 10 minutes" example exits at the add time + 10 minutes, even when the scheduled pass
 * or the next event comes later.
 */

export interface Membership {
  /** When the person entered the segment (epoch ms). */
  since: number;
}

/** Why a membership changed: the condition, the profile being merged into another, the segment deleted, consent withdrawn, or erasure. */
export type NoticeReason = 'condition' | 'merged' | 'segment-deleted' | 'consent' | 'erased';

export interface SegmentNotice {
  /** The same transition always has the same id: `<segmentId>/<profileId>/<since>/<type>`. */
  id: string;
  type: 'entered' | 'exited';
  segmentId: string;
  profileId: string;
  userId?: string;
  /** When the membership changed (epoch ms). */
  at: number;
  /** When the membership began (for an entry, `at`). */
  since: number;
  reason: NoticeReason;
}

export interface Memberships {
  segments: Record<string, Membership>;
  /** The earliest time (epoch ms) a membership may change with no new event; absent: never. */
  changesAt?: number;
}

export interface SegmentSettings {
  affinityHalfLifeDays: number;
  consent: ConsentSettings;
}

/** Notices a profile keeps while they cannot be published (newest kept): about 150 bytes each. */
export const MAX_PENDING_NOTICES = 200;
/** Timed changes played per evaluation; beyond them the profile is evaluated at the current time directly. */
const MAX_CATCH_UP_STEPS = 32;

export const NO_MEMBERSHIPS: Memberships = { segments: {} };

/**
 * The memberships at `nowMs` and the notices of every change since `current` was evaluated:
 * 1. memberships of segments that no longer exist end (`segment-deleted`);
 * 2. the timed changes due up to `nowMs` are played on `before` (the profile as it was when `current` was
 *    evaluated), each at its own time;
 * 3. `after` (the profile with its new events; the same as `before` for a scheduled check) is evaluated at `nowMs`.
 * Without personalization consent the person belongs to no segment.
 */
export function settleMemberships(
  profiles: { before?: ProfileState; after: ProfileState },
  current: Memberships,
  definitions: readonly SegmentDefinition[],
  nowMs: number,
  settings: SegmentSettings,
): { memberships: Memberships; notices: SegmentNotice[] } {
  const segments = { ...current.segments };
  const notices: SegmentNotice[] = [];
  const { after } = profiles;
  const defined = new Set(definitions.map((d) => d.id));
  for (const [segmentId, membership] of Object.entries(segments)) {
    if (defined.has(segmentId)) continue;
    notices.push(notice('exited', segmentId, after, nowMs, membership.since, 'segment-deleted'));
    delete segments[segmentId];
  }

  let changesAt = current.changesAt;
  for (let step = 0; profiles.before && changesAt !== undefined && changesAt <= nowMs && step < MAX_CATCH_UP_STEPS; step++) {
    changesAt = evaluateAll(profiles.before, segments, definitions, changesAt, settings, notices);
  }
  changesAt = evaluateAll(after, segments, definitions, nowMs, settings, notices);
  return { memberships: { segments, ...(changesAt !== undefined ? { changesAt } : {}) }, notices };
}

/**
 * Exit notices for every membership of a profile that ends as a whole (merged into another, erased). A membership
 * never ends before it began, even when the writer that ends it read the clock a moment before the one that began it.
 */
export function exitAll(profile: Pick<ProfileState, 'profileId' | 'userId'>, memberships: Memberships, nowMs: number, reason: NoticeReason): SegmentNotice[] {
  return Object.entries(memberships.segments).map(([segmentId, m]) => notice('exited', segmentId, profile, Math.max(nowMs, m.since), m.since, reason));
}

/** Pending notices and new ones, the newest `MAX_PENDING_NOTICES` kept, and how many older ones were dropped. */
export function queueNotices(pending: readonly SegmentNotice[], added: readonly SegmentNotice[]): { notices: SegmentNotice[]; dropped: number } {
  const all = [...pending, ...added];
  const dropped = Math.max(0, all.length - MAX_PENDING_NOTICES);
  return { notices: all.slice(dropped), dropped };
}

/** Evaluates every segment on `state` at `atMs`, updating `segments` and adding notices; returns the next change time. */
function evaluateAll(
  state: ProfileState,
  segments: Record<string, Membership>,
  definitions: readonly SegmentDefinition[],
  atMs: number,
  settings: SegmentSettings,
  notices: SegmentNotice[],
): number | undefined {
  const consentGranted = (purpose: string) => isGranted(state.consent, purpose, settings.consent);
  const personalized = consentGranted(settings.consent.personalizationCategory);
  const profile: SegmentProfile = { ...state, activity: state.activity ?? emptyActivity() };
  let changesAt: number | undefined;
  for (const definition of definitions) {
    const result = personalized
      ? evaluateSegment(definition, profile, { nowMs: atMs, affinityHalfLifeDays: settings.affinityHalfLifeDays, consentGranted })
      : { member: false };
    const membership = own(segments, definition.id);
    if (result.member && !membership) {
      segments[definition.id] = { since: atMs };
      notices.push(notice('entered', definition.id, state, atMs, atMs, 'condition'));
    } else if (!result.member && membership) {
      delete segments[definition.id];
      notices.push(notice('exited', definition.id, state, atMs, membership.since, personalized ? 'condition' : 'consent'));
    }
    if (result.changesAt !== undefined) changesAt = Math.min(changesAt ?? result.changesAt, result.changesAt);
  }
  return changesAt;
}

function notice(
  type: SegmentNotice['type'],
  segmentId: string,
  profile: Pick<ProfileState, 'profileId' | 'userId'>,
  at: number,
  since: number,
  reason: NoticeReason,
): SegmentNotice {
  return {
    id: `${segmentId}/${profile.profileId}/${since}/${type}`,
    type,
    segmentId,
    profileId: profile.profileId,
    ...(profile.userId !== undefined ? { userId: profile.userId } : {}),
    at,
    since,
    reason,
  };
}
