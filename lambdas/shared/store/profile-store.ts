import {
  AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { PROFILES_KEY, TTL_ATTRIBUTE } from '../env';
import { ProfileRecord } from '../domain/profile-record';
import { batchGetAll } from './batch';

/** Where profiles live. Reads return expired records too: callers decide with `isExpired`. */
export interface ProfileStore {
  /** Strongly consistent reads of many profiles; absent ids are absent from the map. */
  getMany(profileIds: readonly string[]): Promise<Map<string, ProfileRecord>>;
  get(profileId: string): Promise<ProfileRecord | undefined>;
  /**
   * Writes `record` only if the stored item still has `expectedVersion` (undefined: no item yet).
   * Returns false when another writer got there first; the caller re-reads and re-applies.
   */
  put(record: ProfileRecord, expectedVersion: number | undefined): Promise<boolean>;
}

const PK = PROFILES_KEY.partitionKey;

/**
 * Profiles in DynamoDB, one item each: `pk`, the state as JSON in `profile` (JSON keeps any trait value
 * storable, whatever DynamoDB's number range or nesting limits), `seen` (packed message-id hashes),
 * `version`, `expiresAt` (TTL) and `updatedAt`; with identity resolution `mergedInto` (a redirect), `linked`
 * (JSON) and `linksExpireAt`.
 */
export class DynamoDbProfileStore implements ProfileStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async getMany(profileIds: readonly string[]): Promise<Map<string, ProfileRecord>> {
    const items = await batchGetAll(this.client, this.tableName, profileIds.map((id) => ({ [PK]: { S: id } })), { consistentRead: true });
    return new Map(items.map((item) => [item[PK].S as string, fromItem(item)]));
  }

  async get(profileId: string): Promise<ProfileRecord | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { [PK]: { S: profileId } }, ConsistentRead: true }));
    return out.Item ? fromItem(out.Item) : undefined;
  }

  async put(record: ProfileRecord, expectedVersion: number | undefined): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem(record),
          ...(expectedVersion === undefined
            ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PK } }
            : {
                ConditionExpression: '#version = :expected',
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: { ':expected': { N: String(expectedVersion) } },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}

function toItem(record: ProfileRecord): Record<string, AttributeValue> {
  return {
    [PK]: { S: record.state.profileId },
    profile: { S: JSON.stringify(record.state) },
    // DynamoDB rejects empty binary values.
    ...(record.seen.byteLength > 0 ? { seen: { B: record.seen } } : {}),
    version: { N: String(record.version) },
    [TTL_ATTRIBUTE]: { N: String(record.expiresAt) },
    updatedAt: { N: String(record.updatedAt) },
    ...(record.mergedInto !== undefined ? { mergedInto: { S: record.mergedInto } } : {}),
    ...(record.mergeScope !== undefined ? { mergeScope: { S: record.mergeScope } } : {}),
    ...(record.linked !== undefined ? { linked: { S: JSON.stringify(record.linked) } } : {}),
    ...(record.linksExpireAt !== undefined ? { linksExpireAt: { N: String(record.linksExpireAt) } } : {}),
  };
}

function fromItem(item: Record<string, AttributeValue>): ProfileRecord {
  return {
    state: JSON.parse(item.profile.S as string),
    seen: item.seen?.B ?? new Uint8Array(),
    version: Number(item.version.N),
    expiresAt: Number(item[TTL_ATTRIBUTE].N),
    updatedAt: Number(item.updatedAt.N),
    ...(item.mergedInto?.S !== undefined ? { mergedInto: item.mergedInto.S } : {}),
    ...(item.mergeScope?.S === 'history' ? { mergeScope: 'history' as const } : {}),
    ...(item.linked?.S !== undefined ? { linked: JSON.parse(item.linked.S) } : {}),
    ...(item.linksExpireAt?.N !== undefined ? { linksExpireAt: Number(item.linksExpireAt.N) } : {}),
  };
}
