import type { FirehoseTransformationEvent } from 'aws-lambda';
import { filterRecords, LakeFilterDeps, personLookup } from '../../lambdas/lake-filter/filter-records';
import { updateProfiles } from '../../lambdas/process/update-profiles';
import { CONSENT_EVENT, ConsentSettings, DEFAULT_CONSENT_SETTINGS } from '../../lambdas/shared/domain/consent';
import type { StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { filterLakeRecords, LakeDecision, LakeRecord, PersonLookup } from '../../lambdas/shared/domain/lake-filter';
import { DEFAULT_PROFILE_SETTINGS } from '../../lambdas/shared/domain/settings';
import { suppressionOf } from '../../lambdas/shared/domain/erasure';
import { readCanonicalProfile } from '../../lambdas/shared/store/canonical-profile';
import { DAY, HOUR, identify, MINUTE, T0, track } from '../support/events';
import { InMemoryIdentityStore } from '../support/in-memory-identity-store';
import { InMemoryProfileStore } from '../support/in-memory-profile-store';
import { disabledMetrics, recordMetrics, silentLogger } from '../support/powertools';

const NOW = T0 + DAY;
const OPT_IN: ConsentSettings = { ...DEFAULT_CONSENT_SETTINGS, consentRequired: true };
const prefs = (categoryPreferences: Record<string, boolean>) => ({ consent: { categoryPreferences } });
/** An operator's or a consent manager's statement, as the stream carries it. */
const statement = (ids: { userId?: string; anonymousId?: string }, categoryPreferences: Record<string, boolean>, at = T0) =>
  track(CONSENT_EVENT, {}, { ...ids, at, context: prefs(categoryPreferences) });
const viewed = (ids: { userId?: string; anonymousId?: string }, context?: Record<string, unknown>) =>
  track('Product Viewed', { product_id: 'p1' }, { ...ids, at: T0 + HOUR, ...(context ? { context } : {}) });

let records = 0;
/** A Firehose record of a stream event (its JSON and a newline, as the ingest function writes it), or of raw bytes. */
function recordOf(data: StreamEvent | string | Buffer): LakeRecord {
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(typeof data === 'string' ? data : `${JSON.stringify(data)}\n`);
  return { recordId: `record-${++records}`, data: bytes.toString('base64') };
}

/** Profile and identity stores with `history` processed by the real profile processor. */
async function storesWith(history: StreamEvent[]) {
  const profiles = new InMemoryProfileStore();
  const identities = new InMemoryIdentityStore();
  const { failed } = await updateProfiles(history, { profiles, identities, settings: DEFAULT_PROFILE_SETTINGS, now: () => NOW });
  expect(failed.size).toBe(0);
  return { profiles, identities };
}

/** The person lookup the lake filter function uses, counting calls and the most in flight at once. */
function lookupOver(stores: Awaited<ReturnType<typeof storesWith>>) {
  const calls: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const lookup: PersonLookup = async (profileId) => {
    calls.push(profileId);
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return await personLookup(stores, NOW)(profileId);
    } finally {
      inFlight -= 1;
    }
  };
  return { lookup, calls, maxInFlight: () => maxInFlight };
}

async function decide(history: StreamEvent[], events: Array<StreamEvent | string | Buffer>, settings = DEFAULT_CONSENT_SETTINGS) {
  const stores = await storesWith(history);
  const { lookup, calls } = lookupOver(stores);
  const input = events.map(recordOf);
  const decisions = await filterLakeRecords(input, { lookup, settings });
  return { decisions, results: decisions.map((d) => d.result), calls, input };
}

