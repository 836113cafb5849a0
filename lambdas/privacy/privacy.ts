import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ERASED, ErasureRecord, erasureNotices, ErasureSubject, erasureView, subjectOf, suppressionOf } from '../shared/domain/erasure';
import { RequestError } from '../shared/domain/errors';
import { profileIdOf } from '../shared/domain/profile';
import { toProfileView } from '../shared/domain/profile-view';
import { ProfileSettings } from '../shared/domain/settings';
import { dispatch, errorResponse, jsonResponse, pathParameter, Route } from '../shared/http';
import { personOf } from '../profiles/profiles';
import { readCanonicalProfile } from '../shared/store/canonical-profile';
import type { ErasureStore } from '../shared/store/erasure-store';
import type { IdentityStore } from '../shared/store/identity-store';
import { eraseFromLake, exportFromLake, LakeAccess } from '../shared/store/lake-eraser';
import type { ProfileDeleter, ProfileStore } from '../shared/store/profile-store';
import type { SegmentBus } from '../shared/store/segment-bus';

export interface PrivacyDeps {
  profiles: ProfileStore & ProfileDeleter;
  identities: IdentityStore;
  erasures: ErasureStore;
  lake: LakeAccess;
  bus: SegmentBus;
  settings: ProfileSettings;
  /** Seconds between a request and its lake step: the longest an accepted event takes to reach the lake. */
  settleSeconds: number;
  now: () => number;
  newId?: () => string;
  logger: Logger;
  metrics: Metrics;
}

export interface PrivacyApiDeps extends PrivacyDeps {
}

const ROUTES: Record<string, Record<string, Route<PrivacyApiDeps>>> = {
  '/v1/profiles/{userId}': { DELETE: requestErasure },
  '/v1/profiles/{userId}/export': { GET: exportPerson },
  '/v1/erasures/{erasureId}': { GET: getErasure },
};

/**
 * The privacy admin API (IAM authorization: SigV4-signed requests); `{userId}` addresses a person by any of their ids, as the profile
 * admin API does.
 * - `DELETE /v1/profiles/{userId}`: erases the person (see `erasure.ts`). Their profile and ids are gone at once;
 *   202 with the request's id, which `GET /v1/erasures/{id}` shows `pending` until the lake is clean too.
 * - `GET /v1/profiles/{userId}/export`: everything the platform holds on the person, as JSON: the profile (with
 *   consent, its history and segment memberships), their ids, and their events from the lake.
 */
export async function handlePrivacy(event: APIGatewayProxyEvent, deps: PrivacyApiDeps): Promise<APIGatewayProxyResult> {
  try {
    return await dispatch(event, ROUTES, deps, 'admin');
  } catch (error) {
    if (error instanceof RequestError) return errorResponse(error, 'admin');
    deps.logger.error('Privacy request failed', error as Error);
    return jsonResponse(500, { message: 'Internal error' });
  }
}

/** The person's canonical profile, or a 404 naming the id asked for. */
async function canonicalOf(event: APIGatewayProxyEvent, deps: PrivacyDeps) {
  const person = personOf(event);
  const found = await readCanonicalProfile(profileIdOf(person), deps, deps.now());
  if (!found.record || found.profileId === ERASED) {
    const [[idType, id]] = Object.entries(person);
    throw new RequestError(404, `No profile for ${idType} "${id}"`);
  }
  return found as { profileId: string; record: NonNullable<typeof found.record> };
}

async function requestErasure(event: APIGatewayProxyEvent, deps: PrivacyApiDeps): Promise<APIGatewayProxyResult> {
  const { profileId, record } = await canonicalOf(event, deps);
  const now = deps.now();
  const erasure: ErasureRecord = {
    erasureId: (deps.newId ?? randomUUID)(),
    status: 'pending',
    requestedAt: now,
    notBefore: now + deps.settleSeconds * 1000,
    subject: subjectOf(profileId, record),
    notices: erasureNotices(record, now),
    attempts: 0,
  };
  // Recorded first: from here on the worker completes the erasure even if this request stops half way.
  await deps.erasures.put(erasure);
  await eraseEverywhereButTheLake(erasure.subject as ErasureSubject, deps);
  deps.metrics.addMetric('ErasuresRequested', MetricUnit.Count, 1);
  deps.logger.info('Erasure requested', { erasureId: erasure.erasureId });
  return jsonResponse(202, erasureView(erasure), { Location: `/v1/erasures/${erasure.erasureId}` });
}

