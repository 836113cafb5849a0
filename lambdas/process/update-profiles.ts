import { forEachLimited } from '../shared/concurrency';
import { ERASED } from '../shared/domain/erasure';
import { StreamEvent } from '../shared/domain/event-schema';
import { deviceKeyOf, historyOnly, LinkSource, linkSourcesOf, Resolution } from '../shared/domain/identity';
import { MergeScope, profileIdOf } from '../shared/domain/profile';
import { applyBatch, isExpired, knownExpiresAt, MergeSource, ProfileRecord, redirectRecord, sealRecord } from '../shared/domain/profile-record';
import { SegmentDefinition } from '../shared/domain/segments';
import { ProfileSettings } from '../shared/domain/settings';
import { IdentityLink, IdentityStore, resolveIds } from '../shared/store/identity-store';
import { ProfileStore } from '../shared/store/profile-store';
import type { SegmentBus } from '../shared/store/segment-bus';
import { deliverNotices } from '../shared/store/segment-notices';

export interface UpdateDeps {
  profiles: ProfileStore;
  identities: IdentityStore;
  settings: ProfileSettings;
  now: () => number;
  /** Profiles written in parallel. */
  concurrency?: number;
  /** Re-reads after a lost conditional write before giving up on the profile for this batch. */
  maxConflictRetries?: number;
  /** Real-time segments: the definitions each write evaluates, and the bus their entry and exit notices go to. */
  segments?: { definitions: () => Promise<SegmentDefinition[]>; bus: SegmentBus };
}

export interface UpdateStats {
  profiles: number;
  writes: number;
  applied: number;
  duplicates: number;
  conflicts: number;
  /** Profiles merged into another (identity resolution). */
  merges: number;
  /** Links not made because the id already belongs to another person (the first link wins). */
  linkConflicts: number;
  /** Events dropped because their person was erased (suppression). */
  suppressed: number;
  /** Segment entry and exit notices published, and not yet published (queued on their profile, retried). */
  noticesPublished: number;
  noticesDelayed: number;
  /** Old notices dropped because too many were queued on one profile (the bus kept failing). */
  noticesDropped: number;
}

export interface UpdateOutcome {
  /** Events whose profile could not be written, with the reason: their records must be retried. */
  failed: Map<StreamEvent, Error>;
  stats: UpdateStats;
}

/** The events of one canonical profile in a batch, and the ids they link to it. */
interface Group {
  events: StreamEvent[];
  sources: Map<string, LinkSource>;
  /** `device#…` ids a known user's events claim (device linking). */
  devices: Set<string>;
}

/** Rounds of re-routing a group whose profile was merged away while the batch ran. */
const MAX_ROUNDS = 4;
/** Identity links are re-written when they would expire this long before their profile. */
const LINK_REFRESH_SECONDS = 86_400;

/**
 * Coalesces a batch of events into profile writes, with identity resolution:
 * 1. every event is routed to its person's canonical profile (identity table, links followed), and the ids it
 *    links (`linkSourcesOf`, device ids) are attached to that profile's group;
 * 2. the groups' profiles are read in one consistent batch read;
 * 3. each profile is written once with a conditional Put on its version, after sealing the profiles it merges
 *    (`mergeSources`). If another writer changed it in between, it is re-read and the (pure, idempotent) batch
 *    re-applied; if it was itself merged away meanwhile, its group moves to the profile it now redirects to.
 *
 * Exactly once, in any order: a profile is merged only after it is sealed (it then takes no events: writers that
 * read it before lose their conditional write and follow the redirect), its state is merged in the same
 * conditional write as the canonical profile's new events, and the canonical profile's `linked` list makes a
 * replay of the linking event a no-op. A crash between any two steps leaves a state the retry completes.
 */
export async function updateProfiles(events: readonly StreamEvent[], deps: UpdateDeps): Promise<UpdateOutcome> {
  const stats: UpdateStats = {
    profiles: 0,
    writes: 0,
    applied: 0,
    duplicates: 0,
    conflicts: 0,
    merges: 0,
    linkConflicts: 0,
    suppressed: 0,
    noticesPublished: 0,
    noticesDelayed: 0,
    noticesDropped: 0,
  };
  const failed = new Map<StreamEvent, Error>();
  if (events.length === 0) return { failed, stats };
  // Routing may rewrite an event (history only): failures are reported against the event the caller gave.
  const originals = new Map<StreamEvent, StreamEvent>();
  const failAll = (groups: Map<string, Group>, error: Error) => {
    for (const group of groups.values()) for (const event of group.events) failed.set(originals.get(event) ?? event, error);
  };
  let pending: Map<string, Group>;
  let definitions: SegmentDefinition[] | undefined;
  try {
    // Routing reads the identity links; the segment definitions (cached, read every 30 s) are read alongside.
    [pending, definitions] = await Promise.all([routeEvents(events, deps, originals, stats), deps.segments?.definitions()]);
  } catch (error) {
    for (const event of events) failed.set(event, error as Error);
    return { failed, stats };
  }
  stats.profiles = pending.size;

  for (let round = 0; pending.size > 0; round++) {
    if (round >= MAX_ROUNDS) {
      failAll(pending, new Error(`Profiles kept being merged away while the batch ran (${MAX_ROUNDS} rounds)`));
      break;
    }
    let stored: Map<string, ProfileRecord>;
    try {
      stored = await deps.profiles.getMany([...pending.keys()]);
    } catch (error) {
      failAll(pending, error as Error);
      break;
    }
    const moved = new Map<string, Group>();
    await forEachLimited([...pending], deps.concurrency ?? 16, async ([profileId, group]) => {
      try {
        const redirect = await writeProfile(profileId, group, stored.get(profileId), definitions, deps, stats);
        if (redirect !== undefined) addGroup(moved, redirect.canonicalId, followRedirect(profileId, redirect.scope, group, originals));
      } catch (error) {
        failAll(new Map([[profileId, group]]), error as Error);
      }
    });
    pending = moved;
  }
  return { failed, stats };
}

