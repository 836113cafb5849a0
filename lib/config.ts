import { consentCategory, CONSENT_LIMITS } from '../lambdas/shared/domain/consent';
import { RecommendConfig, resolveRecommendConfig } from '../lambdas/shared/domain/recommend-config';
import { DEFAULT_PROFILE_SETTINGS, ProfileSettings } from '../lambdas/shared/domain/settings';

/**
 * Deployment settings, read from CDK context: `cdk deploy -c knownTtlDays=365 -c processorBatchSize=1000`
 * (or a `context` block in cdk.json). Every setting has a default; invalid values stop the synth with a message.
 */
export interface PlatformConfig {
  profiles: ProfileSettings;
  processor: {
    /** Records per processor invocation (Lambda allows up to 10,000). @default 500 */
    batchSize: number;
    /** How long Lambda may wait to fill a batch; larger batches coalesce more writes, at some latency. @default 1 */
    maxBatchingWindowSeconds: number;
    /** Retries of a failing batch before its records go to the failure queue. @default 10 */
    retryAttempts: number;
    /** Records older than this go to the failure queue instead of being retried. @default 6 */
    maxRecordAgeHours: number;
  };
  /** Hours the stream keeps records (24 to 8760). @default 24 */
  streamRetentionHours: number;
  api: {
    /** API Gateway stage; part of the URL. @default 'prod' */
    stageName: string;
    /** Steady-state requests per second across the API. @default 1000 */
    throttlingRateLimit: number;
    /** Burst of requests above the steady rate. @default 2000 */
    throttlingBurstLimit: number;
    /** Every caller of the write key together, on the routes its authorizer guards. @default 1000 per second, burst 2000, no quota */
    writeKeyUsage: UsageLimits;
    /** Every caller of the read key together (recommendations). @default 500 per second, burst 1000, no quota */
    readKeyUsage: UsageLimits;
    /**
     * An AWS WAF web ACL on the stage (it has a monthly cost): a rate-based rule blocks an IP address that sends more
     * than `rateLimitPer5Minutes` requests in any 5 minutes, and AWS's IP reputation list blocks known bad sources.
     * @default off, 10000 requests per 5 minutes when on
     */
    waf: { enabled: boolean; rateLimitPer5Minutes: number };
  };
  /**
   * Strategy, scoring weights, business rules and an optional A/B experiment of the recommendation API
   * (README, "Rules and experiments"). A JSON object in cdk.json, or a JSON string with `-c`. @default {}
   */
  recommendations: RecommendConfig;
  /** Days a trained model version's rows live; training must run more often than this. @default 30 */
  modelRetentionDays: number;
  /** Days events stay in the lake (`events/`); after 30 days they move to S3 Intelligent-Tiering. @default 730 */
  lakeRetentionDays: number;
  /** Days rejected events stay in the lake (`bad-events/`). @default 90 */
  badEventsRetentionDays: number;
  /** Seconds Firehose buffers events before writing a lake object (0 to 900): freshness against object count. @default 60 */
  lakeBufferSeconds: number;
  /**
   * Glue database of the lake's tables: lowercase letters, digits and `_`, not starting with `_`.
   * @default - the stack name lowercased, other characters as `_`, plus `_lake` (`personalization_lake`)
   */
  lakeDatabaseName?: string;
  /** Most data one Athena query may scan, in GB (2^30 bytes); Athena cancels a query past it. @default 200 */
  athenaBytesScannedCutoffGb: number;
  /** Days Athena query results are kept. @default 7 */
  athenaResultsRetentionDays: number;
  /** EventBridge schedule of model training, `rate(...)` or `cron(...)`. @default 'rate(1 day)' */
  trainingSchedule: string;
  /** Whether the training schedule runs; when off the trainer can still be invoked by hand. @default true */
  trainingEnabled: boolean;
  /** Days of events each training run reads (at most `lakeRetentionDays`). @default 90 */
  trainingWindowDays: number;
  /** Amazon Personalize, off unless ids are given. */
  personalize: {
    /** Event tracker's tracking id: forward interactions to Personalize with PutEvents. */
    trackingId?: string;
    /** Campaign ARN: makes the `personalize` strategy available to the recommendation API. */
    campaignArn?: string;
    /** How long a request waits for Personalize before serving the built-in strategy. @default 150 */
    timeoutMs: number;
  };
  /** Days function and API logs are kept. @default 30 */
  logRetentionDays: number;
  /** An email address subscribed to the alarm topic (it must confirm the subscription). @default - none: subscribe after deploying */
  alarmEmail?: string;
  /** Alarm when the model serving recommendations is older than this many hours (training stopped). @default 48 */
  modelMaxAgeHours: number;
  /** Delete tables and buckets (with their objects) with the stack (`cdk destroy`). Off by default: profiles and the lake survive a stack deletion. @default false */
  destroyData: boolean;
  /**
   * Who holds the keys that encrypt the data at rest (the event stream, the tables, the lake and Athena results
   * buckets, the failure queues). `customer-managed`: one KMS key of the stack, rotated yearly, that every
   * principal must be granted explicitly (its use is in CloudTrail; disabling it locks the data); about $1 a month
   * plus its requests. `aws-managed`: the services' own keys (AWS-managed KMS keys for the stream and the tables,
   * SSE-S3 for the buckets, SSE-SQS for the queues), at no key cost. (S3 server access logs always use SSE-S3: log
   * delivery supports no other default encryption.)
   * @default 'customer-managed'
   */
  encryption: EncryptionMode;
}

