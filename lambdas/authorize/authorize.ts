import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { RequestError } from '../shared/domain/errors';
import { sourceIdOf } from '../shared/domain/ingestion';
import { basicAuthUser, header } from '../shared/http';
import type { KeyStore } from '../shared/store/key-store';

export interface AuthorizeDeps {
  /** The credential this authorizer checks (the write keys, or the read keys). */
  keys: KeyStore;
  /**
   * The API Gateway API key of this credential's usage plan: returned as `usageIdentifierKey`, so the plan's
   * throttle and quota apply to every caller of the credential. Not a secret: with the API's key source set to
   * AUTHORIZER, API Gateway takes it only from this function, never from a client.
   */
  usageKey: string;
  logger: Logger;
  metrics: Metrics;
}

/** How API Gateway is told to answer 401 (its UNAUTHORIZED gateway response); any other error is a 500. */
const UNAUTHORIZED = 'Unauthorized';

/**
 * A REQUEST authorizer: allows the caller whose `Authorization: Basic` user name is one of the credential's keys
 * (how Segment SDKs send the write key). API Gateway caches the answer per Authorization header for the
 * authorizer's TTL, so the policy allows every method of the stage this authorizer guards, not just the one
 * asked for. The context carries the key's non-secret `sourceId` to the function.
 *
 * A missing, malformed or unknown key throws `Unauthorized` (401). A failure to read the keys is thrown as it
 * is: API Gateway answers 500 and does not cache it.
 */
export async function authorize(event: APIGatewayRequestAuthorizerEvent, deps: AuthorizeDeps): Promise<APIGatewayAuthorizerResult> {
  let key: string | undefined;
  try {
    key = basicAuthUser(header(event, 'authorization'));
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
  }
  if (key === undefined || !(await deps.keys.matches(key))) {
    deps.metrics.addMetric('KeysRejected', MetricUnit.Count, 1);
    deps.logger.info('Key rejected', { reason: key === undefined ? 'missing or not HTTP Basic' : 'unknown key' });
    throw new Error(UNAUTHORIZED);
  }
  const sourceId = sourceIdOf(key);
  deps.metrics.addMetric('KeysAccepted', MetricUnit.Count, 1);
  return {
    principalId: sourceId,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: stageWide(event.methodArn) }] },
    context: { sourceId },
    usageIdentifierKey: deps.usageKey,
  };
}

/** `arn:…:execute-api:region:account:apiId/stage/METHOD/path` → `arn:…:apiId/stage/*`: every method of the stage. */
export function stageWide(methodArn: string): string {
  const [api, stage] = methodArn.split('/');
  if (!api?.includes(':execute-api:') || !stage) throw new Error(`Not a method ARN: ${methodArn}`);
  return `${api}/${stage}/*`;
}
