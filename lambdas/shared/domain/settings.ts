import { booleanEnv, ENV, numberEnv } from '../env';
import { consentCategory, ConsentSettings, DEFAULT_CONSENT_SETTINGS } from './consent';

/** Tunables of the profile reducer and store. Defaults live here once; the CDK config and the handlers both use them. */
export interface ProfileSettings extends ConsentSettings {
  /** Days an anonymous-only profile lives after its last write. */
  anonymousTtlDays: number;
  /** Days a profile with a `userId` lives after its last write (13 months by default). */
  knownTtlDays: number;
  /** How long a processed `messageId` is remembered, so a replay or a client retry within it changes nothing. */
  dedupWindowHours: number;
  /** Upper bound on remembered `messageId`s per profile (keeps the item small for very busy profiles). */
  dedupMaxIds: number;
  /** Half-life of category affinity: an interaction this old counts half as much as one now. */
  affinityHalfLifeDays: number;
  /**
   * Link an anonymous profile to the known user seen on the same `context.device.id` (its history only, never its
   * traits). Off by default: a shared device would mix two people's behaviour.
   */
  deviceLinking: boolean;
}

export const DEFAULT_PROFILE_SETTINGS: ProfileSettings = {
  anonymousTtlDays: 30,
  knownTtlDays: 395,
  dedupWindowHours: 7 * 24,
  dedupMaxIds: 2000,
  affinityHalfLifeDays: 14,
  deviceLinking: false,
  ...DEFAULT_CONSENT_SETTINGS,
};

/** Profile settings as the functions receive them: one environment variable per setting. */
export function profileSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ProfileSettings {
  const d = DEFAULT_PROFILE_SETTINGS;
  return {
    anonymousTtlDays: numberEnv(ENV.anonymousTtlDays, d.anonymousTtlDays, env),
    knownTtlDays: numberEnv(ENV.knownTtlDays, d.knownTtlDays, env),
    dedupWindowHours: numberEnv(ENV.dedupWindowHours, d.dedupWindowHours, env),
    dedupMaxIds: numberEnv(ENV.dedupMaxIds, d.dedupMaxIds, env),
    affinityHalfLifeDays: numberEnv(ENV.affinityHalfLifeDays, d.affinityHalfLifeDays, env),
    deviceLinking: booleanEnv(ENV.deviceLinking, d.deviceLinking, env),
    ...consentSettingsFromEnv(env),
  };
}

/** The environment variables that carry `settings`, for the CDK app to set on a function. */
export function profileSettingsToEnv(settings: ProfileSettings): Record<string, string> {
  return {
    [ENV.anonymousTtlDays]: String(settings.anonymousTtlDays),
    [ENV.knownTtlDays]: String(settings.knownTtlDays),
    [ENV.dedupWindowHours]: String(settings.dedupWindowHours),
    [ENV.dedupMaxIds]: String(settings.dedupMaxIds),
    [ENV.affinityHalfLifeDays]: String(settings.affinityHalfLifeDays),
    [ENV.deviceLinking]: String(settings.deviceLinking),
    ...consentSettingsToEnv(settings),
  };
}

/** The consent settings from the environment (the processor, the lake filter and the recommendation API need them). */
export function consentSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ConsentSettings {
  const d = DEFAULT_CONSENT_SETTINGS;
  return {
    consentRequired: booleanEnv(ENV.consentRequired, d.consentRequired, env),
    personalizationCategory: consentCategory(env[ENV.personalizationConsentCategory] || d.personalizationCategory),
    analyticsCategory: consentCategory(env[ENV.analyticsConsentCategory] || d.analyticsCategory),
  };
}

export function consentSettingsToEnv(settings: ConsentSettings): Record<string, string> {
  return {
    [ENV.consentRequired]: String(settings.consentRequired),
    [ENV.personalizationConsentCategory]: settings.personalizationCategory,
    [ENV.analyticsConsentCategory]: settings.analyticsCategory,
  };
}