/** The values of `encryption`. */
export const ENCRYPTION_MODES = ['customer-managed', 'aws-managed'] as const;
export type EncryptionMode = (typeof ENCRYPTION_MODES)[number];

/** Requests per second, burst and daily quota of every caller of one credential together (its usage plan). */
export interface UsageLimits {
  rateLimit: number;
  burstLimit: number;
  /** Requests per day; past it API Gateway answers 429 until the day ends. @default - no quota */
  dailyQuota?: number;
}

export const DEFAULT_CONFIG: PlatformConfig = {
  profiles: DEFAULT_PROFILE_SETTINGS,
  processor: { batchSize: 500, maxBatchingWindowSeconds: 1, retryAttempts: 10, maxRecordAgeHours: 6 },
  streamRetentionHours: 24,
  api: {
    stageName: 'prod',
    throttlingRateLimit: 1000,
    throttlingBurstLimit: 2000,
    writeKeyUsage: { rateLimit: 1000, burstLimit: 2000 },
    readKeyUsage: { rateLimit: 500, burstLimit: 1000 },
    waf: { enabled: false, rateLimitPer5Minutes: 10_000 },
  },
  recommendations: {},
  modelRetentionDays: 30,
  lakeRetentionDays: 730,
  badEventsRetentionDays: 90,
  lakeBufferSeconds: 60,
  athenaBytesScannedCutoffGb: 200,
  athenaResultsRetentionDays: 7,
  trainingSchedule: 'rate(1 day)',
  trainingEnabled: true,
  trainingWindowDays: 90,
  personalize: { timeoutMs: 150 },
  logRetentionDays: 30,
  modelMaxAgeHours: 48,
  destroyData: false,
  encryption: 'customer-managed',
};