async function getErasure(event: APIGatewayProxyEvent, deps: PrivacyApiDeps): Promise<APIGatewayProxyResult> {
  const erasureId = pathParameter(event, 'erasureId');
  const erasure = await deps.erasures.get(erasureId);
  if (!erasure) throw new RequestError(404, `No erasure "${erasureId}"`);
  return jsonResponse(200, erasureView(erasure));
}

async function exportPerson(event: APIGatewayProxyEvent, deps: PrivacyApiDeps): Promise<APIGatewayProxyResult> {
  const { profileId, record } = await canonicalOf(event, deps);
  const now = deps.now();
  const subject = subjectOf(profileId, record);
  const events = await exportFromLake(new Set(subject.eventIds), deps.lake).catch((error: Error) => {
    // The lake query is bounded to fit API Gateway's 29 seconds: say so, rather than a bare 500.
    if (/did not finish within/.test(error.message)) {
      throw new RequestError(504, `The lake query for this export did not finish in time (${error.message}); retry, or query the lake in Athena`);
    }
    throw error;
  });
  deps.metrics.addMetric('ProfilesExported', MetricUnit.Count, 1);
  return jsonResponse(200, {
    exportedAt: new Date(now).toISOString(),
    profile: toProfileView(record, now, deps.settings.affinityHalfLifeDays),
    identities: { profileIds: subject.profileIds, deviceIds: subject.deviceIds, eventIds: subject.eventIds },
    events,
  });
}

/**
 * Every step of an erasure but the lake, each idempotent: the person's ids are suppressed (so no event of theirs
 * is applied or reaches the lake from now on), their device links deleted, their profiles deleted.
 */
async function eraseEverywhereButTheLake(subject: ErasureSubject, deps: PrivacyDeps): Promise<void> {
  const now = deps.now();
  await deps.identities.putAll(subject.profileIds.map((id) => suppressionOf(id, now)));
  await deps.identities.deleteAll(subject.deviceIds);
  await deps.profiles.deleteAll(subject.profileIds);
}

export interface ErasureRunStats {
  due: number;
  completed: number;
  /** Requests whose segment exits were just published: their lake step waits until those have landed too. */
  waiting: number;
  failed: number;
}

/**
 * The erasure worker (every minute): each pending request whose settle time has passed is carried out again in
 * full (a profile an in-flight event re-created meanwhile is deleted again); if it has segment exits to publish,
 * they are published and the lake step waits one more settle time (the exits reach the lake's `segment-events/`
 * through the bus, with the person's ids); then the person's lines are removed from the lake. Complete, the record
 * keeps only its status, times and counts. A failed request stays pending with its error and is taken again by
 * the next run.
 */
export async function runErasures(deps: PrivacyDeps): Promise<ErasureRunStats> {
  const due = await deps.erasures.listDue(deps.now());
  const stats: ErasureRunStats = { due: due.length, completed: 0, waiting: 0, failed: 0 };
  for (const erasure of due) {
    try {
      stats[(await advanceErasure(erasure, deps)) === 'complete' ? 'completed' : 'waiting'] += 1;
    } catch (error) {
      stats.failed += 1;
      deps.logger.error('Erasure step failed; retried next run', { erasureId: erasure.erasureId, error: (error as Error).message });
      await deps.erasures.put({ ...erasure, attempts: erasure.attempts + 1, lastError: (error as Error).message });
    }
  }
  deps.metrics.addMetric('ErasuresCompleted', MetricUnit.Count, stats.completed);
  deps.metrics.addMetric('ErasuresFailed', MetricUnit.Count, stats.failed);
  return stats;
}

async function advanceErasure(erasure: ErasureRecord, deps: PrivacyDeps): Promise<'waiting' | 'complete'> {
  const subject = erasure.subject as ErasureSubject;
  await eraseEverywhereButTheLake(subject, deps);
  if (erasure.notices?.length) {
    await deps.bus.publish(erasure.notices);
    // Published: never again, and the lake step waits for them to land.
    erasure.notices = [];
    erasure.notBefore = deps.now() + deps.settleSeconds * 1000;
    await deps.erasures.put(erasure);
    return 'waiting';
  }
  const lake = await eraseFromLake(new Set(subject.eventIds), deps.lake);
  const { subject: _erased, notices: _published, lastError: _cleared, ...rest } = erasure;
  await deps.erasures.put({
    ...rest,
    status: 'complete',
    completedAt: deps.now(),
    attempts: erasure.attempts + 1,
    result: { profilesDeleted: subject.profileIds.length, idsSuppressed: subject.profileIds.length, lake },
  });
  deps.logger.info('Erasure complete', { erasureId: erasure.erasureId, linesRemoved: lake.linesRemoved });
  return 'complete';
}
