import { MAX_LINK_HOPS } from '../domain/identity';
import { isExpired, ProfileRecord } from '../domain/profile-record';
import { IdentityStore, resolveIds } from './identity-store';
import { ProfileStore } from './profile-store';

export interface ProfileStores {
  profiles: ProfileStore;
  identities: IdentityStore;
}

/** A person's profile as read by any of their ids: the canonical profile's id and its live record, if any. */
export interface CanonicalProfile {
  profileId: string;
  record?: ProfileRecord;
}

/**
 * Reads the profile of the person `profileId` belongs to. The profile and the id's identity link are read in
 * parallel, so an id nobody linked costs one round trip; a linked id costs one more read. A redirect the
 * identity table does not show yet (a merge in progress) is followed too. Expired records count as absent.
 */
export async function readCanonicalProfile(profileId: string, stores: ProfileStores, nowMs: number): Promise<CanonicalProfile> {
  const [own, resolved] = await Promise.all([stores.profiles.get(profileId), resolveIds(stores.identities, [profileId], nowMs)]);
  let canonicalId = resolved.get(profileId)?.canonicalId ?? profileId;
  let record = canonicalId === profileId ? own : await stores.profiles.get(canonicalId);
  for (let hop = 0; record?.mergedInto !== undefined && !isExpired(record, nowMs); hop++) {
    if (hop >= MAX_LINK_HOPS) throw new Error(`Profile ${profileId} redirects more than ${MAX_LINK_HOPS} times`);
    canonicalId = record.mergedInto;
    record = await stores.profiles.get(canonicalId);
  }
  return { profileId: canonicalId, ...(record && !isExpired(record, nowMs) ? { record } : {}) };
}