/** Reads the configuration from context values (strings from `-c`, or JSON values from cdk.json). */
export function loadConfig(context: (key: string) => unknown): PlatformConfig {
  const d = DEFAULT_CONFIG;
  const num = (key: string, fallback: number, min: number, max: number, integer = true): number => {
    const raw = context(key);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw new Error(`Context value ${key}=${JSON.stringify(raw)} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
    return value;
  };
  const stageName = String(context('apiStageName') ?? d.api.stageName);
  if (!/^[A-Za-z0-9_]{1,64}$/.test(stageName)) throw new Error(`Context value apiStageName="${stageName}" must be letters, digits or _`);
  const destroyData = context('destroyData');
  const optionalString = (key: string, pattern: RegExp, what: string): string | undefined => {
    const raw = context(key);
    if (raw === undefined || raw === '') return undefined;
    if (typeof raw !== 'string' || !pattern.test(raw)) throw new Error(`Context value ${key}=${JSON.stringify(raw)} must be ${what}`);
    return raw;
  };
  const personalize = {
    trackingId: optionalString('personalizeTrackingId', /^[A-Za-z0-9-]{1,256}$/, 'an event tracker tracking id'),
    campaignArn: optionalString('personalizeCampaignArn', /^arn:aws[a-z-]*:personalize:[a-z0-9-]+:\d{12}:campaign\/.+$/, 'a campaign ARN'),
    timeoutMs: num('personalizeTimeoutMs', d.personalize.timeoutMs, 10, 5000),
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const raw = context(key);
    if (raw === undefined) return fallback;
    if (raw === true || raw === 'true') return true;
    if (raw === false || raw === 'false') return false;
    throw new Error(`Context value ${key}=${JSON.stringify(raw)} must be true or false`);
  };
  /** `<prefix>RateLimit`, `<prefix>BurstLimit` and `<prefix>DailyQuota`. */
  const usage = (prefix: string, fallback: UsageLimits): UsageLimits =>
    withoutUndefined({
      rateLimit: num(`${prefix}RateLimit`, fallback.rateLimit, 1, 1_000_000),
      burstLimit: num(`${prefix}BurstLimit`, fallback.burstLimit, 1, 1_000_000),
      dailyQuota: context(`${prefix}DailyQuota`) === undefined ? fallback.dailyQuota : num(`${prefix}DailyQuota`, 0, 1, 1_000_000_000_000),
    });
  const consentCategoryOf = (key: string, fallback: string): string => {
    const raw = optionalString(key, /^.{1,64}$/, `a consent category name (1 to ${CONSENT_LIMITS.categoryLength} characters)`);
    return raw === undefined ? fallback : consentCategory(raw);
  };
  const lakeRetentionDays = num('lakeRetentionDays', d.lakeRetentionDays, 1, 36_500);
  const trainingWindowDays = num('trainingWindowDays', d.trainingWindowDays, 1, 36_500);
  if (trainingWindowDays > lakeRetentionDays) {
    throw new Error(`Context value trainingWindowDays=${trainingWindowDays} must not exceed lakeRetentionDays=${lakeRetentionDays}: older events are gone`);
  }
  const trainingSchedule = String(context('trainingSchedule') ?? d.trainingSchedule);
  if (!/^(rate|cron)\(.+\)$/.test(trainingSchedule)) {
    throw new Error(`Context value trainingSchedule="${trainingSchedule}" must be an EventBridge schedule expression, rate(...) or cron(...)`);
  }
  const alarmEmail = optionalString('alarmEmail', /^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'an email address');
  const lakeDatabaseName = optionalString('lakeDatabaseName', LAKE_DATABASE_NAME, 'lowercase letters, digits and _ (at most 255, not starting with _)');
  const encryption = context('encryption') ?? d.encryption;
  if (!(ENCRYPTION_MODES as readonly unknown[]).includes(encryption)) {
    throw new Error(`Context value encryption=${JSON.stringify(encryption)} must be ${ENCRYPTION_MODES.join(' or ')}`);
  }
  const recommendations = recommendationsFrom(context('recommendations'));
  // Fails the synth with every problem listed, rather than the function at cold start.
  resolveRecommendConfig(recommendations, { personalizeAvailable: personalize.campaignArn !== undefined });

  return {
    profiles: {
      anonymousTtlDays: num('anonymousTtlDays', d.profiles.anonymousTtlDays, 1, 3650),
      knownTtlDays: num('knownTtlDays', d.profiles.knownTtlDays, 1, 3650),
      dedupWindowHours: num('dedupWindowHours', d.profiles.dedupWindowHours, 1, 24 * 90),
      dedupMaxIds: num('dedupMaxIds', d.profiles.dedupMaxIds, 100, 5000),
      affinityHalfLifeDays: num('affinityHalfLifeDays', d.profiles.affinityHalfLifeDays, 0.01, 3650, false),
      deviceLinking: flag('deviceLinking', d.profiles.deviceLinking),
      consentRequired: flag('consentRequired', d.profiles.consentRequired),
      personalizationCategory: consentCategoryOf('personalizationConsentCategory', d.profiles.personalizationCategory),
      analyticsCategory: consentCategoryOf('analyticsConsentCategory', d.profiles.analyticsCategory),
    },
    processor: {
      batchSize: num('processorBatchSize', d.processor.batchSize, 1, 10_000),
      maxBatchingWindowSeconds: num('processorBatchingWindowSeconds', d.processor.maxBatchingWindowSeconds, 0, 300),
      retryAttempts: num('processorRetryAttempts', d.processor.retryAttempts, 0, 10_000),
      maxRecordAgeHours: num('processorMaxRecordAgeHours', d.processor.maxRecordAgeHours, 1, 168),
    },
    streamRetentionHours: num('streamRetentionHours', d.streamRetentionHours, 24, 8760),
    api: {
      stageName,
      throttlingRateLimit: num('apiThrottlingRateLimit', d.api.throttlingRateLimit, 1, 1_000_000),
      throttlingBurstLimit: num('apiThrottlingBurstLimit', d.api.throttlingBurstLimit, 1, 1_000_000),
      writeKeyUsage: usage('writeKey', d.api.writeKeyUsage),
      readKeyUsage: usage('readKey', d.api.readKeyUsage),
      // WAF's rate-based rules take 10 to 2,000,000,000 requests per evaluation window.
      waf: { enabled: flag('wafEnabled', d.api.waf.enabled), rateLimitPer5Minutes: num('wafRateLimit', d.api.waf.rateLimitPer5Minutes, 10, 2_000_000_000) },
    },
    recommendations,
    modelRetentionDays: num('modelRetentionDays', d.modelRetentionDays, 1, 365),
    lakeRetentionDays,
    badEventsRetentionDays: num('badEventsRetentionDays', d.badEventsRetentionDays, 1, 36_500),
    lakeBufferSeconds: num('lakeBufferSeconds', d.lakeBufferSeconds, 0, 900),
    ...(lakeDatabaseName ? { lakeDatabaseName } : {}),
    // Athena's floor is 10 MB; 1 GB is the smallest whole value here.
    athenaBytesScannedCutoffGb: num('athenaBytesScannedCutoffGb', d.athenaBytesScannedCutoffGb, 1, 1_000_000),
    athenaResultsRetentionDays: num('athenaResultsRetentionDays', d.athenaResultsRetentionDays, 1, 3650),
    trainingSchedule,
    trainingEnabled: flag('trainingEnabled', d.trainingEnabled),
    trainingWindowDays,
    personalize: withoutUndefined(personalize),
    logRetentionDays: num('logRetentionDays', d.logRetentionDays, 1, 3653),
    ...(alarmEmail ? { alarmEmail } : {}),
    modelMaxAgeHours: num('modelMaxAgeHours', d.modelMaxAgeHours, 1, 24 * 365),
    destroyData: destroyData === true || destroyData === 'true',
    encryption: encryption as EncryptionMode,
  };
}

/** A Glue database name Athena can use unquoted: lowercase letters, digits and `_`, not starting with `_`. */
export const LAKE_DATABASE_NAME = /^[a-z0-9][a-z0-9_]{0,254}$/;

/** `value` without its undefined properties (optional settings stay absent, not `undefined`). */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The `recommendations` context value: an object from cdk.json, or JSON text from `-c recommendations='{…}'`. */
function recommendationsFrom(raw: unknown): RecommendConfig {
  if (raw === undefined) return {};
  if (typeof raw !== 'string') return raw as RecommendConfig;
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new Error(`Context value recommendations is not valid JSON: ${(error as Error).message}`);
  }
}