/**
 * Groups events by canonical profile (identity links followed), with the ids each group links. Events of an erased
 * person (their id suppressed) are dropped here: they are applied nowhere.
 */
async function routeEvents(events: readonly StreamEvent[], deps: UpdateDeps, originals: Map<StreamEvent, StreamEvent>, stats: UpdateStats): Promise<Map<string, Group>> {
  const idsOf = events.map((event) => ({
    own: profileIdOf(event),
    sources: linkSourcesOf(event),
    device: deps.settings.deviceLinking ? deviceKeyOf(event) : undefined,
  }));
  const all = new Set(idsOf.flatMap(({ own, sources, device }) => [own, ...sources.map((s) => s.profileId), ...(device ? [device] : [])]));
  const resolved = await resolveIds(deps.identities, [...all], deps.now());
  const route = (id: string) => resolved.get(id) as Resolution;

  const groups = new Map<string, Group>();
  for (const [i, original] of events.entries()) {
    const { own, sources, device } = idsOf[i];
    let { canonicalId, scope } = route(own);
    if (canonicalId === ERASED) {
      stats.suppressed += 1;
      continue;
    }
    const group: Group = { events: [], sources: new Map(sources.map((s) => [s.profileId, s])), devices: new Set() };

    if (device !== undefined) {
      const owner = route(device).canonicalId;
      if (original.userId !== undefined) {
        // A known user's device: claimed by the first user seen on it.
        if (owner === device) group.devices.add(device);
      } else if (canonicalId === own && owner !== device && owner !== own) {
        // An anonymous profile nobody has linked, on a device a known user claimed: link its history.
        group.sources.set(own, { profileId: own, scope: 'history' });
        canonicalId = owner;
        scope = 'history';
      }
    }
    // Applied to another profile than its own id's: that id is merged in the same write (if it has not been
    // yet), so the event is recognised if the merged profile applied it already.
    if (canonicalId !== own) group.sources.set(own, { profileId: own, scope });
    group.events.push(scope === 'history' ? rewritten(historyOnly, original, originals) : original);
    addGroup(groups, canonicalId, group);
  }
  return groups;
}

/** A group whose profile was merged away while the batch ran, as it moves to the profile it now redirects to. */
function followRedirect(profileId: string, scope: MergeScope, group: Group, originals: Map<StreamEvent, StreamEvent>): Group {
  return {
    events: scope === 'history' ? group.events.map((event) => rewritten(historyOnly, event, originals)) : group.events,
    sources: new Map([...group.sources, [profileId, { profileId, scope }]]),
    devices: group.devices,
  };
}

/** `rewrite(event)`, remembering which event the caller gave (failures are reported against it). */
function rewritten(rewrite: (event: StreamEvent) => StreamEvent, event: StreamEvent, originals: Map<StreamEvent, StreamEvent>): StreamEvent {
  const next = rewrite(event);
  if (next !== event) originals.set(next, originals.get(event) ?? event);
  return next;
}

function addGroup(groups: Map<string, Group>, profileId: string, group: Group): void {
  const existing = groups.get(profileId);
  if (!existing) {
    groups.set(profileId, { events: [...group.events], sources: new Map(group.sources), devices: new Set(group.devices) });
    return;
  }
  existing.events.push(...group.events);
  for (const [id, source] of group.sources) if (!existing.sources.has(id)) existing.sources.set(id, source);
  for (const device of group.devices) existing.devices.add(device);
}

/**
 * Writes one profile: seals the sources it has not merged yet, applies the group, writes conditionally, then
 * reduces each merged source to a redirect. Returns where to move the group when this profile turned out to be
 * merged into another one.
 */
