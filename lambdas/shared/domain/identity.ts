import { StreamEvent } from './event-schema';
import { isPlainObject } from './json';
import { MergeScope, profileIdOf } from './profile';

/**
 * Identity resolution: which ids are one person, and which profile is that person's.
 *
 * Every id a person is known by (`user#…`, `anon#…`, and with device linking `device#…`) maps to one canonical
 * profile id. An id nobody has linked is its own canonical profile. Links are deterministic:
 * - an event carrying both a `userId` and an `anonymousId` (an `identify` after login above all) links the
 *   anonymous id to the user;
 * - `alias` links its `previousId` (a user id or an anonymous id: both are linked) to its `userId`;
 * - opt-in, lower confidence: an anonymous profile seen on a device (`context.device.id`) that a known user has
 *   used is linked to that user, merging only its history (what it did), never its traits (who it says it is).
 * The first link of an id wins: an id already linked to another person is not moved (a shared device, say),
 * and the conflict is counted rather than merging two people.
 *
 * How a link is made exactly once whatever the order, replays and shards is in `process/resolve-identities.ts`.
 */

/** Longest chain of links followed (a → b → c …) before resolution gives up: merges of merges are rare. */
export const MAX_LINK_HOPS = 8;

export const deviceIdOf = (deviceId: string) => `device#${deviceId}`;

/** An id to merge into the profile an event is applied to, and how much of it to merge. */
export interface LinkSource {
  profileId: string;
  scope: MergeScope;
}

/** The profile ids an event says belong to the same person as its own profile (`profileIdOf`). */
export function linkSourcesOf(event: StreamEvent): LinkSource[] {
  const own = profileIdOf(event);
  const ids = new Set<string>();
  if (event.userId !== undefined && event.anonymousId !== undefined) ids.add(profileIdOf({ anonymousId: event.anonymousId }));
  if (event.type === 'alias' && typeof event.previousId === 'string' && event.previousId !== '') {
    ids.add(profileIdOf({ userId: event.previousId }));
    ids.add(profileIdOf({ anonymousId: event.previousId }));
  }
  ids.delete(own);
  return [...ids].map((profileId) => ({ profileId, scope: 'all' }));
}

/** The device identity key of an event (`context.device.id`), if it has one. */
export function deviceKeyOf(event: StreamEvent): string | undefined {
  const device = isPlainObject(event.context) ? event.context.device : undefined;
  const id = isPlainObject(device) ? device.id : undefined;
  return typeof id === 'string' && id.trim() !== '' && id.length <= 256 ? deviceIdOf(id.trim()) : undefined;
}

/**
 * The event as a device link lets it count: its history, without the traits it carries (an `identify` or
 * `group` call still counts as a call).
 */
export function historyOnly(event: StreamEvent): StreamEvent {
  if (event.traits === undefined) return event;
  const { traits: _traits, ...rest } = event;
  return rest as StreamEvent;
}

/** Where an id resolves to, and whether every hop on the way was deterministic (`all`) or one was a device link (`history`). */
export interface Resolution {
  canonicalId: string;
  scope: MergeScope;
}

/**
 * Follows links from each id to its canonical profile id, `lookup` returning one hop for many ids at once.
 * Ids without a link map to themselves. A cycle or a chain longer than `MAX_LINK_HOPS` is an error (links are
 * only ever made towards a canonical profile, so neither should exist).
 */
export async function resolveCanonical(ids: readonly string[], lookup: (ids: string[]) => Promise<Map<string, Resolution>>): Promise<Map<string, Resolution>> {
  const resolved = new Map<string, Resolution>(ids.map((id) => [id, { canonicalId: id, scope: 'all' }]));
  let frontier = [...new Set(ids)];
  for (let hop = 0; frontier.length > 0; hop++) {
    if (hop >= MAX_LINK_HOPS) throw new Error(`Identity links of ${frontier[0]} form a chain longer than ${MAX_LINK_HOPS} hops`);
    const next = await lookup(frontier);
    const moved = new Set<string>();
    for (const [id, at] of resolved) {
      const link = next.get(at.canonicalId);
      if (link === undefined || link.canonicalId === at.canonicalId) continue;
      resolved.set(id, { canonicalId: link.canonicalId, scope: at.scope === 'history' || link.scope === 'history' ? 'history' : 'all' });
      moved.add(link.canonicalId);
    }
    frontier = [...moved];
  }
  return resolved;
}
