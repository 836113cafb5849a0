import { CfnElement } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { DEFAULT_CONFIG, loadConfig } from '../../lib/config';
import { synth } from '../support/synth';

/*
 * Encryption at rest (the key's users and their permissions: least-privilege.test.ts). `encryption: customer-managed`
 * (the default): one KMS key of the stack encrypts the stream, the tables, the lake and results buckets and the
 * queues. `encryption: aws-managed`: no key, and every resource as before the setting existed.
 */

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('encryption configuration', () => {
  const context = (values: Record<string, unknown>) => (key: string) => values[key];

  it('defaults to the customer managed key', () => {
    expect(DEFAULT_CONFIG.encryption).toBe('customer-managed');
    expect(loadConfig(context({})).encryption).toBe('customer-managed');
  });

  it('reads customer-managed or aws-managed', () => {
    expect(loadConfig(context({ encryption: 'aws-managed' })).encryption).toBe('aws-managed');
    expect(loadConfig(context({ encryption: 'customer-managed' })).encryption).toBe('customer-managed');
  });

  it('rejects anything else with a clear message', () => {
    expect(() => loadConfig(context({ encryption: 'kms' }))).toThrow('Context value encryption="kms" must be customer-managed or aws-managed');
    expect(() => loadConfig(context({ encryption: 'AWS-MANAGED' }))).toThrow(/encryption="AWS-MANAGED"/);
    expect(() => loadConfig(context({ encryption: true }))).toThrow(/encryption=true/);
  });
});

describe('encryption: customer-managed (default)', () => {
  const { stack, template } = synth();
  const resources = (type: string) => template.findResources(type);
  const logicalIdOf = (construct: IConstruct) => stack.getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
  const keyId = logicalIdOf(stack.platformKey!.key);
  const keyArn = { 'Fn::GetAtt': [keyId, 'Arn'] };

  it('has one key of the stack, rotated yearly, retained with the data', () => {
    expect(Object.keys(resources('AWS::KMS::Key'))).toEqual([keyId]);
    const key = resources('AWS::KMS::Key')[keyId];
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
    expect(key.UpdateReplacePolicy).toBe('Retain');
  });

  it('is scheduled for deletion with the stack only when the data is (destroyData)', () => {
    const [key] = Object.values(synth({ destroyData: 'true' }).template.findResources('AWS::KMS::Key'));
    expect(key.DeletionPolicy).toBe('Delete');
  });

  it('encrypts the event stream', () => {
    expect(Object.values(resources('AWS::Kinesis::Stream')).map((s) => s.Properties.StreamEncryption)).toEqual([{ EncryptionType: 'KMS', KeyId: keyArn }]);
  });

  it('encrypts every table, each with point-in-time recovery', () => {
    const tables = Object.values(resources('AWS::DynamoDB::Table'));
    expect(tables).toHaveLength(5);
    for (const table of tables) {
      expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn });
      expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    }
  });

  it('encrypts the lake and Athena results buckets (SSE-KMS with a Bucket Key); the access-log bucket stays on SSE-S3, all TLS-only', () => {
    const encryptionOf = (bucket: IConstruct) => resources('AWS::S3::Bucket')[logicalIdOf(bucket)].Properties.BucketEncryption.ServerSideEncryptionConfiguration;
    for (const bucket of [stack.lake.bucket, stack.analytics.resultsBucket]) {
      expect(encryptionOf(bucket)).toEqual([{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn }, BucketKeyEnabled: true }]);
    }
    // S3 server access log delivery supports SSE-S3 only as the target bucket's default encryption.
    expect(encryptionOf(stack.lake.accessLogs)).toEqual([{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }]);
    expectEveryBucketTlsOnly(template.toJSON().Resources);
  });

  it('writes Athena results with SSE-KMS and the key', () => {
    const [workGroup] = Object.values(resources('AWS::Athena::WorkGroup'));
    expect(workGroup.Properties.WorkGroupConfiguration.ResultConfiguration.EncryptionConfiguration).toEqual({ EncryptionOption: 'SSE_KMS', KmsKey: keyArn });
  });

  it('encrypts every queue (the stream consumers\' failure queues, the failed invocations), all TLS-only', () => {
    const queues = resources('AWS::SQS::Queue');
    expect(Object.keys(queues).sort()).toEqual([stack.processor.failureQueue, stack.failedInvocations].map(logicalIdOf).sort());
    for (const queue of Object.values(queues)) {
      expect(queue.Properties.KmsMasterKeyId).toEqual(keyArn);
      expect(queue.Properties.SqsManagedSseEnabled).toBeUndefined();
    }
    expectEveryQueueTlsOnly(template.toJSON().Resources);
  });

  it("keeps the Direct PUT delivery streams' buffers on Firehose's own key (AWS-owned)", () => {
    const encrypted = Object.values(resources('AWS::KinesisFirehose::DeliveryStream')).filter((d) => d.Properties.DeliveryStreamType === 'DirectPut');
    expect(encrypted).toHaveLength(2);
    for (const d of encrypted) expect(d.Properties.DeliveryStreamEncryptionConfigurationInput).toEqual({ KeyType: 'AWS_OWNED_CMK' });
  });
});

