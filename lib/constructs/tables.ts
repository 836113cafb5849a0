import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TTL_ATTRIBUTE } from '../../lambdas/shared/env';

export interface DataTableProps {
  /** The string partition key (every table of the platform has one, and no sort key). */
  partitionKey: string;
  /** Items expire through the `expiresAt` TTL attribute. */
  expires: boolean;
  /** Delete the table with the stack; otherwise it is retained. */
  destroyData: boolean;
}

/** A table of the platform: on demand, encrypted, point-in-time recovery, retained unless `destroyData`. */
export function dataTable(scope: Construct, id: string, props: DataTableProps): Table {
  return new Table(scope, id, {
    partitionKey: { name: props.partitionKey, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    encryption: TableEncryption.AWS_MANAGED,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    ...(props.expires ? { timeToLiveAttribute: TTL_ATTRIBUTE } : {}),
    removalPolicy: props.destroyData ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
  });
}
