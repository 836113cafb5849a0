import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { PROFILES_KEY, TTL_ATTRIBUTE } from '../../lambdas/shared/env';

export interface ProfileStoreProps {
  /** Delete the table with the stack. */
  destroyData: boolean;
}

/**
 * The profiles table: one item per person, expiring through the `expiresAt` TTL attribute. (Rejected events go to
 * the lake's `bad-events/` through Firehose: see EventLake.)
 */
export class ProfileStore extends Construct {
  readonly profiles: Table;

  constructor(scope: Construct, id: string, props: ProfileStoreProps) {
    super(scope, id);
    this.profiles = new Table(this, 'Profiles', {
      partitionKey: { name: PROFILES_KEY.partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      removalPolicy: props.destroyData ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
  }
}
