import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccountRootPrincipal, Grant, IGrantable, PolicyDocument, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { IKey, Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/**
 * The KMS actions each use of an encrypted resource needs, granted by name: never CDK's `kms:GenerateDataKey*` or
 * `kms:ReEncrypt*`, nor `kms:Encrypt` (no service here calls it for its callers).
 * - DynamoDB: every read and write is a `Decrypt` of the table key, made by DynamoDB as the caller; DynamoDB itself
 *   generated that key when it created the table (KMS developer guide, "How Amazon DynamoDB uses AWS KMS").
 * - Kinesis: producers `GenerateDataKey`, consumers `Decrypt` (Kinesis Data Streams developer guide, "Permissions to
 *   use user-generated KMS keys").
 * - SQS: senders `GenerateDataKey` and `Decrypt` (the new data key is decrypted to check it), receivers `Decrypt`
 *   (SQS developer guide, "Key management").
 * - S3 (SSE-KMS): readers `Decrypt`; writers `GenerateDataKey`, and `Decrypt` too for multipart uploads (the lake
 *   rewrite, Firehose, Athena results).
 */
export const KEY_ACTIONS = {
  /** Reading or writing a DynamoDB table; reading a stream, a queue or S3 objects. */
  decrypt: ['kms:Decrypt'],
  /** Putting records on a Kinesis stream. */
  putRecords: ['kms:GenerateDataKey'],
  /** Sending to an SQS queue; writing S3 objects. */
  encrypt: ['kms:Decrypt', 'kms:GenerateDataKey'],
} as const;

/** Grants `actions` on `key` (the key of a resource `grantee` uses) by name, in `grantee`'s policy; nothing without a key (AWS-managed encryption). */
export function grantKey(grantee: IGrantable, key: IKey | undefined, actions: readonly string[]): void {
  if (key) Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns: [key.keyArn] });
}

/**
 * What the account's IAM policies may allow on the key (its key policy names no one else but the services below):
 * every action on a symmetric encryption key, listed, where AWS's default key policy says `kms:*`. Administration
 * (CloudFormation creates, updates, rotates and deletes it), grants (DynamoDB's background work on a table runs under
 * a grant made when the table is created), and the cryptographic operations the functions, Firehose and operators
 * are given in their own policies.
 */
export const ACCOUNT_KEY_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:CreateGrant',
  'kms:Decrypt',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:RetireGrant',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
];

export interface PlatformKeyProps {
  /** Schedule the key's deletion with the stack (with the data it encrypts); otherwise it is retained. */
  destroyData: boolean;
}

/**
 * The one customer managed KMS key of the platform (`encryption: customer-managed`): it encrypts the event stream,
 * the tables, the lake and Athena results buckets and the failure queues. Rotated yearly; retained with the data
 * unless `destroyData` (a deleted key makes everything it encrypted unreadable, so it outlives a retained table).
 *
 * No principal gets it implicitly: the key policy lets the account's IAM policies grant it (`ACCOUNT_KEY_ACTIONS`),
 * and each function and delivery role is granted exactly the `KEY_ACTIONS` of what it does, where it is bound to an
 * encrypted resource. AWS services that use the key on their own behalf get a statement each
 * (`allowServiceToEncrypt`: EventBridge, for the dead-letter queue of the rule targets).
 */
export class PlatformKey extends Construct {
  readonly key: Key;

  constructor(scope: Construct, id: string, props: PlatformKeyProps) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      description: 'Personalization platform data at rest: event stream, tables, lake and Athena results buckets, failure queues',
      enableKeyRotation: true,
      removalPolicy: props.destroyData ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      // Replaces CDK's default key policy (the account root with "kms:*").
      policy: new PolicyDocument({
        statements: [new PolicyStatement({ sid: 'AccountIamPolicies', principals: [new AccountRootPrincipal()], actions: ACCOUNT_KEY_ACTIONS, resources: ['*'] })],
      }),
    });
  }
}

/**
 * Lets the AWS service `service` (`events.amazonaws.com`) use `key` on its own behalf to put data in a resource
 * encrypted with it (an SQS queue, an SNS topic): a data key, and its check (SQS developer guide, "Configure KMS
 * permissions for AWS services"), for this account's resources only (`aws:SourceAccount`). The resources cannot be
 * named: the key would depend on them, and they depend on the key. In a key policy, `Resource: "*"` is the key
 * itself. `sid` names the statement (one per service and purpose).
 */
export function allowServiceToEncrypt(key: IKey, service: string, sid: string): void {
  key.addToResourcePolicy(
    new PolicyStatement({
      sid,
      principals: [new ServicePrincipal(service)],
      actions: [...KEY_ACTIONS.encrypt],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(key).account } },
    }),
  );
}
