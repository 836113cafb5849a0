import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TTL_ATTRIBUTE } from '../../lambdas/shared/env';

export interface DataTableProps {
  /** The string partition key (every table of the platform has one, and no sort key). */
  partitionKey: string;
  /** Items expire through the `expiresAt` TTL attribute. */
  expires: boolean;
  /** Delete the table with the stack; otherwise it is retained. */
  destroyData: boolean;
  /** Customer managed key of the table. @default - the AWS-managed key for DynamoDB (`aws/dynamodb`) */
  encryptionKey?: IKey;
}

/**
 * A table of the platform: on demand, encrypted (with `encryptionKey`, or the AWS-managed key), point-in-time
 * recovery, retained unless `destroyData`. Functions bind it with `HouseFunction.bindTable`, which grants the key too.
 */
export function dataTable(scope: Construct, id: string, props: DataTableProps): Table {
  return new Table(scope, id, {
    partitionKey: { name: props.partitionKey, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    ...(props.encryptionKey ? { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey } : { encryption: TableEncryption.AWS_MANAGED }),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    ...(props.expires ? { timeToLiveAttribute: TTL_ATTRIBUTE } : {}),
    removalPolicy: props.destroyData ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
  });
}
