import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, IBucket, LifecycleRule } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface PrivateBucketProps {
  /** Delete the bucket and its objects with the stack; otherwise the bucket is retained. */
  destroyData: boolean;
  /** Where S3 server access logs of this bucket go (under `<construct id>/`). */
  accessLogs: IBucket;
  /** @default - none */
  lifecycleRules?: LifecycleRule[];
  /**
   * Customer managed key of the bucket's default encryption (SSE-KMS, with an S3 Bucket Key: one KMS request per
   * bucket key, not per object). Writers need `kms:GenerateDataKey` and `kms:Decrypt` on it, readers `kms:Decrypt`.
   * @default - S3-managed keys (SSE-S3)
   */
  encryptionKey?: IKey;
}

/** What every bucket of this project is: private, encrypted (S3-managed keys unless given a key), TLS-only, unversioned. */
const PRIVATE = {
  encryption: BucketEncryption.S3_MANAGED,
  blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
  enforceSSL: true,
  versioned: false,
} as const;

/** SSE-KMS with `key` and a Bucket Key, or SSE-S3. */
const encryptedWith = (key: IKey | undefined) => (key ? { encryption: BucketEncryption.KMS, encryptionKey: key, bucketKeyEnabled: true } : {});

/** Retained by default; with `destroyData`, deleted with the stack together with its objects. */
const removal = (destroyData: boolean) =>
  destroyData ? { removalPolicy: RemovalPolicy.DESTROY, autoDeleteObjects: true } : { removalPolicy: RemovalPolicy.RETAIN };

/** A private bucket (see PRIVATE), encrypted with `encryptionKey` if given, whose server access logs go to `accessLogs`. */
export function privateBucket(scope: Construct, id: string, props: PrivateBucketProps): Bucket {
  return new Bucket(scope, id, {
    ...PRIVATE,
    ...encryptedWith(props.encryptionKey),
    ...removal(props.destroyData),
    serverAccessLogsBucket: props.accessLogs,
    serverAccessLogsPrefix: `${id}/`,
    lifecycleRules: props.lifecycleRules,
  });
}

export interface AccessLogsBucketProps {
  /** Delete the bucket and its objects with the stack; otherwise the bucket is retained. */
  destroyData: boolean;
  /** Days access logs are kept. @default 90 */
  retentionDays?: number;
}

/**
 * The target of the other buckets' S3 server access logs: private like them, logs expiring after `retentionDays`.
 * Always S3-managed keys, whatever the others use: SSE-S3 is the only default encryption S3 server access log
 * delivery supports on a target bucket. S3 writes the logs under a bucket policy for `logging.s3.amazonaws.com`
 * (CDK adds it), not ACLs.
 */
export function accessLogsBucket(scope: Construct, id: string, props: AccessLogsBucketProps): Bucket {
  // The bucket-policy way of granting log delivery, whatever cdk.json says: new buckets refuse ACLs.
  const holder = new Construct(scope, id);
  holder.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
  const bucket = new Bucket(holder, 'Bucket', {
    ...PRIVATE,
    ...removal(props.destroyData),
    lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(props.retentionDays ?? 90), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
  });
  Validations.of(bucket).acknowledge({
    id: 'AwsSolutions-S1',
    reason: 'This bucket is itself the target of the server access logs of the other buckets; logging its own access would log the log writes',
  });
  return bucket;
}

/**
 * The cdk-nag finding of a grant on the objects under `prefix` of `bucket` (`bucket.arnForObjects(prefix + '*')`):
 * the exact id to acknowledge, so that the acknowledgement covers that prefix and nothing else.
 */
export function objectsUnderFinding(bucket: IBucket, prefix: string): string {
  return `AwsSolutions-IAM5[Resource::<${Stack.of(bucket).getLogicalId(bucket.node.defaultChild as never)}.Arn>/${prefix}*]`;
}
