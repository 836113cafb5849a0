import { forEachLimited } from '../concurrency';
import { ConsentSettings, ConsentState, eventPermits, statedPreferences } from './consent';
import { decodeStreamEvent, StreamEvent } from './event-schema';
import { profileIdOf } from './profile';

/**
 * The lake's consent filter: without analytics consent, an event does not reach the lake; nor does any later event
 * of an erased person (their ids are suppressed: `erasure.ts`). Such events are dropped,
 * not de-identified: `properties`, `traits` and `context` can carry personal data (an email in a search query, an
 * address in a form) that no generic scrub removes reliably.
 *
 * It decides, for each record of a Firehose batch (the data of one Kinesis record: a stream event's JSON and a
 * newline):
 * - `ProcessingFailed` when the record is not a stream event (not UTF-8, not JSON, or refused by
 *   `StreamEventSchema`): Firehose keeps it in its `processing-failed` error output, out of the lake's tables;
 * - otherwise `Ok` (the data unchanged, newline included) or `Dropped`, by `eventPermits` for the analytics
 *   category: what the event states itself (consent managers stamp every event, and the consent event carries
 *   its own statement), otherwise the person's consent as their canonical profile holds it when the batch is
 *   filtered, otherwise the settings' default (granted unless `consentRequired`).
 *
 * Each person is looked up once per batch (whatever their events state, since an erased person's events are dropped
 * even with consent). A lookup that fails rejects the whole batch: nothing is kept or dropped on a guess, and Firehose retries the batch.
 */

/** A record as Firehose hands it to the transformation: its id and its data, base64. */
export interface LakeRecord {
  recordId: string;
  data: string;
}

export type LakeResult = 'Ok' | 'Dropped' | 'ProcessingFailed';

/** The decision on one record; `data` is the input's, unchanged. */
export type LakeDecision = LakeRecord &
  (
    | { result: 'Ok' }
    | { result: 'Dropped' }
    /** Why the record is not a stream event. */
    | { result: 'ProcessingFailed'; reason: string }
  );

/** What the lake needs to know about a person, read once per batch. */
export interface LakePerson {
  /** The person's consent now (their canonical profile's); undefined when they have no live profile. */
  consent?: ConsentState;
  /** The person was erased: none of their events may reach the lake. */
  erased?: boolean;
}

/** Reads a person by any of their profile ids (`profileIdOf`). Rejects when the store fails. */
export type PersonLookup = (profileId: string) => Promise<LakePerson>;

export interface LakeFilterOptions {
  lookup: PersonLookup;
  settings: ConsentSettings;
  /** People looked up in parallel. @default 16 */
  concurrency?: number;
}

/** The verdict on every record, in input order. */
export async function filterLakeRecords(records: readonly LakeRecord[], options: LakeFilterOptions): Promise<LakeDecision[]> {
  const parsed = records.map((record) => parseRecord(record));
  const people = await lookUpPeople(parsed.flatMap((p) => ('event' in p ? [p.event] : [])), options);
  return parsed.map((p): LakeDecision => {
    if (!('event' in p)) return { ...p.record, result: 'ProcessingFailed', reason: p.reason };
    return { ...p.record, result: keeps(p.stated, people.get(profileIdOf(p.event)), options.settings) ? 'Ok' : 'Dropped' };
  });
}

type Stated = Record<string, boolean> | undefined;
type ParsedRecord = { record: LakeRecord } & ({ event: StreamEvent; stated: Stated } | { reason: string });

function parseRecord(record: LakeRecord): ParsedRecord {
  const decoded = decodeStreamEvent(Buffer.from(record.data, 'base64'));
  return 'event' in decoded ? { record, event: decoded.event, stated: statedPreferences(decoded.event.context) } : { record, reason: decoded.reason };
}

/** Whether an event may be kept in the lake: its person not erased, and analytics consent. */
function keeps(stated: Stated, person: LakePerson | undefined, settings: ConsentSettings): boolean {
  return !person?.erased && eventPermits(stated, person?.consent, settings.analyticsCategory, settings);
}

/** Each distinct person of the batch, read once, `concurrency` at a time; the first failure rejects. */
async function lookUpPeople(events: readonly StreamEvent[], options: LakeFilterOptions): Promise<Map<string, LakePerson>> {
  const profileIds = [...new Set(events.map((event) => profileIdOf(event)))];
  const people = new Map<string, LakePerson>();
  await forEachLimited(profileIds, options.concurrency ?? 16, async (profileId) => {
    people.set(profileId, await options.lookup(profileId));
  });
  return people;
}
