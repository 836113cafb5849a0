import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { RequestError } from '../shared/domain/errors';
import { profileIdOf } from '../shared/domain/profile';
import { toProfileView } from '../shared/domain/profile-view';
import { ProfileSettings } from '../shared/domain/settings';
import { errorResponse, jsonResponse, pathParameter, requireKey } from '../shared/http';
import type { KeyStore } from '../shared/store/key-store';
import { ProfileStores, readCanonicalProfile } from '../shared/store/canonical-profile';

export interface GetProfileDeps extends ProfileStores {
  adminKeys: KeyStore;
  settings: ProfileSettings;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
}

/**
 * `GET /v1/profiles/{userId}` (admin key, HTTP Basic). `?idType=anonymousId` reads an anonymous visitor's
 * profile instead. Any id linked to a person reads that person's one profile (identity resolution). 404 when the
 * profile does not exist or has expired (even if DynamoDB has not deleted it yet).
 */
export async function handleGetProfile(event: APIGatewayProxyEvent, deps: GetProfileDeps): Promise<APIGatewayProxyResult> {
  try {
    await requireKey(event, deps.adminKeys, 'This route needs the admin key (HTTP Basic, key as the user name)');

    const id = pathParameter(event, 'userId');
    const idType = event.queryStringParameters?.idType ?? 'userId';
    if (idType !== 'userId' && idType !== 'anonymousId') throw new RequestError(400, 'idType must be userId or anonymousId');

    const now = deps.now();
    const { record } = await readCanonicalProfile(profileIdOf(idType === 'userId' ? { userId: id } : { anonymousId: id }), deps, now);
    deps.metrics.addMetric(record ? 'ProfilesServed' : 'ProfilesNotFound', MetricUnit.Count, 1);
    if (!record) throw new RequestError(404, `No profile for ${idType} "${id}"`);
    return jsonResponse(200, toProfileView(record, now, deps.settings.affinityHalfLifeDays));
  } catch (error) {
    if (error instanceof RequestError) return errorResponse(error, 'admin');
    deps.logger.error('Profile read failed', error as Error);
    return jsonResponse(500, { message: 'Internal error' });
  }
}
