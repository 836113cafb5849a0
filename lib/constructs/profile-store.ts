import { AttributeType, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { IDENTITIES_KEY, PROFILES_KEY, SEGMENTS_DUE_INDEX } from '../../lambdas/shared/env';
import { dataTable } from './tables';

export interface ProfileStoreProps {
  /** Delete the table with the stack. */
  destroyData: boolean;
  /** Customer managed key of both tables. @default - AWS-managed */
  encryptionKey?: IKey;
}

/**
 * The profiles table (one item per person, plus redirects of ids merged into another person's profile) and the
 * identities table (every linked id → its canonical profile id). Both expire items through the `expiresAt` TTL
 * attribute: a link lives as long as its profile. The profiles table has one sparse index, of the profiles whose
 * segment memberships are due for a timed check (keys only: the scheduled pass reads each profile itself). (Rejected events go to the lake's `bad-events/` through
 * Firehose: see EventLake.)
 */
export class ProfileStore extends Construct {
  readonly profiles: Table;
  readonly identities: Table;

  constructor(scope: Construct, id: string, props: ProfileStoreProps) {
    super(scope, id);
    const { destroyData, encryptionKey } = props;
    this.profiles = dataTable(this, 'Profiles', { partitionKey: PROFILES_KEY.partitionKey, expires: true, destroyData, encryptionKey });
    this.profiles.addGlobalSecondaryIndex({
      indexName: SEGMENTS_DUE_INDEX.indexName,
      partitionKey: { name: SEGMENTS_DUE_INDEX.partitionKey, type: AttributeType.STRING },
      sortKey: { name: SEGMENTS_DUE_INDEX.sortKey, type: AttributeType.NUMBER },
      projectionType: ProjectionType.KEYS_ONLY,
    });
    this.identities = dataTable(this, 'Identities', { partitionKey: IDENTITIES_KEY.partitionKey, expires: true, destroyData, encryptionKey });
  }
}
