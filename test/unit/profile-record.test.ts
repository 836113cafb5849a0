import { decodeSeen, encodeSeen, pruneSeen, seenKey } from '../../lambdas/shared/domain/dedup';
import { applyBatch, expiresAtFor, isExpired, ProfileRecord } from '../../lambdas/shared/domain/profile-record';
import { emptyProfile } from '../../lambdas/shared/domain/profile';
import { DEFAULT_PROFILE_SETTINGS, ProfileSettings, profileSettingsFromEnv, profileSettingsToEnv } from '../../lambdas/shared/domain/settings';
import { copyRecord } from '../support/in-memory-profile-store';
import { DAY, HOUR, identify, T0, track } from '../support/events';

const settings: ProfileSettings = { ...DEFAULT_PROFILE_SETTINGS, anonymousTtlDays: 30, knownTtlDays: 395 };
const seconds = (ms: number) => Math.floor(ms / 1000);

describe('TTL', () => {
  it('keeps an anonymous profile anonymousTtlDays after its last write', () => {
    const result = applyBatch(undefined, 'anon#a1', [track('E', {}, { anonymousId: 'a1' })], settings, T0);
    expect(result.next?.expiresAt).toBe(seconds(T0) + 30 * 86_400);
  });

  it('keeps a profile with a userId knownTtlDays after its last write', () => {
    const result = applyBatch(undefined, 'user#u1', [track('E', {}, { userId: 'u1', anonymousId: 'a1' })], settings, T0);
    expect(result.next?.expiresAt).toBe(seconds(T0) + 395 * 86_400);
  });

  it('refreshes the expiry on every write', () => {
    const first = applyBatch(undefined, 'anon#a1', [track('E', {}, { anonymousId: 'a1' })], settings, T0).next as ProfileRecord;
    const later = T0 + 10 * DAY;
    const second = applyBatch(copyRecord(first), 'anon#a1', [track('F', {}, { anonymousId: 'a1', at: T0 + DAY })], settings, later).next as ProfileRecord;
    expect(second.expiresAt).toBe(seconds(later) + 30 * 86_400);
    expect(second.updatedAt).toBe(later);
  });

  it('handles fractional days', () => {
    expect(expiresAtFor(emptyProfile('anon#a'), T0, { ...settings, anonymousTtlDays: 0.5 })).toBe(seconds(T0) + 43_200);
  });

  it('isExpired is true from the expiry second on', () => {
    const expiresAt = seconds(T0);
    expect(isExpired({ expiresAt }, T0 - 1000)).toBe(false);
    expect(isExpired({ expiresAt }, T0 - 1)).toBe(false);
    expect(isExpired({ expiresAt }, T0)).toBe(true);
    expect(isExpired({ expiresAt }, T0 + DAY)).toBe(true);
  });
});

describe('applyBatch', () => {
  const profileId = 'user#u1';
  const opts = (messageId: string, at = T0) => ({ userId: 'u1', messageId, at });

  it('creates a profile at version 1 and increments the version on each write', () => {
    const first = applyBatch(undefined, profileId, [identify({ plan: 'free' }, opts('m1'))], settings, T0);
    expect(first).toMatchObject({ applied: 1, duplicates: 0 });
    expect(first.next?.version).toBe(1);
    expect(first.next?.updatedAt).toBe(T0);
    const second = applyBatch(copyRecord(first.next as ProfileRecord), profileId, [identify({ plan: 'pro' }, opts('m2', T0 + 1))], settings, T0 + 1000);
    expect(second.next?.version).toBe(2);
    expect(second.next?.state.traits.plan).toBe('pro');
  });

  it('treats an expired record as absent (fresh state, fresh de-duplication) but continues its version', () => {
    const old = applyBatch(undefined, profileId, [identify({ plan: 'free' }, opts('m1')), track('Old Event', {}, opts('m2'))], settings, T0).next as ProfileRecord;
    const expired: ProfileRecord = { ...copyRecord(old), version: 7, expiresAt: seconds(T0 + DAY) };
    const now = T0 + 2 * DAY;
    const result = applyBatch(expired, profileId, [identify({ name: 'Ann' }, opts('m3', now)), track('Old Event', {}, opts('m2'))], settings, now);
    expect(result.applied).toBe(2); // m2 was remembered only by the expired record
    expect(result.next?.version).toBe(8);
    expect(result.next?.state.traits).toEqual({ name: 'Ann' });
    expect(result.next?.state.events).toEqual({ 'Old Event': 1 });
    expect(result.next?.state.firstSeen).toBe(T0);
    expect(result.next?.expiresAt).toBe(seconds(now) + 395 * 86_400);
  });

  it('does not modify the record it is given', () => {
    const record = applyBatch(undefined, profileId, [identify({ plan: 'free' }, opts('m1'))], settings, T0).next as ProfileRecord;
    const before = copyRecord(record);
    applyBatch(record, profileId, [identify({ plan: 'pro' }, opts('m2', T0 + 1))], settings, T0 + 1000);
    expect(record).toEqual(before);
  });

  it('remembers applied ids in the record', () => {
    const result = applyBatch(undefined, profileId, [track('A', {}, opts('m1')), track('B', {}, opts('m2'))], settings, T0);
    const seen = decodeSeen(result.next?.seen);
    expect([...seen.keys()].sort()).toEqual([seenKey('m1'), seenKey('m2')].sort());
    expect([...seen.values()]).toEqual([seconds(T0), seconds(T0)]);
  });

  it(`bounds the remembered ids to dedupMaxIds, newest first`, () => {
    const small = { ...settings, dedupMaxIds: 5 };
    const first = applyBatch(undefined, profileId, [1, 2, 3, 4].map((i) => track('A', {}, opts(`old-${i}`))), small, T0).next as ProfileRecord;
    const second = applyBatch(copyRecord(first), profileId, [1, 2, 3].map((i) => track('A', {}, opts(`new-${i}`))), small, T0 + HOUR).next as ProfileRecord;
    const seen = decodeSeen(second.seen);
    expect(seen.size).toBe(5);
    for (const i of [1, 2, 3]) expect(seen.get(seenKey(`new-${i}`))).toBe(seconds(T0 + HOUR));
    expect(second.seen.byteLength).toBe(5 * 12);
  });

  it('forgets ids older than the window', () => {
    const first = applyBatch(undefined, profileId, [track('A', {}, opts('m1'))], settings, T0).next as ProfileRecord;
    const afterWindow = T0 + settings.dedupWindowHours * HOUR;
    const second = applyBatch(copyRecord(first), profileId, [track('B', {}, opts('m2', T0 + 1))], settings, afterWindow).next as ProfileRecord;
    expect([...decodeSeen(second.seen).keys()]).toEqual([seenKey('m2')]);
  });
});

