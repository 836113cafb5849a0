import {
  AttributeValue,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import { PROFILES_KEY, SEGMENTS_DUE_INDEX, TTL_ATTRIBUTE } from '../env';
import { ProfileRecord, segmentsDueAt } from '../domain/profile-record';
import { batchGetAll } from './batch';
import { putIfVersion } from './versioned-put';

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

/** Erasure: profiles deleted outright. */
export interface ProfileDeleter {
  /** Deletes the profiles (absent ones are fine). */
  deleteAll(profileIds: readonly string[]): Promise<void>;
}

/** The profiles the scheduled segment pass must look at. */
export interface DueProfiles {
  /** Ids of up to `limit` profiles whose segments are due (`segmentsDueAt` ≤ `nowMs`), the most overdue of each shard first. */
  listDue(nowMs: number, limit: number): Promise<string[]>;
}

const PK = PROFILES_KEY.partitionKey;

/**
 * Profiles in DynamoDB, one item each: `pk`, the state as JSON in `profile` (JSON keeps any trait value
 * storable, whatever DynamoDB's number range or nesting limits), `seen` (packed message-id hashes),
 * `version`, `expiresAt` (TTL) and `updatedAt`; with identity resolution `mergedInto` (a redirect), `linked`
 * (JSON) and `linksExpireAt`; with segments `memberships` and `notices` (JSON), and `dueShard`/`dueAt`, the
 * keys of the sparse index the scheduled segment pass reads (`SEGMENTS_DUE_INDEX`).
 */
export class DynamoDbProfileStore implements ProfileStore, DueProfiles, ProfileDeleter {
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

  async deleteAll(profileIds: readonly string[]): Promise<void> {
    for (const id of profileIds) await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { [PK]: { S: id } } }));
  }

  async listDue(nowMs: number, limit: number): Promise<string[]> {
    const perShard = Math.ceil(limit / SEGMENTS_DUE_INDEX.shards);
    const shards = await Promise.all(
      Array.from({ length: SEGMENTS_DUE_INDEX.shards }, async (_, shard) => {
        const out = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: SEGMENTS_DUE_INDEX.indexName,
            KeyConditionExpression: '#shard = :shard AND #due <= :now',
            ExpressionAttributeNames: { '#shard': SEGMENTS_DUE_INDEX.partitionKey, '#due': SEGMENTS_DUE_INDEX.sortKey },
            ExpressionAttributeValues: { ':shard': { S: String(shard) }, ':now': { N: String(nowMs) } },
            Limit: perShard,
          }),
        );
        return (out.Items ?? []).map((item) => item[PK].S as string);
      }),
    );
    return shards.flat().slice(0, limit);
  }

  put(record: ProfileRecord, expectedVersion: number | undefined): Promise<boolean> {
    return putIfVersion(this.client, this.tableName, PK, toItem(record), expectedVersion);
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
    ...(record.memberships !== undefined ? { memberships: { S: JSON.stringify(record.memberships) } } : {}),
    ...(record.notices !== undefined ? { notices: { S: JSON.stringify(record.notices) } } : {}),
    ...dueKeys(record),
  };
}

/** The due-index keys of a profile with segments due, spread over the shards by a hash of its id. */
function dueKeys(record: ProfileRecord): Record<string, AttributeValue> {
  const dueAt = segmentsDueAt(record);
  if (dueAt === undefined) return {};
  const shard = createHash('sha256').update(record.state.profileId).digest().readUInt32BE(0) % SEGMENTS_DUE_INDEX.shards;
  return { [SEGMENTS_DUE_INDEX.partitionKey]: { S: String(shard) }, [SEGMENTS_DUE_INDEX.sortKey]: { N: String(dueAt) } };
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
    ...(item.memberships?.S !== undefined ? { memberships: JSON.parse(item.memberships.S) } : {}),
    ...(item.notices?.S !== undefined ? { notices: JSON.parse(item.notices.S) } : {}),
  };
}