describe('encryption: aws-managed', () => {
  const { stack, template } = synth({ encryption: 'aws-managed' });
  const resources = (type: string) => template.findResources(type);

  it('creates no key, and no resource names one', () => {
    expect(stack.platformKey).toBeUndefined();
    expect(resources('AWS::KMS::Key')).toEqual({});
    expect(JSON.stringify(template.toJSON())).not.toMatch(/KMSMasterKeyI[dD]|KmsMasterKeyId|"KmsKey"|kms:/);
  });

  it('keeps each resource on its service-managed encryption', () => {
    expect(Object.values(resources('AWS::Kinesis::Stream')).map((s) => s.Properties.StreamEncryption)).toEqual([{ EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }]);
    for (const table of Object.values(resources('AWS::DynamoDB::Table'))) {
      expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true });
      expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    }
    for (const bucket of Object.values(resources('AWS::S3::Bucket'))) {
      expect(bucket.Properties.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    }
    for (const queue of Object.values(resources('AWS::SQS::Queue'))) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    const [workGroup] = Object.values(resources('AWS::Athena::WorkGroup'));
    expect(workGroup.Properties.WorkGroupConfiguration.ResultConfiguration.EncryptionConfiguration).toEqual({ EncryptionOption: 'SSE_S3' });
    expectEveryBucketTlsOnly(template.toJSON().Resources);
    expectEveryQueueTlsOnly(template.toJSON().Resources);
  });
});

const TLS_ONLY = { Bool: { 'aws:SecureTransport': 'false' } };

/** Every bucket has a bucket policy that denies every S3 action over plain HTTP (`enforceSSL`). */
function expectEveryBucketTlsOnly(resources: Record<string, Json>) {
  const buckets = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::S3::Bucket');
  const policies = Object.values(resources).filter((r) => r.Type === 'AWS::S3::BucketPolicy');
  for (const [id] of buckets) {
    const policy = policies.find((p) => p.Properties.Bucket.Ref === id);
    expect(policy?.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: TLS_ONLY })]));
  }
}

/** Every queue has a queue policy that denies every SQS action over plain HTTP (`enforceSSL`). */
function expectEveryQueueTlsOnly(resources: Record<string, Json>) {
  const queues = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SQS::Queue');
  const policies = Object.values(resources).filter((r) => r.Type === 'AWS::SQS::QueuePolicy');
  for (const [id] of queues) {
    const policy = policies.find((p) => p.Properties.Queues.some((q: Json) => q.Ref === id));
    expect(policy?.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Action: 'sqs:*', Condition: TLS_ONLY })]));
  }
}
