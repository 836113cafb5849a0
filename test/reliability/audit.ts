import { forEachLimited } from '../../lambdas/shared/concurrency';
import { lakeObjects } from '../support/lake';
import { getProfile } from '../support/local-runtime';
import type { Ledger, SentEvent } from './traffic';

/**
 * Exact accounting of a reliability case: every event the platform accepted must be counted once in its person's
 * profile (read through the admin API) and be in the lake (`events/`, as Firehose delivers it) exactly once.
 */

/** What one person's profile must show, from the events the ledger says were accepted. */
interface Expected {
  counts: Record<string, number>;
  events: Record<string, number>;
  orders: number;
  /** Undefined once an order of unknown revenue was counted. */
  revenueCents: number | undefined;
}

export interface AuditResult {
  accepted: number;
  users: number;
  /** Accepted events missing from the profiles (counted per person, type and event name). */
  profileLost: number;
  /** Events counted more often than they were accepted. */
  profileDuplicated: number;
  /** Accepted events absent from the lake. */
  lakeMissing: number;
  /** Copies of an event in the lake beyond the first (readers de-duplicate by `messageId`; see the README). */
  lakeExtraCopies: number;
  /** Events in the lake with this case's prefix that were never accepted (a rejected event that got in anyway). */
  lakeUnexpected: number;
  /** Human-readable differences, the first few. */
  mismatches: string[];
  lost: number;
  duplicated: number;
}

export interface AuditOptions {
  baseUrl: string;
  lakeDir: string;
  ledger: Ledger;
  /** Message ids of this case (their prefix): lake lines of other cases are ignored. */
  prefix: string;
  /** Events the platform gave up on with a reason (its on-failure destination): not expected in profiles. */
  givenUp?: ReadonlySet<string>;
  /** Parallel profile reads. @default 8 */
  concurrency?: number;
}

function expectedProfiles(events: Iterable<SentEvent>, givenUp: ReadonlySet<string>): Map<string, Expected> {
  const expected = new Map<string, Expected>();
  for (const e of events) {
    if (givenUp.has(e.messageId)) continue;
    let x = expected.get(e.userId);
    if (!x) expected.set(e.userId, (x = { counts: {}, events: {}, orders: 0, revenueCents: 0 }));
    x.counts[e.type] = (x.counts[e.type] ?? 0) + 1;
    if (e.event !== undefined) x.events[e.event] = (x.events[e.event] ?? 0) + 1;
    if (e.event === 'Order Completed') {
      x.orders += 1;
      x.revenueCents = e.revenueCents === undefined || x.revenueCents === undefined ? undefined : x.revenueCents + e.revenueCents;
    }
  }
  return expected;
}

/** A person's profile as the admin API returns it; undefined when there is none (404). */
async function profileOf(baseUrl: string, userId: string): Promise<any | undefined> {
  const { status, body } = await getProfile(baseUrl, userId);
  if (status === 404) return undefined;
  if (status !== 200) throw new Error(`GET /v1/profiles/${userId}: ${status} ${JSON.stringify(body)}`);
  return body;
}

/** Differences between what a profile shows and what it must: events missing, events counted twice, and descriptions. */
function compare(userId: string, x: Expected, profile: any | undefined): { lost: number; duplicated: number; notes: string[] } {
  let lost = 0;
  let duplicated = 0;
  const notes: string[] = [];
  const tally = (what: string, want: number, got: number) => {
    if (want === got) return;
    if (got < want) lost += want - got;
    else duplicated += got - want;
    notes.push(`${userId} ${what}: expected ${want}, found ${got}`);
  };
  for (const type of new Set([...Object.keys(x.counts), ...Object.keys(profile?.counts ?? {})])) tally(`counts.${type}`, x.counts[type] ?? 0, profile?.counts?.[type] ?? 0);
  // Per event name and revenue too: a lost and a double-counted event of one person would cancel out in the counts.
  for (const name of new Set([...Object.keys(x.events), ...Object.keys(profile?.events ?? {})])) {
    const want = x.events[name] ?? 0;
    const got = profile?.events?.[name] ?? 0;
    if (want !== got) notes.push(`${userId} events["${name}"]: expected ${want}, found ${got}`);
  }
  if ((profile?.rfm?.frequency ?? 0) !== x.orders) notes.push(`${userId} rfm.frequency: expected ${x.orders}, found ${profile?.rfm?.frequency ?? 0}`);
  const cents = Math.round((profile?.rfm?.monetary ?? 0) * 100);
  if (x.revenueCents !== undefined && cents !== x.revenueCents) notes.push(`${userId} rfm.monetary: expected ${x.revenueCents / 100}, found ${cents / 100}`);
  return { lost, duplicated, notes };
}

/** Copies of each of the case's message ids in the lake's events table, reading every object as written. */
export function lakeCopies(lakeDir: string, prefix: string): Map<string, number> {
  const copies = new Map<string, number>();
  for (const object of lakeObjects(lakeDir, 'events')) {
    for (const line of object.lines) {
      const messageId = (JSON.parse(line) as { messageId?: unknown }).messageId;
      if (typeof messageId === 'string' && messageId.startsWith(`${prefix}-`)) copies.set(messageId, (copies.get(messageId) ?? 0) + 1);
    }
  }
  return copies;
}

/** Reads every person's profile and the lake, and counts what is lost, duplicated or unexpected. */
export async function audit(options: AuditOptions): Promise<AuditResult> {
  const givenUp = options.givenUp ?? new Set<string>();
  const expected = expectedProfiles(options.ledger.accepted.values(), givenUp);
  let profileLost = 0;
  let profileDuplicated = 0;
  const mismatches: string[] = [];
  await forEachLimited([...expected.keys()], options.concurrency ?? 8, async (userId) => {
    const result = compare(userId, expected.get(userId) as Expected, await profileOf(options.baseUrl, userId));
    profileLost += result.lost;
    profileDuplicated += result.duplicated;
    mismatches.push(...result.notes);
  });

  const copies = lakeCopies(options.lakeDir, options.prefix);
  let lakeMissing = 0;
  let lakeExtraCopies = 0;
  for (const messageId of options.ledger.accepted.keys()) {
    const n = copies.get(messageId) ?? 0;
    if (n === 0) lakeMissing += 1;
    else lakeExtraCopies += n - 1;
  }
  const lakeUnexpected = [...copies.keys()].filter((id) => !options.ledger.accepted.has(id)).length;
  if (lakeMissing > 0) mismatches.push(`${lakeMissing} accepted events are not in the lake`);
  if (lakeUnexpected > 0) mismatches.push(`${lakeUnexpected} events in the lake were never accepted`);
  return {
    accepted: options.ledger.accepted.size,
    users: expected.size,
    profileLost,
    profileDuplicated,
    lakeMissing,
    lakeExtraCopies,
    lakeUnexpected,
    mismatches: mismatches.slice(0, 20),
    lost: profileLost + lakeMissing,
    duplicated: profileDuplicated,
  };
}

/** One line of figures for a case's audit. */
export function describeAudit(name: string, result: AuditResult): string {
  return (
    `${name}: accepted=${result.accepted} users=${result.users} lost=${result.lost} duplicated=${result.duplicated} ` +
    `lake_missing=${result.lakeMissing} lake_extra_copies=${result.lakeExtraCopies} lake_unexpected=${result.lakeUnexpected}` +
    (result.mismatches.length > 0 ? `\n  ${result.mismatches.join('\n  ')}` : '')
  );
}