describe('dedup encoding', () => {
  it('round-trips ids and times', () => {
    const seen = new Map([
      [seenKey('a'), 1_700_000_000],
      [seenKey('b'), 0],
      [seenKey('c'), 0xffffffff],
    ]);
    const bytes = encodeSeen(seen);
    expect(bytes.byteLength).toBe(36);
    expect(decodeSeen(bytes)).toEqual(seen);
  });

  it('decodes from a view into a larger buffer (as the SDK hands binary attributes over)', () => {
    const bytes = encodeSeen(new Map([[seenKey('a'), 42]]));
    const backing = new Uint8Array(100);
    backing.set(bytes, 30);
    expect(decodeSeen(backing.subarray(30, 30 + bytes.byteLength))).toEqual(new Map([[seenKey('a'), 42]]));
  });

  it('decodes nothing from nothing', () => {
    expect(decodeSeen(undefined).size).toBe(0);
    expect(decodeSeen(new Uint8Array()).size).toBe(0);
    expect(encodeSeen(new Map()).byteLength).toBe(0);
  });

  it('uses 8-byte hashes that differ per id', () => {
    expect(seenKey('m1')).toMatch(/^[0-9a-f]{16}$/);
    expect(seenKey('m1')).toBe(seenKey('m1'));
    expect(seenKey('m1')).not.toBe(seenKey('m2'));
  });

  it('prunes by window, then keeps the newest maxIds', () => {
    const seen = new Map([
      ['01', 100],
      ['02', 200],
      ['03', 300],
      ['04', 400],
    ]);
    expect([...pruneSeen(seen, 450, 300, 10).keys()]).toEqual(['02', '03', '04']); // 150 is the cut-off, exclusive
    expect([...pruneSeen(seen, 450, 1000, 2).keys()].sort()).toEqual(['03', '04']);
  });
});

describe('settings from the environment', () => {
  it('round-trips through environment variables', () => {
    const custom: ProfileSettings = { anonymousTtlDays: 7, knownTtlDays: 100, dedupWindowHours: 48, dedupMaxIds: 500, affinityHalfLifeDays: 3.5, deviceLinking: true, consentRequired: true, personalizationCategory: 'c0004', analyticsCategory: 'c0002' };
    expect(profileSettingsFromEnv(profileSettingsToEnv(custom))).toEqual(custom);
    expect(profileSettingsFromEnv({})).toEqual(DEFAULT_PROFILE_SETTINGS);
  });

  it('refuses non-positive or non-numeric values', () => {
    const env = profileSettingsToEnv(DEFAULT_PROFILE_SETTINGS);
    const key = Object.keys(env)[0];
    expect(() => profileSettingsFromEnv({ ...env, [key]: '0' })).toThrow(key);
    expect(() => profileSettingsFromEnv({ ...env, [key]: 'abc' })).toThrow(key);
  });
});
