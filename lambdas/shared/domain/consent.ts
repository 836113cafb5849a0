import { isPlainObject, own, setOwn } from './json';

/**
 * Consent per purpose, in Segment's format: `context.consent.categoryPreferences` maps consent categories (as the
 * site's consent manager names them: "Analytics", "Personalization", "C0004" …) to true or false. Every event
 * that carries it is a statement of the person's preferences at the event's time; an operator can state them too
 * (`PUT /v1/profiles/{userId}/consent`, which sends Segment's own "Segment Consent Preference Updated" event
 * with the admin source).
 *
 * The profile keeps, per category, the latest statement (last-writer-wins on the event's time and messageId, so
 * the effective consent is the same whatever the order events are processed in) and an audit trail: each
 * distinct statement (category, granted or not, source) with the first and last time it was made.
 *
 * Two categories are enforced (their names are configurable): personalization and analytics. An unstated
 * category counts as granted unless consent is `required` (opt-in regimes such as the GDPR's).
 */

/** Segment's event for a change of consent preferences. */
export const CONSENT_EVENT = 'Segment Consent Preference Updated';
/** `sourceId` of events the admin API writes: their statements are recorded with source `admin`. */
export const ADMIN_SOURCE_ID = 'admin-api';

export const CONSENT_LIMITS = { categories: 32, categoryLength: 64 } as const;

export type ConsentSource = 'event' | 'admin';
/** Event time in ms, then `messageId`. */
type Stamp = [number, string];

export interface ConsentEntry {
  granted: boolean;
  stamp: Stamp;
  source: ConsentSource;
}

export interface ConsentState {
  /** The latest statement per category (lowercased). */
  categories: Record<string, ConsentEntry>;
  /** Audit trail: `category|granted|source` → the first and last time that statement was made. */
  statements: Record<string, { first: Stamp; last: Stamp }>;
}

export interface ConsentSettings {
  /** Whether an unstated category counts as denied (opt-in) rather than granted (opt-out). */
  consentRequired: boolean;
  /** The category that allows building and using the profile's personalization features. */
  personalizationCategory: string;
  /** The category that allows the event into the analytics lake. */
  analyticsCategory: string;
}

/** Opt-out, with the categories named as most consent managers name them. */
export const DEFAULT_CONSENT_SETTINGS: ConsentSettings = { consentRequired: false, personalizationCategory: 'personalization', analyticsCategory: 'analytics' };

export const emptyConsent = (): ConsentState => ({ categories: {}, statements: {} });

/** A category name as stored and compared: trimmed, lowercased. */
export const consentCategory = (name: string) => name.trim().toLowerCase();

/** The preferences an event states (category → granted), or undefined when it states none. Invalid entries are ignored. */
export function statedPreferences(context: unknown): Record<string, boolean> | undefined {
  const consent = isPlainObject(context) ? context.consent : undefined;
  const preferences = isPlainObject(consent) ? consent.categoryPreferences : undefined;
  if (!isPlainObject(preferences)) return undefined;
  const stated: Record<string, boolean> = {};
  for (const [name, value] of Object.entries(preferences)) {
    const category = consentCategory(name);
    if (typeof value !== 'boolean' || category === '' || category.length > CONSENT_LIMITS.categoryLength) continue;
    if (Object.keys(stated).length >= CONSENT_LIMITS.categories) break;
    setOwn(stated, category, value);
  }
  return Object.keys(stated).length > 0 ? stated : undefined;
}

/** Records an event's statements (mutates `consent`). */
export function applyStatements(consent: ConsentState, stated: Record<string, boolean>, stamp: Stamp, source: ConsentSource): void {
  for (const [category, granted] of Object.entries(stated)) {
    record(consent, category, { granted, stamp, source });
    audit(consent, `${category}|${granted}|${source}`, stamp, stamp);
  }
}

/** Merges another profile's consent into `into` (mutates it): the same as having seen both sets of statements. */
export function mergeConsent(into: ConsentState, from: ConsentState): void {
  for (const [category, entry] of Object.entries(from.categories)) record(into, category, entry);
  for (const [key, { first, last }] of Object.entries(from.statements)) audit(into, key, first, last);
}

/** Whether `category` is granted by the profile's latest statement (or, unstated, by the default). */
export function isGranted(consent: ConsentState | undefined, category: string, settings: ConsentSettings): boolean {
  const entry = consent && own(consent.categories, category);
  return entry ? entry.granted : !settings.consentRequired;
}

/**
 * Whether an event may be used for `category`: by what the event itself states if it states it (consent
 * managers stamp every event), otherwise by the profile's consent when it is processed.
 */
export function eventPermits(stated: Record<string, boolean> | undefined, consent: ConsentState | undefined, category: string, settings: ConsentSettings): boolean {
  return statedConsent(stated, category) ?? isGranted(consent, category, settings);
}

/** What an event states for `category` (true or false), or undefined when it does not state it. */
export function statedConsent(stated: Record<string, boolean> | undefined, category: string): boolean | undefined {
  return stated && own(stated, category);
}

/** One line of the audit trail: a statement and the first and last time it was made (epoch ms). */
export interface ConsentStatement {
  category: string;
  granted: boolean;
  source: ConsentSource;
  firstAt: number;
  lastAt: number;
}

/** The audit trail, oldest first. */
export function auditTrail(consent: ConsentState | undefined): ConsentStatement[] {
  return Object.entries(consent?.statements ?? {})
    .map(([key, { first, last }]) => {
      // `category|granted|source`: the category itself may contain `|`.
      const [source, granted, ...category] = key.split('|').reverse();
      return { category: category.reverse().join('|'), granted: granted === 'true', source: source as ConsentSource, firstAt: first[0], lastAt: last[0] };
    })
    .sort((a, b) => a.firstAt - b.firstAt || (a.category < b.category ? -1 : 1));
}

function record(consent: ConsentState, category: string, entry: ConsentEntry): void {
  const current = own(consent.categories, category);
  if (current && compare(entry.stamp, current.stamp) <= 0) return;
  if (!current && Object.keys(consent.categories).length >= CONSENT_LIMITS.categories) return;
  setOwn(consent.categories, category, entry);
}

function audit(consent: ConsentState, key: string, first: Stamp, last: Stamp): void {
  const current = own(consent.statements, key);
  // Bounded like the categories: two values and two sources per category.
  if (!current && Object.keys(consent.statements).length >= CONSENT_LIMITS.categories * 4) return;
  const value = current
    ? { first: compare(first, current.first) < 0 ? first : current.first, last: compare(last, current.last) > 0 ? last : current.last }
    : { first, last };
  setOwn(consent.statements, key, value);
}

function compare(a: Stamp, b: Stamp): number {
  return a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
}