async function writeProfile(
  profileId: string,
  group: Group,
  current: ProfileRecord | undefined,
  definitions: SegmentDefinition[] | undefined,
  deps: UpdateDeps,
  stats: UpdateStats,
): Promise<Resolution | undefined> {
  const maxRetries = deps.maxConflictRetries ?? 3;
  const sealed = new Map<string, MergeSource>();
  let record = current;
  for (let attempt = 0; ; attempt++) {
    const now = deps.now();
    if (record?.mergedInto !== undefined && !isExpired(record, now)) return { canonicalId: record.mergedInto, scope: record.mergeScope ?? 'all' };

    const linkedBefore = new Set((record?.linked ?? []).map((l) => l.id));
    for (const source of group.sources.values()) {
      if (source.profileId === profileId || linkedBefore.has(source.profileId) || sealed.has(source.profileId)) continue;
      const merge = await sealSource(source, profileId, deps, now, stats);
      if (merge) sealed.set(source.profileId, merge);
    }
    const devices: string[] = [];
    for (const device of group.devices) {
      if (linkedBefore.has(device)) continue;
      const owner = await deps.identities.link(linkTo(device, profileId, 'history', now, deps.settings));
      if (owner === profileId) devices.push(device);
    }

    const result = applyBatch(record, profileId, group.events, deps.settings, now, { sources: [...sealed.values()], devices }, definitions);
    if (!result.next) {
      stats.duplicates += result.duplicates;
      return undefined;
    }
    const next = result.next;
    // Identity links live as long as their profile: re-written when new, re-pointed after a merge of a merge,
    // and refreshed when they would expire a day or more before the profile.
    if (next.linked && (result.merged > 0 || devices.length > 0 || next.expiresAt - (next.linksExpireAt ?? 0) > LINK_REFRESH_SECONDS)) {
      await deps.identities.putAll(next.linked.map((l) => ({ id: l.id, canonicalId: profileId, scope: l.scope, linkedAt: l.at, expiresAt: next.expiresAt })));
      next.linksExpireAt = next.expiresAt;
    }
    stats.writes += 1;
    if (await deps.profiles.put(next, record?.version)) {
      stats.applied += result.applied;
      stats.duplicates += result.duplicates;
      stats.merges += result.merged;
      stats.noticesDropped += result.noticesDropped ?? 0;
      await redirectMerged([...sealed.values()], next.expiresAt, now, deps);
      if (deps.segments) countDelivery(await deliverNotices(next, { ...deps, bus: deps.segments.bus }), next, stats);
      return undefined;
    }
    stats.conflicts += 1;
    if (attempt >= maxRetries) throw new Error(`Profile ${profileId} kept changing under concurrent writes (${attempt + 1} attempts)`);
    record = await deps.profiles.get(profileId);
  }
}

/**
 * Links `source` to `profileId` and seals its profile, so that its state can be merged exactly once. Returns
 * undefined when the source belongs to another person already (the first link wins).
 */
async function sealSource(source: LinkSource, profileId: string, deps: UpdateDeps, now: number, stats: UpdateStats): Promise<MergeSource | undefined> {
  const belongsTo = async (linkedTo: string) => linkedTo === profileId || (await resolveIds(deps.identities, [linkedTo], now)).get(linkedTo)?.canonicalId === profileId;

  const linkedTo = await deps.identities.link(linkTo(source.profileId, profileId, source.scope, now, deps.settings));
  if (!(await belongsTo(linkedTo))) {
    stats.linkConflicts += 1;
    return undefined;
  }
  for (let attempt = 0; ; attempt++) {
    const record = await deps.profiles.get(source.profileId);
    if (record?.mergedInto !== undefined && !isExpired(record, now)) {
      // Sealed by an earlier attempt (this profile, or one merged into it since): merge what it holds.
      if (await belongsTo(record.mergedInto)) return { profileId: source.profileId, record, scope: record.mergeScope ?? 'all' };
      stats.linkConflicts += 1;
      return undefined;
    }
    const seal = sealRecord(record, source.profileId, profileId, source.scope, deps.settings, now);
    if (await deps.profiles.put(seal, record?.version)) return { profileId: source.profileId, record: seal, scope: source.scope };
    if (attempt >= (deps.maxConflictRetries ?? 3)) throw new Error(`Profile ${source.profileId} kept changing while being sealed for ${profileId}`);
  }
}

function countDelivery(delivery: { published: number; error?: Error }, record: ProfileRecord, stats: UpdateStats): void {
  stats.noticesPublished += delivery.published;
  if (delivery.error) stats.noticesDelayed += record.notices?.length ?? 0;
}

/** Merged profiles keep only their redirect. Best effort: a sealed profile left whole is merged at most once anyway. */
async function redirectMerged(sources: MergeSource[], canonicalExpiresAt: number, now: number, deps: UpdateDeps): Promise<void> {
  for (const { record } of sources) {
    if (!record || record.state.lastSeen === undefined) continue;
    await deps.profiles.put(redirectRecord(record, canonicalExpiresAt, now), record.version).catch(() => false);
  }
}

function linkTo(id: string, profileId: string, scope: LinkSource['scope'], now: number, settings: ProfileSettings): IdentityLink {
  return { id, canonicalId: profileId, scope, linkedAt: now, expiresAt: knownExpiresAt(now, settings) };
}
