import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ADMIN_SOURCE_ID, CONSENT_EVENT, CONSENT_LIMITS } from '../shared/domain/consent';
import { RequestError } from '../shared/domain/errors';
import { StreamEvent } from '../shared/domain/event-schema';
import { validateMessage } from '../shared/domain/ingestion';
import { isPlainObject } from '../shared/domain/json';
import { profileIdOf } from '../shared/domain/profile';
import { toProfileView } from '../shared/domain/profile-view';
import { ProfileSettings } from '../shared/domain/settings';
import { checkContentType, dispatch, errorResponse, jsonResponse, parseJson, pathParameter, readBody, Route } from '../shared/http';
import { ProfileStores, readCanonicalProfile } from '../shared/store/canonical-profile';
import type { EventStream } from '../shared/store/event-stream';

export interface ProfilesDeps extends ProfileStores {
  /** Where admin consent statements go: the same stream as every event, so they are processed in line with them. */
  events: EventStream;
  settings: ProfileSettings;
  now: () => number;
  newId?: () => string;
  logger: Logger;
  metrics: Metrics;
}

const ROUTES: Record<string, Record<string, Route<ProfilesDeps>>> = {
  '/v1/profiles/{userId}': { GET: getProfile },
  '/v1/profiles/{userId}/consent': { PUT: putConsent },
};

/** A consent body is a few hundred bytes: anything much larger is a mistake. */
const MAX_CONSENT_BODY_BYTES = 16 * 1024;

/**
 * The profile admin API (IAM authorization: SigV4-signed requests). `{userId}` is a user id, or with `?idType=anonymousId` an
 * anonymous id; any id linked to a person addresses that person (identity resolution).
 * - `GET /v1/profiles/{userId}`: the profile view. 404 when there is none, or it has expired (even if DynamoDB
 *   has not deleted it yet).
 * - `PUT /v1/profiles/{userId}/consent` with `{ "categoryPreferences": { "Personalization": false, … } }`:
 *   records the person's consent as stated by the operator (source `admin` in the audit trail). 202: the
 *   statement is on the stream and applies once processed, in line with the person's events.
 */
export async function handleProfiles(event: APIGatewayProxyEvent, deps: ProfilesDeps): Promise<APIGatewayProxyResult> {
  try {
    return await dispatch(event, ROUTES, deps, 'admin');
  } catch (error) {
    if (error instanceof RequestError) return errorResponse(error, 'admin');
    deps.logger.error('Profile request failed', error as Error);
    return jsonResponse(500, { message: 'Internal error' });
  }
}

/** The person a request addresses (`{userId}`, or with `?idType=anonymousId` an anonymous id), as the ids of an event. */
export function personOf(event: APIGatewayProxyEvent): { userId: string } | { anonymousId: string } {
  const id = pathParameter(event, 'userId');
  const idType = event.queryStringParameters?.idType ?? 'userId';
  if (idType !== 'userId' && idType !== 'anonymousId') throw new RequestError(400, 'idType must be userId or anonymousId');
  return idType === 'userId' ? { userId: id } : { anonymousId: id };
}

async function getProfile(event: APIGatewayProxyEvent, deps: ProfilesDeps): Promise<APIGatewayProxyResult> {
  const person = personOf(event);
  const now = deps.now();
  const { record } = await readCanonicalProfile(profileIdOf(person), deps, now);
  deps.metrics.addMetric(record ? 'ProfilesServed' : 'ProfilesNotFound', MetricUnit.Count, 1);
  if (!record) {
    const [[idType, id]] = Object.entries(person);
    throw new RequestError(404, `No profile for ${idType} "${id}"`);
  }
  return jsonResponse(200, toProfileView(record, now, deps.settings.affinityHalfLifeDays));
}

async function putConsent(event: APIGatewayProxyEvent, deps: ProfilesDeps): Promise<APIGatewayProxyResult> {
  const person = personOf(event);
  checkContentType(event, new Set(['application/json']), 'application/json');
  const preferences = parseConsentBody(parseJson(readBody(event, MAX_CONSENT_BODY_BYTES)));
  const now = deps.now();
  const message = {
    type: 'track',
    event: CONSENT_EVENT,
    ...person,
    messageId: `consent-${(deps.newId ?? randomUUID)()}`,
    timestamp: new Date(now).toISOString(),
    context: { consent: { categoryPreferences: preferences } },
  };
  const statement = validateMessage(message, { receivedAt: now, sourceId: ADMIN_SOURCE_ID });
  if (typeof statement === 'string') throw new RequestError(400, statement);
  const { failed, lastError } = await deps.events.put([statement as StreamEvent]);
  if (failed.length > 0) {
    deps.logger.warn('Consent statement not written', { error: lastError });
    return jsonResponse(503, { message: 'The consent statement could not be written; retry the request' }, { 'Retry-After': '1' });
  }
  deps.metrics.addMetric('ConsentStatements', MetricUnit.Count, 1);
  return jsonResponse(202, { messageId: message.messageId, categoryPreferences: preferences });
}

/** `{ categoryPreferences: { <category>: boolean, … } }`, with every problem named. */
function parseConsentBody(body: unknown): Record<string, boolean> {
  const preferences = isPlainObject(body) ? body.categoryPreferences : undefined;
  if (!isPlainObject(preferences)) throw new RequestError(400, 'Body must be {"categoryPreferences": {"<category>": true|false, …}}');
  const entries = Object.entries(preferences);
  const problems = [
    ...(entries.length === 0 ? ['categoryPreferences must name at least one category'] : []),
    ...(entries.length > CONSENT_LIMITS.categories ? [`categoryPreferences may name at most ${CONSENT_LIMITS.categories} categories`] : []),
    ...entries.flatMap(([name, value]) => [
      ...(typeof value !== 'boolean' ? [`categoryPreferences.${name} must be true or false`] : []),
      ...(name.trim() === '' || name.trim().length > CONSENT_LIMITS.categoryLength ? [`category "${name}" must be 1 to ${CONSENT_LIMITS.categoryLength} characters`] : []),
    ]),
  ];
  if (problems.length > 0) throw new RequestError(400, problems.join('; '));
  return preferences as Record<string, boolean>;
}
