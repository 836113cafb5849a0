import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { ITEMS_KEY, TTL_ATTRIBUTE } from '../../lambdas/shared/env';

export interface ItemStoreProps {
  /** Delete the table with the stack. */
  destroyData: boolean;
}

/**
 * The items table: the catalog, the unavailable-items set and the trained model's versions (layout in
 * `lambdas/shared/store/items-table.ts`). Model rows of old versions expire through the TTL attribute.
 */
export class ItemStore extends Construct {
  readonly items: Table;

  constructor(scope: Construct, id: string, props: ItemStoreProps) {
    super(scope, id);
    this.items = new Table(this, 'Items', {
      partitionKey: { name: ITEMS_KEY.partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      removalPolicy: props.destroyData ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
  }
}
