import { AttributeValue, ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { IDENTITIES_KEY, TTL_ATTRIBUTE } from '../env';
import { Resolution, resolveCanonical } from '../domain/identity';
import { MergeScope } from '../domain/profile';
import { batchGetAll, batchWriteAll } from './batch';

/** One id linked to the profile of the person it belongs to (see `domain/identity.ts`). */
export interface IdentityLink {
  /** `user#…`, `anon#…` or `device#…`. */
  id: string;
  /** The profile id it is linked to (canonical when written; a later merge may add a hop). */
  canonicalId: string;
  /** `all`: deterministic; `history`: a device link. */
  scope: MergeScope;
  /** Epoch ms. */
  linkedAt: number;
  /** Epoch seconds (the table's TTL attribute): the canonical profile's expiry when written. */
  expiresAt: number;
}

/** The identity table. Reads return expired links too: callers ignore them (`liveLinks`). */
export interface IdentityStore {
  /** One hop for each id: the links found, strongly consistent. */
  getMany(ids: readonly string[]): Promise<Map<string, IdentityLink>>;
  /**
   * Links `link.id` unless it is linked to a different profile already (the first link wins); linking it again
   * to the same profile refreshes the link. Returns the profile id it is linked to after the call.
   */
  link(link: IdentityLink): Promise<string>;
  /** Writes links unconditionally: re-pointing a chain at its canonical profile, refreshing expiry. */
  putAll(links: readonly IdentityLink[]): Promise<void>;
  deleteAll(ids: readonly string[]): Promise<void>;
}

/** The links of `found` still alive at `nowMs` (DynamoDB deletes expired items up to two days late). */
export function liveLinks(found: Map<string, IdentityLink>, nowMs: number): Map<string, IdentityLink> {
  const now = Math.floor(nowMs / 1000);
  return new Map([...found].filter(([, link]) => link.expiresAt > now));
}

/** Every id's canonical profile at `nowMs`, following live links (see `resolveCanonical`). */
export function resolveIds(identities: IdentityStore, ids: readonly string[], nowMs: number): Promise<Map<string, Resolution>> {
  return resolveCanonical(ids, async (batch) => liveLinks(await identities.getMany(batch), nowMs));
}

const PK = IDENTITIES_KEY.partitionKey;

export class DynamoDbIdentityStore implements IdentityStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async getMany(ids: readonly string[]): Promise<Map<string, IdentityLink>> {
    if (ids.length === 0) return new Map();
    const items = await batchGetAll(this.client, this.tableName, [...new Set(ids)].map((id) => ({ [PK]: { S: id } })), { consistentRead: true });
    return new Map(items.map((item) => [item[PK].S as string, fromItem(item)]));
  }

  async link(link: IdentityLink): Promise<string> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem(link),
          // An expired link no longer holds the id: it can be taken (DynamoDB may not have deleted it yet).
          ConditionExpression: 'attribute_not_exists(#pk) OR canonicalId = :canonical OR #ttl <= :now',
          ExpressionAttributeNames: { '#pk': PK, '#ttl': TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ':canonical': { S: link.canonicalId }, ':now': { N: String(Math.floor(link.linkedAt / 1000)) } },
        }),
      );
      return link.canonicalId;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException')) throw error;
      const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { [PK]: { S: link.id } }, ConsistentRead: true }));
      // Deleted in between (erasure, TTL): nothing holds the id, so try again.
      return out.Item ? fromItem(out.Item).canonicalId : this.link(link);
    }
  }

  async putAll(links: readonly IdentityLink[]): Promise<void> {
    await batchWriteAll(this.client, this.tableName, links.map((link) => ({ PutRequest: { Item: toItem(link) } })));
  }

  async deleteAll(ids: readonly string[]): Promise<void> {
    await batchWriteAll(this.client, this.tableName, [...new Set(ids)].map((id) => ({ DeleteRequest: { Key: { [PK]: { S: id } } } })));
  }
}

function toItem(link: IdentityLink): Record<string, AttributeValue> {
  return {
    [PK]: { S: link.id },
    canonicalId: { S: link.canonicalId },
    scope: { S: link.scope },
    linkedAt: { N: String(link.linkedAt) },
    [TTL_ATTRIBUTE]: { N: String(link.expiresAt) },
  };
}

function fromItem(item: Record<string, AttributeValue>): IdentityLink {
  return {
    id: item[PK].S as string,
    canonicalId: item.canonicalId.S as string,
    scope: item.scope.S === 'history' ? 'history' : 'all',
    linkedAt: Number(item.linkedAt.N),
    expiresAt: Number(item[TTL_ATTRIBUTE].N),
  };
}
