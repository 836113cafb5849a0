/**
 * Names shared by the CDK app (`lib/`) and the functions (`lambdas/`): environment variable keys and
 * table key schemas. Nothing here imports aws-cdk-lib, so handlers can bundle it.
 */

/** Environment variables the functions read. `lib/` sets exactly these. */
export const ENV = {
  profilesTable: 'PROFILES_TABLE_NAME',
  /** Identity links: every linked id → its canonical profile id. */
  identitiesTable: 'IDENTITIES_TABLE_NAME',
  /** `true` to link anonymous profiles to the known user of the same `context.device.id` (history only). */
  deviceLinking: 'IDENTITY_DEVICE_LINKING',
  /** `true`: a consent category nobody stated counts as denied (opt-in); `false`: as granted. */
  consentRequired: 'CONSENT_REQUIRED',
  /** Consent category (Segment `categoryPreferences` key) that allows personalization. */
  personalizationConsentCategory: 'CONSENT_CATEGORY_PERSONALIZATION',
  /** Consent category that allows an event into the analytics lake. */
  analyticsConsentCategory: 'CONSENT_CATEGORY_ANALYTICS',
  /** Firehose delivery stream (Direct PUT) that lands rejected events in the lake's `bad-events/` table. */
  badEventsDeliveryStream: 'BAD_EVENTS_DELIVERY_STREAM',
  eventStream: 'EVENT_STREAM_NAME',
  /** Segment definitions (`/v1/segments`). */
  segmentsTable: 'SEGMENTS_TABLE_NAME',
  /** Erasure requests (`DELETE /v1/profiles/{userId}`, `GET /v1/erasures/{id}`). */
  erasuresTable: 'ERASURES_TABLE_NAME',
  /** S3 bucket of the event lake (erasure rewrites its objects; export reads them). */
  lakeBucket: 'LAKE_BUCKET_NAME',
  /** Seconds an erasure waits before its lake step: events on their way to the lake have landed by then. */
  erasureSettleSeconds: 'ERASURE_SETTLE_SECONDS',
  /** EventBridge bus that segment entry and exit events are published to. */
  segmentEventBus: 'SEGMENT_EVENT_BUS_NAME',
  itemsTable: 'ITEMS_TABLE_NAME',
  /** The write keys, which the ingest function checks on the routes analytics.js posts to (key in the body). */
  writeKeySecret: 'WRITE_KEY_SECRET_ID',
  /** The credential an authorizer checks (the write keys, or the recommendation read keys). */
  keySecret: 'KEY_SECRET_ID',
  /** The API Gateway API key an authorizer returns as `usageIdentifierKey` (its credential's usage plan). */
  usageKey: 'USAGE_IDENTIFIER_KEY',
  /** Which credential an authorizer checks: `write` or `read` (in its logs and metrics). */
  credential: 'CREDENTIAL_NAME',
  anonymousTtlDays: 'PROFILE_TTL_ANONYMOUS_DAYS',
  knownTtlDays: 'PROFILE_TTL_KNOWN_DAYS',
  dedupWindowHours: 'DEDUP_WINDOW_HOURS',
  dedupMaxIds: 'DEDUP_MAX_IDS',
  affinityHalfLifeDays: 'AFFINITY_HALF_LIFE_DAYS',
  recommendConfig: 'RECOMMEND_CONFIG',
  personalizeTrackingId: 'PERSONALIZE_TRACKING_ID',
  personalizeCampaignArn: 'PERSONALIZE_CAMPAIGN_ARN',
  personalizeTimeoutMs: 'PERSONALIZE_TIMEOUT_MS',
  /** Athena workgroup the training job runs its aggregate query in (results location and limits are enforced there). */
  athenaWorkGroup: 'ATHENA_WORKGROUP',
  /** Glue database holding the lake's tables (`events`, `bad_events`). */
  lakeDatabase: 'LAKE_DATABASE',
  /** Days of events the scheduled training reads. */
  trainingWindowDays: 'TRAINING_WINDOW_DAYS',
  /** Days a trained model version's rows live. */
  modelRetentionDays: 'MODEL_RETENTION_DAYS',
  /**
   * Key of the pseudonyms that stand for personal values in every function's logs (`shared/log-privacy.ts`): one
   * secret value per deployment, the same on every function so that a person's lines correlate across them.
   */
  logHashSalt: 'LOG_HASH_SALT',
} as const;

/** Key schema of the profiles table: one item per profile, `pk` = profile id (see `profileIdOf`). */
export const PROFILES_KEY = { partitionKey: 'pk' } as const;
/** Key schema of the erasures table: one item per erasure request, `pk` = erasure id. */
export const ERASURES_KEY = { partitionKey: 'pk' } as const;
/** Key schema of the segments table: one item per segment definition, `pk` = segment id. */
export const SEGMENTS_KEY = { partitionKey: 'pk' } as const;
/**
 * The profiles table's index of profiles whose segment memberships are due for a timed check: sparse (only
 * profiles with a due time have `dueShard`), partitioned into `shards` shards so no key runs hot.
 */
export const SEGMENTS_DUE_INDEX = { indexName: 'segments-due', partitionKey: 'dueShard', sortKey: 'dueAt', shards: 8 } as const;
/** Key schema of the identities table: one item per linked id (`user#…`, `anon#…`, `device#…`). */
export const IDENTITIES_KEY = { partitionKey: 'pk' } as const;
/**
 * Key schema of the items table: one partition key, with a prefix per kind of item (see `store/items-table.ts`):
 * the catalog, the unavailable-items set, and each model version's manifest, neighbour lists and popularity lists.
 */
export const ITEMS_KEY = { partitionKey: 'pk' } as const;
/** Epoch-seconds attribute enabled as the DynamoDB TTL attribute on every table that expires items. */
export const TTL_ATTRIBUTE = 'expiresAt';

/** Reads a required environment variable, failing loudly at cold start rather than on the first request. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`Missing required environment variable ${name}`);
  return value;
}

/** Reads a positive number from the environment, or the default when unset. */
export function numberEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`Environment variable ${name} must be a positive number, got "${raw}"`);
  return value;
}

/** Reads `true` or `false` from the environment, or the default when unset. */
export function booleanEnv(name: string, fallback: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new Error(`Environment variable ${name} must be true or false, got "${raw}"`);
}