describe('filterLakeRecords: consent', () => {
  it("keeps or drops by the event's own statement, whatever the person's profile says", async () => {
    const history = [statement({ userId: 'u1' }, { analytics: false }), statement({ userId: 'u2' }, { analytics: true })];
    const { results } = await decide(history, [viewed({ userId: 'u1' }, prefs({ Analytics: true })), viewed({ userId: 'u2' }, prefs({ Analytics: false }))]);
    expect(results).toEqual(['Ok', 'Dropped']);
  });

  it('drops every event of an erased person, by any of their ids, even one that states consent', async () => {
    const stores = await storesWith([]);
    await stores.identities.putAll(['user#gone', 'anon#gone-phone'].map((id) => suppressionOf(id, T0)));
    const { lookup } = lookupOver(stores);
    const events = [viewed({ userId: 'gone' }), viewed({ anonymousId: 'gone-phone' }, prefs({ analytics: true })), viewed({ userId: 'here' })];
    const decisions = await filterLakeRecords(events.map(recordOf), { lookup, settings: DEFAULT_CONSENT_SETTINGS });
    expect(decisions.map((d) => d.result)).toEqual(['Dropped', 'Dropped', 'Ok']);
  });

  it("otherwise decides by the person's profile: granted, withdrawn, or never stated", async () => {
    const history = [
      statement({ userId: 'granted' }, { analytics: true }),
      statement({ userId: 'withdrawn' }, { analytics: true }, T0),
      statement({ userId: 'withdrawn' }, { analytics: false }, T0 + MINUTE),
      statement({ userId: 'other-category' }, { personalization: false }),
    ];
    const people = ['granted', 'withdrawn', 'other-category', 'no-profile'];
    const { results } = await decide(history, people.map((userId) => viewed({ userId })));
    expect(results).toEqual(['Ok', 'Dropped', 'Ok', 'Ok']);
  });

  it('opt-in: an unstated category is denied, and a statement still decides', async () => {
    const history = [statement({ userId: 'granted' }, { analytics: true }), statement({ userId: 'other-category' }, { personalization: true })];
    const events = [viewed({ userId: 'granted' }), viewed({ userId: 'other-category' }), viewed({ userId: 'no-profile' }), viewed({ userId: 'no-profile' }, prefs({ analytics: true }))];
    const { results } = await decide(history, events, OPT_IN);
    expect(results).toEqual(['Ok', 'Dropped', 'Dropped', 'Ok']);
  });

  it('reads the configured category, named as the consent manager names it', async () => {
    const settings = { ...DEFAULT_CONSENT_SETTINGS, analyticsCategory: 'c0002' };
    const history = [statement({ userId: 'u1' }, { C0002: false })];
    const { results } = await decide(history, [viewed({ userId: 'u1' }), viewed({ userId: 'u2' }, prefs({ C0002: false })), viewed({ userId: 'u3' }, prefs({ analytics: false }))], settings);
    expect(results).toEqual(['Dropped', 'Dropped', 'Ok']);
  });

  it('drops a withdrawal statement itself, and keeps one that states other categories only', async () => {
    const { results } = await decide([], [statement({ userId: 'u1' }, { Analytics: false, Personalization: true }), statement({ userId: 'u2' }, { Personalization: false })]);
    expect(results).toEqual(['Dropped', 'Ok']);
  });

  it("follows linked ids to the person's canonical profile", async () => {
    const history = [
      track('Product Viewed', { product_id: 'p0' }, { anonymousId: 'phone', at: T0 - HOUR }),
      identify({}, { userId: 'ada', anonymousId: 'phone', at: T0 - MINUTE }),
      statement({ userId: 'ada' }, { analytics: false }),
    ];
    const stores = await storesWith(history);
    expect((await readCanonicalProfile('anon#phone', stores, NOW)).profileId).toBe('user#ada');
    const { results, calls } = await decide(history, [viewed({ anonymousId: 'phone' }), viewed({ anonymousId: 'laptop' }), viewed({ userId: 'ada', anonymousId: 'laptop' })]);
    expect(results).toEqual(['Dropped', 'Ok', 'Dropped']);
    expect(calls.sort()).toEqual(['anon#laptop', 'anon#phone', 'user#ada']);
  });
});

