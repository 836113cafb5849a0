import { Duration, Stack, Token } from 'aws-cdk-lib';
import { CfnNamedQuery, CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import { CfnDatabase, CfnTable } from 'aws-cdk-lib/aws-glue';
import { IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { Bucket, IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { Analysis, loadAnalyses } from '../../analytics';
import { SEGMENT_EVENT_DETAIL_FIELDS } from '../../lambdas/shared/domain/segment-events';
import { DEFAULT_CONFIG, LAKE_DATABASE_NAME } from '../config';
import { objectsUnderFinding, privateBucket } from './buckets';
import { LAKE_PREFIXES } from './event-lake';
import { grantKey, KEY_ACTIONS } from './platform-key';

/** A Glue column. */
export interface Column {
  name: string;
  type: string;
}

const strings = (...names: string[]): Column[] => names.map((name) => ({ name, type: 'string' }));

/**
 * Columns of the `events` table: the Segment fields of an enriched event, as Glue lowercases them (the JSON SerDe
 * matches keys case-insensitively). `properties`, `traits` and `context` hold their JSON object as text (read them
 * with `json_extract_scalar`); times are ISO-8601 text.
 */
export const EVENTS_COLUMNS: readonly Column[] = strings(
  'messageid',
  'type',
  'event',
  'name',
  'category',
  'userid',
  'anonymousid',
  'previousid',
  'groupid',
  'timestamp',
  'sentat',
  'originaltimestamp',
  'receivedat',
  'sourceid',
  'properties',
  'traits',
  'context',
);

/** Columns of the `bad_events` table: what a function rejected, why, and where it came from (times ISO-8601 text). */
export const BAD_EVENTS_COLUMNS: readonly Column[] = [
  ...strings('id', 'source', 'reason', 'payload'),
  { name: 'truncated', type: 'boolean' },
  ...strings('partitionkey', 'sourceid', 'arrivedat', 'detectedat'),
];

/**
 * Columns of the `segment_events` table: the segment bus's events as EventBridge delivers them to a target. The
 * JSON key `detail-type` is read into `detail_type` (Glue names are lowercase letters, digits and `_`); `detail` is
 * a struct of the notice's fields, lowercased (the JSON SerDe matches nested keys case-insensitively too), so
 * `detail.segmentid`, `detail.type`, `detail."at"`; times are ISO-8601 text.
 */
export const SEGMENT_EVENTS_COLUMNS: readonly Column[] = [
  ...strings('id', 'detail_type', 'source', 'time'),
  { name: 'detail', type: `struct<${SEGMENT_EVENT_DETAIL_FIELDS.map((field) => `${field.toLowerCase()}:string`).join(',')}>` },
];

/** Partition columns of every table: the Firehose arrival hour, `dt=yyyy-MM-dd/hour=HH`. */
export const PARTITION_KEYS: readonly Column[] = strings('dt', 'hour');

/** A lake table: its Glue name, the lake prefix it reads, its columns, and columns read from a JSON key of another name. */
interface LakeTableDefinition {
  name: string;
  prefix: string;
  columns: readonly Column[];
  /** Column name → JSON key, for keys that are not valid column names (the OpenX JSON SerDe's `mapping.<column>`). */
  keys?: Readonly<Record<string, string>>;
}

/** Glue table names, and the lake prefix each reads. */
export const LAKE_TABLES = {
  events: { name: 'events', prefix: LAKE_PREFIXES.events, columns: EVENTS_COLUMNS },
  badEvents: { name: 'bad_events', prefix: LAKE_PREFIXES.badEvents, columns: BAD_EVENTS_COLUMNS },
  segmentEvents: { name: 'segment_events', prefix: LAKE_PREFIXES.segmentEvents, columns: SEGMENT_EVENTS_COLUMNS, keys: { detail_type: 'detail-type' } },
} as const satisfies Record<string, LakeTableDefinition>;
export type LakeTable = keyof typeof LAKE_TABLES;

/** Where Athena writes query results in the results bucket. */
export const RESULTS_PREFIX = 'results/';

const GIB = 1024 ** 3;

/** The default lake database of a stack: `Personalization` → `personalization_lake`. */
export function lakeDatabaseNameFor(stackName: string): string {
  return `${stackName.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_lake`.replace(/^_+/, '');
}

export interface AnalyticsProps {
  /** The lake bucket the tables read. */
  lake: IBucket;
  /** Glue database name: lowercase letters, digits and `_`. */
  databaseName: string;
  /** Target of the results bucket's server access logs. */
  accessLogs: IBucket;
  /** Most data one query may scan, in GB (2^30 bytes). @default 200 */
  bytesScannedCutoffGb?: number;
  /** Days query results are kept. @default 7 */
  resultsRetentionDays?: number;
  /** Delete the results bucket and its objects with the stack; otherwise it is retained. @default false */
  destroyData?: boolean;
  /** Saved analyses deployed as named queries. @default loadAnalyses() (the `.sql` files of `analytics/`) */
  analyses?: readonly Analysis[];
  /**
   * Customer managed key of the results bucket and of the results the workgroup writes (SSE-KMS).
   * @default - SSE-S3
   */
  encryptionKey?: IKey;
}

/**
 * SQL over the lake: the Glue database with the `events`, `bad_events` and `segment_events` tables (partition projection on
 * `dt`/`hour`, so no crawler and no partition maintenance), an Athena workgroup that enforces engine 3, a scan
 * limit per query and encrypted results (SSE-KMS with `encryptionKey`, or SSE-S3) in a bucket of its own, and the
 * saved analyses as named queries.
 */
export class Analytics extends Construct {
  readonly database: CfnDatabase;
  /** The database name (a reference: depending on it orders after the database). */
  readonly databaseName: string;
  readonly eventsTable: CfnTable;
  readonly badEventsTable: CfnTable;
  readonly segmentEventsTable: CfnTable;
  readonly workGroup: CfnWorkGroup;
  /** The workgroup name (a reference: depending on it orders after the workgroup). */
  readonly workGroupName: string;
  readonly resultsBucket: Bucket;
  /** One per saved analysis. */
  readonly namedQueries: CfnNamedQuery[];
  private readonly lake: IBucket;

  constructor(scope: Construct, id: string, props: AnalyticsProps) {
    super(scope, id);
    if (!Token.isUnresolved(props.databaseName) && !LAKE_DATABASE_NAME.test(props.databaseName)) {
      throw new Error(`Lake database name "${props.databaseName}" must be lowercase letters, digits and _ (at most 255, not starting with _)`);
    }
    this.lake = props.lake;
    const account = Stack.of(this).account;

    this.database = new CfnDatabase(this, 'Database', {
      catalogId: account,
      databaseInput: { name: props.databaseName, description: 'Event lake: events, rejected events and segment events as gzipped JSON lines (partition projection on dt, hour)' },
    });
    this.databaseName = this.database.ref;
    this.eventsTable = this.table('EventsTable', 'events', 'Every event of the stream as the ingest function enriched it');
    this.badEventsTable = this.table('BadEventsTable', 'badEvents', 'Events the functions rejected, with the reason');
    this.segmentEventsTable = this.table('SegmentEventsTable', 'segmentEvents', 'Segment entries and exits, as the segment bus delivered them');

    // Results are disposable, but they follow destroyData like the lake: a retained results bucket empties itself
    // within resultsRetentionDays, and auto-deletion would add a custom-resource function to every deployment.
    this.resultsBucket = privateBucket(this, 'Results', {
      destroyData: props.destroyData ?? false,
      accessLogs: props.accessLogs,
      encryptionKey: props.encryptionKey,
      lifecycleRules: [
        {
          id: 'expire-results',
          expiration: Duration.days(props.resultsRetentionDays ?? DEFAULT_CONFIG.athenaResultsRetentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    this.workGroup = new CfnWorkGroup(this, 'WorkGroup', {
      name: `${Stack.of(this).stackName}-analytics`,
      description: `Queries over the event lake: engine 3, scan limit per query, ${props.encryptionKey ? 'SSE-KMS' : 'SSE-S3'} results`,
      state: 'ENABLED',
      // Deleting the stack deletes the workgroup with its named queries and query history.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: (props.bytesScannedCutoffGb ?? DEFAULT_CONFIG.athenaBytesScannedCutoffGb) * GIB,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: this.resultsBucket.s3UrlForObject(RESULTS_PREFIX),
          encryptionConfiguration: props.encryptionKey ? { encryptionOption: 'SSE_KMS', kmsKey: props.encryptionKey.keyArn } : { encryptionOption: 'SSE_S3' },
        },
      },
    });
    this.workGroupName = this.workGroup.ref;

    this.namedQueries = (props.analyses ?? loadAnalyses()).map((analysis) => this.namedQuery(analysis));
  }

  /**
   * Lets `grantee` run Athena queries in the workgroup over `tables`: the query calls on the workgroup, the Glue
   * catalog reads of the database and those tables, reading their lake prefixes, and writing and reading results
   * (Athena writes them with the caller's credentials). With customer managed keys, S3 uses them as the caller too:
   * `kms:Decrypt` on the lake's key, `kms:GenerateDataKey` and `kms:Decrypt` on the results'. Object ARNs end in
   * `<prefix>*`: acknowledge `AwsSolutions-IAM5` for them at the grantee, with `iam5FindingsOf`.
   */
  grantQuery(grantee: IGrantable, ...tables: LakeTable[]): void {
    const stack = Stack.of(this);
    const add = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({ actions, resources, ...(conditions ? { conditions } : {}) }));
    add(
      ['athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StartQueryExecution', 'athena:StopQueryExecution'],
      [stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: this.workGroupName })],
    );
    add(
      ['glue:GetDatabase', 'glue:GetPartition', 'glue:GetPartitions', 'glue:GetTable'],
      [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.databaseName }),
        ...tables.map((t) => stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${this.databaseName}/${LAKE_TABLES[t].name}` })),
      ],
    );
    const prefixes = tables.map((t) => LAKE_TABLES[t].prefix);
    add(['s3:GetObject'], prefixes.map((p) => this.lake.arnForObjects(`${p}*`)));
    add(['s3:GetBucketLocation'], [this.lake.bucketArn]);
    add(['s3:ListBucket'], [this.lake.bucketArn], { StringLike: { 's3:prefix': prefixes.flatMap((p) => [p, `${p}*`]) } });
    add(['s3:AbortMultipartUpload', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject'], [this.resultsBucket.arnForObjects(`${RESULTS_PREFIX}*`)]);
    add(['s3:GetBucketLocation', 's3:ListBucket'], [this.resultsBucket.bucketArn]);
    grantKey(grantee, this.lake.encryptionKey, KEY_ACTIONS.decrypt);
    grantKey(grantee, this.resultsBucket.encryptionKey, KEY_ACTIONS.encrypt);
  }

  /** The cdk-nag `AwsSolutions-IAM5` finding ids of `grantQuery(grantee, ...tables)`: the prefix-scoped object ARNs. */
  iam5FindingsOf(...tables: LakeTable[]): string[] {
    return [...tables.map((t) => objectsUnderFinding(this.lake, LAKE_TABLES[t].prefix)), objectsUnderFinding(this.resultsBucket, RESULTS_PREFIX)];
  }

  /** A JSON-lines table over `LAKE_TABLES[table].prefix`, partitions projected from `dt` and `hour`. */
  private table(id: string, table: LakeTable, description: string): CfnTable {
    const { name, prefix, columns, keys }: LakeTableDefinition = LAKE_TABLES[table];
    const location = `s3://${this.lake.bucketName}/${prefix}`;
    return new CfnTable(this, id, {
      catalogId: Stack.of(this).account,
      databaseName: this.databaseName,
      tableInput: {
        name,
        description,
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: [...PARTITION_KEYS],
        parameters: {
          EXTERNAL: 'TRUE',
          classification: 'json',
          compressionType: 'gzip',
          'projection.enabled': 'true',
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': '2024-01-01,NOW',
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
          'projection.hour.type': 'integer',
          'projection.hour.range': '0,23',
          'projection.hour.digits': '2',
          'storage.location.template': `${location}dt=\${dt}/hour=\${hour}`,
        },
        storageDescriptor: {
          columns: [...columns],
          location,
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          compressed: true,
          serdeInfo: {
            serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
            // A line that is not JSON reads as a row of nulls instead of failing the query.
            parameters: { 'ignore.malformed.json': 'true', ...mappingsOf(keys) },
          },
        },
      },
    });
  }

  /** A saved analysis as a named query in the workgroup, against the lake database. */
  private namedQuery(analysis: Analysis): CfnNamedQuery {
    if (analysis.title.length > 128) throw new Error(`analytics/${analysis.name}.sql: the title must be at most 128 characters (an Athena named query name)`);
    if (analysis.description.length > 1024) throw new Error(`analytics/${analysis.name}.sql: the description must be at most 1024 characters`);
    const query = new CfnNamedQuery(this, `Query-${analysis.name}`, {
      name: analysis.title,
      description: analysis.description,
      queryString: analysis.sql,
      database: this.databaseName,
      workGroup: this.workGroupName,
    });
    query.node.addDependency(this.workGroup);
    return query;
  }
}

/**
 * The OpenX JSON SerDe's `mapping.<column>` properties: "Maps column names to JSON keys that aren't identical to the
 * column names" (https://docs.aws.amazon.com/athena/latest/ug/openx-json-serde.html).
 */
function mappingsOf(keys: Readonly<Record<string, string>> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(keys).map(([column, key]) => [`mapping.${column}`, key]));
}
