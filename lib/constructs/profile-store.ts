import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { BAD_EVENTS_KEY, PROFILES_KEY, TTL_ATTRIBUTE } from '../../lambdas/shared/env';

export interface ProfileStoreProps {
  /** Delete the tables with the stack. */
  destroyData: boolean;
}

/**
 * The profiles table (one item per person, expiring through the `expiresAt` TTL attribute) and the
 * bad-events table (stream records the processor could not use, with the reason, kept 30 days).
 */
export class ProfileStore extends Construct {
  readonly profiles: Table;
  readonly badEvents: Table;

  constructor(scope: Construct, id: string, props: ProfileStoreProps) {
    super(scope, id);
    const common = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      removalPolicy: props.destroyData ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    };
    this.profiles = new Table(this, 'Profiles', { ...common, partitionKey: { name: PROFILES_KEY.partitionKey, type: AttributeType.STRING } });
    this.badEvents = new Table(this, 'BadEvents', { ...common, partitionKey: { name: BAD_EVENTS_KEY.partitionKey, type: AttributeType.STRING } });
  }
}