describe('filterLakeRecords: records', () => {
  it('passes kept records unchanged, trailing newline included, in input order', async () => {
    const events = [viewed({ userId: 'u1' }), viewed({ userId: 'u2' }, prefs({ analytics: false })), viewed({ userId: 'u3' })];
    const { decisions, input } = await decide([], events);
    expect(decisions.map(({ recordId, data }) => ({ recordId, data }))).toEqual(input);
    const kept = decisions.filter((d) => d.result === 'Ok').map((d) => Buffer.from(d.data, 'base64').toString('utf8'));
    expect(kept).toEqual([`${JSON.stringify(events[0])}\n`, `${JSON.stringify(events[2])}\n`]);
  });

  it('fails records that are not stream events, with the reason, and decides the others', async () => {
    const noMessageId = { type: 'track', event: 'X', userId: 'u1', timestamp: new Date(T0).toISOString(), receivedAt: new Date(T0).toISOString(), sourceId: 's' };
    const { decisions } = await decide([], ['not json\n', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), `${JSON.stringify(noMessageId)}\n`, viewed({ userId: 'u1' })]);
    expect(decisions.map((d) => [d.result, (d as Extract<LakeDecision, { result: 'ProcessingFailed' }>).reason])).toEqual([
      ['ProcessingFailed', expect.stringMatching(/^Record data is not JSON/)],
      ['ProcessingFailed', 'Record data is not valid UTF-8'],
      ['ProcessingFailed', expect.stringMatching(/^messageId/)],
      ['Ok', undefined],
    ]);
  });

  it('reads each person once per batch, a bounded number at a time', async () => {
    const stores = await storesWith([]);
    const { lookup, calls, maxInFlight } = lookupOver(stores);
    const events = [
      ...['a', 'b', 'c', 'd', 'e'].flatMap((userId) => [viewed({ userId }), viewed({ userId })]),
      viewed({ userId: 'stated' }, prefs({ analytics: true })),
      viewed({ userId: 'stated' }, prefs({ analytics: false })),
    ];
    await filterLakeRecords(events.map(recordOf), { lookup, settings: DEFAULT_CONSENT_SETTINGS, concurrency: 2 });
    expect(calls.sort()).toEqual(['user#a', 'user#b', 'user#c', 'user#d', 'user#e', 'user#stated']);
    expect(maxInFlight()).toBe(2);
  });

  it('rejects the batch when a person cannot be read, rather than keep or drop on a guess', async () => {
    const stores = await storesWith([]);
    stores.profiles.beforeGet = () => {
      throw new Error('ProvisionedThroughputExceededException');
    };
    const { lookup } = lookupOver(stores);
    await expect(filterLakeRecords([recordOf(viewed({ userId: 'u1' }))], { lookup, settings: DEFAULT_CONSENT_SETTINGS })).rejects.toThrow('ProvisionedThroughputExceededException');
    // Even an event that states its consent: its person may have been erased.
    await expect(filterLakeRecords([recordOf(viewed({ userId: 'u1' }, prefs({ analytics: true })))], { lookup, settings: DEFAULT_CONSENT_SETTINGS })).rejects.toThrow(
      'ProvisionedThroughputExceededException',
    );
  });
});

describe('filterRecords (the transformation function)', () => {
  async function setup(history: StreamEvent[]) {
    const stores = await storesWith(history);
    const metrics = disabledMetrics();
    const recorded = recordMetrics(metrics);
    const logger = silentLogger();
    const warnings: unknown[][] = [];
    logger.warn = (...args: unknown[]) => void warnings.push(args);
    const deps: LakeFilterDeps = { ...stores, settings: DEFAULT_CONSENT_SETTINGS, now: () => NOW, logger, metrics };
    return { deps, recorded, warnings };
  }
  const transformationEvent = (input: LakeRecord[]): FirehoseTransformationEvent => ({
    invocationId: 'invocation-1',
    deliveryStreamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/events',
    region: 'us-east-1',
    records: input.map((r) => ({ ...r, approximateArrivalTimestamp: T0 })),
  });

  it('answers every record with its result and data, reading consent by any linked id, counts them, and logs why records failed', async () => {
    const { deps, recorded, warnings } = await setup([
      identify({}, { userId: 'withdrawn', anonymousId: 'phone', at: T0 - MINUTE }),
      statement({ userId: 'withdrawn' }, { analytics: false }),
    ]);
    const input = [viewed({ userId: 'withdrawn' }), viewed({ userId: 'u1' }), 'not json\n', viewed({ userId: 'u1' }, prefs({ analytics: false })), viewed({ anonymousId: 'phone' })].map(recordOf);
    const response = await filterRecords(transformationEvent(input), deps);
    expect(response).toEqual({
      records: [
        { recordId: input[0].recordId, result: 'Dropped', data: input[0].data },
        { recordId: input[1].recordId, result: 'Ok', data: input[1].data },
        { recordId: input[2].recordId, result: 'ProcessingFailed', data: input[2].data },
        { recordId: input[3].recordId, result: 'Dropped', data: input[3].data },
        { recordId: input[4].recordId, result: 'Dropped', data: input[4].data },
      ],
    });
    expect(Object.fromEntries(recorded)).toEqual({ LakeRecordsKept: 1, LakeRecordsDroppedNoConsent: 3, LakeRecordsFailed: 1, ConsentLookups: 3 });
    expect(warnings).toEqual([[expect.any(String), { count: 1, reasons: [{ recordId: input[2].recordId, reason: expect.stringMatching(/^Record data is not JSON/) }] }]]);
  });

  it('fails the invocation when the store fails, so that Firehose retries the batch', async () => {
    const { deps } = await setup([]);
    (deps.identities as InMemoryIdentityStore).getMany = async () => {
      throw new Error('identity table unavailable');
    };
    await expect(filterRecords(transformationEvent([recordOf(viewed({ userId: 'u1' }))]), deps)).rejects.toThrow('identity table unavailable');
  });
});
