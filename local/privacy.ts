import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { handlePrivacy, PrivacyDeps, runErasures } from '../lambdas/privacy/privacy';
import { profileSettingsFromEnv } from '../lambdas/shared/domain/settings';
import { ENV, requireEnv } from '../lambdas/shared/env';
import { createLogger } from '../lambdas/shared/instrumentation';
import { DynamoDbErasureStore } from '../lambdas/shared/store/erasure-store';
import { DynamoDbIdentityStore } from '../lambdas/shared/store/identity-store';
import { DynamoDbProfileStore } from '../lambdas/shared/store/profile-store';
import { EventBridgeSegmentBus } from '../lambdas/shared/store/segment-bus';
import { localDynamoDb, localEventBridge } from './clients';
import type { Emulators } from './emulators';
import type { LambdaHost } from './lambda-host';
import { localLake } from './lake-objects';
import type { LocalModel } from './template-model';

/** The privacy functions, by their Powertools service name (`lib/constructs/privacy.ts`). */
const PRIVACY_API = 'privacy-api';
const ERASURE_WORKER = 'erasure-worker';

/**
 * The privacy API and the erasure worker, run in-process: they find and rewrite lake objects through Athena and
 * S3, which have no local emulator, so locally they get the same code (`privacy.ts`) with the local lake in their
 * place (DuckDB finds the objects, files are rewritten atomically: `lake-objects.ts`), and everything else (tables,
 * the segment bus) through the emulators under the names of the template, as the bundles would.
 */
export function standInPrivacyFunctions(
  model: LocalModel,
  lambdas: LambdaHost,
  endpoints: Emulators['endpoints'],
  lakeDir: string,
  options: { erasureSettleSeconds: number; logLevel: string },
): void {
  for (const fn of model.functions) {
    const service = fn.environment.POWERTOOLS_SERVICE_NAME;
    if (service !== PRIVACY_API && service !== ERASURE_WORKER) continue;
    const env = lambdas.environmentOf(fn.logicalId);
    const deps = privacyDeps(env, endpoints, lakeDir, options);
    // The API's callers are authorized by API Gateway (IAM), before the function runs.
    if (service === ERASURE_WORKER) lambdas.standIn(fn.logicalId, () => runErasures(deps));
    else lambdas.standIn(fn.logicalId, (event) => handlePrivacy(event as APIGatewayProxyEvent, deps));
  }
}

function privacyDeps(env: Record<string, string>, endpoints: Emulators['endpoints'], lakeDir: string, options: { erasureSettleSeconds: number; logLevel: string }): PrivacyDeps {
  const dynamodb = localDynamoDb(endpoints.dynamodb);
  return {
    profiles: new DynamoDbProfileStore(dynamodb, requireEnv(ENV.profilesTable, env)),
    identities: new DynamoDbIdentityStore(dynamodb, requireEnv(ENV.identitiesTable, env)),
    erasures: new DynamoDbErasureStore(dynamodb, requireEnv(ENV.erasuresTable, env)),
    lake: localLake(lakeDir),
    bus: new EventBridgeSegmentBus(localEventBridge(endpoints.eventBridge), requireEnv(ENV.segmentEventBus, env)),
    settings: profileSettingsFromEnv(env),
    // The local lake writer delivers within a second or two: no need to wait Firehose's buffer.
    settleSeconds: options.erasureSettleSeconds,
    now: Date.now,
    logger: createLogger({ serviceName: env.POWERTOOLS_SERVICE_NAME, logLevel: options.logLevel as 'INFO' }),
    metrics: disabledMetrics(env.POWERTOOLS_SERVICE_NAME),
  };
}

/** Metrics that are never emitted, as for every local function (Powertools reads the switch from the environment when built). */
function disabledMetrics(serviceName: string): Metrics {
  const before = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  try {
    return new Metrics({ namespace: 'Personalization', serviceName });
  } finally {
    if (before === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = before;
  }
}
