import { Duration, Validations } from 'aws-cdk-lib';
import { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { ITable, Table } from 'aws-cdk-lib/aws-dynamodb';
import { IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { IBucket } from 'aws-cdk-lib/aws-s3';
import { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { profileSettingsToEnv, ProfileSettings } from '../../lambdas/shared/domain/settings';
import { ENV, ERASURES_KEY } from '../../lambdas/shared/env';
import { Analytics } from './analytics';
import { objectsUnderFinding } from './buckets';
import { LAKE_PREFIXES } from './event-lake';
import { HouseFunction } from './house-function';
import { grantKey, KEY_ACTIONS } from './platform-key';
import { everyMinute, failingAlarm } from './schedules';
import { dataTable } from './tables';

export interface PrivacyProps {
  profiles: ITable;
  identities: ITable;
  lake: IBucket;
  analytics: Analytics;
  segmentBus: IEventBus;
  settings: ProfileSettings;
  /** The events delivery stream's buffering interval: an erasure's lake step waits for it (and a margin). */
  lakeBufferSeconds: number;
  destroyData: boolean;
  logRetentionDays: number;
  /** Where the worker's failed runs go (`failedInvocationsQueue`). */
  failedInvocations: IQueue;
  /** Customer managed key of the erasure requests table. @default - AWS-managed */
  encryptionKey?: IKey;
}

/** Seconds an erasure waits beyond the lake's buffering interval: Firehose's delivery and its processor. */
const SETTLE_MARGIN_SECONDS = 120;

/**
 * Erasure and export (IAM authorization): `DELETE /v1/profiles/{userId}`, `GET /v1/profiles/{userId}/export` and
 * `GET /v1/erasures/{id}` on the privacy function; the erasure requests table; and the erasure worker, every
 * minute, which completes each request once events on their way to the lake have landed, rewriting the lake
 * objects that hold the person's lines (found with Athena). Only these two functions may rewrite or delete lake
 * objects, and only under `events/`, `bad-events/`, `segment-events/` and `errors/`.
 */
export class Privacy extends Construct {
  readonly erasures: Table;
  readonly api: HouseFunction;
  readonly worker: HouseFunction;
  /** The worker failing: erasures wait, pending. */
  readonly workerAlarm: Alarm;

  constructor(scope: Construct, id: string, props: PrivacyProps) {
    super(scope, id);
    this.erasures = dataTable(this, 'Erasures', { partitionKey: ERASURES_KEY.partitionKey, expires: true, destroyData: props.destroyData, encryptionKey: props.encryptionKey });
    const environment = {
      ...profileSettingsToEnv(props.settings),
      [ENV.erasureSettleSeconds]: String(props.lakeBufferSeconds + SETTLE_MARGIN_SECONDS),
      [ENV.athenaWorkGroup]: props.analytics.workGroupName,
      [ENV.lakeDatabase]: props.analytics.databaseName,
      [ENV.lakeBucket]: props.lake.bucketName,
    };

    this.api = new HouseFunction(this, 'Api', {
      entry: 'privacy/handler.ts',
      serviceName: 'privacy-api',
      description: 'Erasure requests and exports of a person',
      memorySize: 1024,
      // API Gateway answers after 29 seconds: an export's lake query is stopped at 25.
      timeout: Duration.seconds(29),
      logRetentionDays: props.logRetentionDays,
      environment,
    })
      .bindTable(props.profiles, ENV.profilesTable, 'dynamodb:GetItem', 'dynamodb:DeleteItem')
      .bindTable(props.identities, ENV.identitiesTable, 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem')
      .bindTable(this.erasures, ENV.erasuresTable, 'dynamodb:GetItem', 'dynamodb:PutItem')
      .invokedSynchronouslyBy('API Gateway (erasure and export routes, IAM authorization)', 'the caller gets the error response; an accepted erasure is a record the worker completes');
    this.api.fn.addEnvironment(ENV.segmentEventBus, props.segmentBus.eventBusName);

    this.worker = new HouseFunction(this, 'Worker', {
      entry: 'privacy/worker-handler.ts',
      serviceName: 'erasure-worker',
      description: 'Every minute: completes pending erasures (profiles, ids, segment exits, lake objects)',
      memorySize: 1024,
      timeout: Duration.minutes(15),
      // One run at a time: two would rewrite the same lake objects.
      reservedConcurrentExecutions: 1,
      logRetentionDays: props.logRetentionDays,
      environment,
    })
      .bindTable(props.profiles, ENV.profilesTable, 'dynamodb:DeleteItem')
      .bindTable(props.identities, ENV.identitiesTable, 'dynamodb:BatchWriteItem')
      .bindTable(this.erasures, ENV.erasuresTable, 'dynamodb:PutItem', 'dynamodb:Scan')
      .bindEventBus(props.segmentBus, ENV.segmentEventBus);

    for (const fn of [this.api, this.worker]) this.grantLake(fn, props);
    everyMinute(this, this.worker, 'Runs the erasure worker', props.failedInvocations);
    this.workerAlarm = failingAlarm(this, 'WorkerFailing', this.worker.fn, {
      description: 'The erasure worker failed: erasure requests are waiting (see its logs and GET /v1/erasures/{id})',
      period: Duration.minutes(15),
      threshold: 1,
    });
  }

  /**
   * Athena queries on the events and bad-events tables (finding the objects that hold a person), and reading,
   * rewriting and deleting objects under the lake's person-bearing prefixes (with the lake's key, if it has one:
   * rewrites are multipart uploads, which decrypt the data key too).
   */
  private grantLake(fn: HouseFunction, props: PrivacyProps): void {
    props.analytics.grantQuery(fn.fn, 'events', 'badEvents', 'segmentEvents');
    const prefixes = [LAKE_PREFIXES.events, LAKE_PREFIXES.badEvents, LAKE_PREFIXES.segmentEvents, LAKE_PREFIXES.errors];
    fn.fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject'],
        resources: prefixes.map((p) => props.lake.arnForObjects(`${p}*`)),
      }),
    );
    grantKey(fn.fn, props.lake.encryptionKey, KEY_ACTIONS.encrypt);
    fn.fn.addToRolePolicy(
      new PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.lake.bucketArn], conditions: { StringLike: { 's3:prefix': prefixes.flatMap((p) => [p, `${p}*`]) } } }),
    );
    Validations.of(fn).acknowledge(
      ...[...props.analytics.iam5FindingsOf('events', 'badEvents', 'segmentEvents'), objectsUnderFinding(props.lake, LAKE_PREFIXES.errors)].map((findingId) => ({
        id: findingId,
        reason:
          'Object ARNs limited to the lake prefixes that hold a person (events/, bad-events/, segment-events/, errors/) and to the Athena results prefix: erasure rewrites the objects that hold a person, whatever their generated names',
      })),
    );
  }
}
