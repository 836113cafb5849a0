import { Table } from 'aws-cdk-lib/aws-dynamodb';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { ITEMS_KEY } from '../../lambdas/shared/env';
import { dataTable } from './tables';

export interface ItemStoreProps {
  /** Delete the table with the stack. */
  destroyData: boolean;
  /** Customer managed key of the table. @default - AWS-managed */
  encryptionKey?: IKey;
}

/**
 * The items table: the catalog, the unavailable-items set and the trained model's versions (layout in
 * `lambdas/shared/store/items-table.ts`). Model rows of old versions expire through the TTL attribute.
 */
export class ItemStore extends Construct {
  readonly items: Table;

  constructor(scope: Construct, id: string, props: ItemStoreProps) {
    super(scope, id);
    this.items = dataTable(this, 'Items', { partitionKey: ITEMS_KEY.partitionKey, expires: true, destroyData: props.destroyData, encryptionKey: props.encryptionKey });
  }
}
