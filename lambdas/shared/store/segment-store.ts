import { AttributeValue, DeleteItemCommand, DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { SEGMENTS_KEY } from '../env';
import { RequestError } from '../domain/errors';
import { parseSegmentDefinition, SegmentDefinition } from '../domain/segments';
import { backoffMs, DEFAULT_RETRY, RetryPolicy, sleep } from './retry';
import { putIfVersion } from './versioned-put';

/** A segment definition as stored. Times are epoch ms. */
export interface StoredSegment {
  definition: SegmentDefinition;
  /** 1 when created, + 1 on every replacement. */
  version: number;
  createdAt: number;
  updatedAt: number;
}

/**
 * A stored definition that no longer validates (written by an older version with a looser schema, or edited by
 * hand): never evaluated, but still stored, counted and shown, so an administrator can replace or delete it.
 */
export interface InvalidSegment {
  id: string;
  /** Why it does not validate (the schema's message). */
  problem: string;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** Every stored definition, each sorted by id: those that validate, and those that no longer do. */
export interface SegmentListing {
  segments: StoredSegment[];
  invalid: InvalidSegment[];
}

/**
 * The segment definitions. Reads re-validate every definition with today's schema: one that no longer validates
 * is returned apart (`InvalidSegment`), never thrown, so a single bad item cannot stop the processor or the API.
 */
export interface SegmentStore {
  /** Every definition, sorted by id (strongly consistent). */
  list(): Promise<SegmentListing>;
  get(segmentId: string): Promise<StoredSegment | InvalidSegment | undefined>;
  /**
   * `create`: only if the id is free, else `'exists'`. `replace`: creates, or replaces whatever is stored (valid or
   * not) with version + 1 and `createdAt` kept. Both write conditionally, so of two concurrent replaces neither is
   * lost: the second sees the first's version and writes after it.
   */
  put(definition: SegmentDefinition, nowMs: number, mode: 'create'): Promise<StoredSegment | 'exists'>;
  put(definition: SegmentDefinition, nowMs: number, mode: 'replace'): Promise<StoredSegment>;
  /** False when there was none. */
  delete(segmentId: string): Promise<boolean>;
}

export const isInvalidSegment = (found: StoredSegment | InvalidSegment): found is InvalidSegment => 'problem' in found;

export interface DynamoDbSegmentStoreOptions {
  /**
   * Items per Scan page of `list`.
   * @default DynamoDB's (1 MB of items)
   */
  pageSize?: number;
  /**
   * Read-and-write rounds of a `replace` that keeps losing to concurrent writers, with backoff.
   * @default DEFAULT_RETRY (5 attempts)
   */
  retry?: RetryPolicy;
}

const PK = SEGMENTS_KEY.partitionKey;

/** The bookkeeping of a stored item, which a replacement builds on. */
type StoredMeta = Pick<StoredSegment, 'version' | 'createdAt'>;

/**
 * Segment definitions in DynamoDB, one item each: `pk` (the segment id), `definition` (JSON, so a definition reads
 * back as written whatever its nesting), `version`, `createdAt` and `updatedAt` (epoch ms).
 */
export class DynamoDbSegmentStore implements SegmentStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly options: DynamoDbSegmentStoreOptions = {},
  ) {}

  async list(): Promise<SegmentListing> {
    const listing: SegmentListing = { segments: [], invalid: [] };
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          ...(this.options.pageSize ? { Limit: this.options.pageSize } : {}),
        }),
      );
      for (const item of out.Items ?? []) {
        const found = fromItem(item);
        if (isInvalidSegment(found)) listing.invalid.push(found);
        else listing.segments.push(found);
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    listing.segments.sort((a, b) => byId(a.definition.id, b.definition.id));
    listing.invalid.sort((a, b) => byId(a.id, b.id));
    return listing;
  }

  async get(segmentId: string): Promise<StoredSegment | InvalidSegment | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: keyOf(segmentId), ConsistentRead: true }));
    return out.Item ? fromItem(out.Item) : undefined;
  }

  put(definition: SegmentDefinition, nowMs: number, mode: 'create'): Promise<StoredSegment | 'exists'>;
  put(definition: SegmentDefinition, nowMs: number, mode: 'replace'): Promise<StoredSegment>;
  async put(definition: SegmentDefinition, nowMs: number, mode: 'create' | 'replace'): Promise<StoredSegment | 'exists'> {
    if (mode === 'create') {
      const created = { definition, version: 1, createdAt: nowMs, updatedAt: nowMs };
      return (await this.write(created, undefined)) ? created : 'exists';
    }
    const policy = this.options.retry ?? DEFAULT_RETRY;
    for (let attempt = 0; attempt < policy.attempts; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt, policy));
      const current = await this.meta(definition.id);
      const next = { definition, version: (current?.version ?? 0) + 1, createdAt: current?.createdAt ?? nowMs, updatedAt: nowMs };
      if (await this.write(next, current?.version)) return next;
    }
    throw new Error(`Segment ${definition.id} was not replaced: concurrent writers won ${policy.attempts} times in a row`);
  }

  async delete(segmentId: string): Promise<boolean> {
    const out = await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: keyOf(segmentId), ReturnValues: 'ALL_OLD' }));
    return out.Attributes !== undefined;
  }

  /** The stored item's version and creation time, whatever its definition holds. */
  private async meta(segmentId: string): Promise<StoredMeta | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: keyOf(segmentId), ConsistentRead: true, ProjectionExpression: 'version, createdAt' }),
    );
    return out.Item ? { version: Number(out.Item.version.N), createdAt: Number(out.Item.createdAt.N) } : undefined;
  }

  /** Writes `segment` only if the stored item still has `expectedVersion` (undefined: no item); false when it had not. */
  private write(segment: StoredSegment, expectedVersion: number | undefined): Promise<boolean> {
    return putIfVersion(this.client, this.tableName, PK, toItem(segment), expectedVersion);
  }
}

/**
 * The definitions to evaluate, read through `store` at most once every `ttlMs` (the profile processor calls this
 * for every batch): callers that arrive while a read is in flight share it. A failed read rejects, for every caller
 * sharing it, and the next call reads again: it never answers "no segments" for "could not read them". Each read
 * that finds definitions which no longer validate leaves them out and hands them to `onInvalid`: pass one that
 * logs through the function's logger; by default they are logged as an error on stderr (the function's log).
 */
export function cachedDefinitions(
  store: SegmentStore,
  ttlMs: number,
  now: () => number,
  onInvalid: (invalid: InvalidSegment[]) => void = logInvalidToStderr,
): () => Promise<SegmentDefinition[]> {
  let cached: { definitions: SegmentDefinition[]; readAt: number } | undefined;
  let reading: Promise<SegmentDefinition[]> | undefined;

  const read = async (): Promise<SegmentDefinition[]> => {
    const readAt = now();
    const { segments, invalid } = await store.list();
    if (invalid.length > 0) onInvalid(invalid);
    cached = { definitions: segments.map((s) => s.definition), readAt };
    return cached.definitions;
  };

  return () => {
    if (cached && now() - cached.readAt < ttlMs) return Promise.resolve(cached.definitions);
    reading ??= read().finally(() => (reading = undefined));
    return reading;
  };
}

function logInvalidToStderr(invalid: InvalidSegment[]): void {
  console.error(JSON.stringify({ level: 'ERROR', message: 'Segment definitions skipped: they no longer validate', invalid }));
}

const keyOf = (segmentId: string): Record<string, AttributeValue> => ({ [PK]: { S: segmentId } });

/** Ids are ASCII (lowercase letters, digits, hyphens): code-unit order, whatever the locale. */
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function toItem(segment: StoredSegment): Record<string, AttributeValue> {
  return {
    ...keyOf(segment.definition.id),
    definition: { S: JSON.stringify(segment.definition) },
    version: { N: String(segment.version) },
    createdAt: { N: String(segment.createdAt) },
    updatedAt: { N: String(segment.updatedAt) },
  };
}

/** The item's definition re-validated with today's schema; an `InvalidSegment` saying why when it does not. */
function fromItem(item: Record<string, AttributeValue>): StoredSegment | InvalidSegment {
  const id = item[PK].S as string;
  const meta = { version: Number(item.version.N), createdAt: Number(item.createdAt.N), updatedAt: Number(item.updatedAt.N) };
  const parsed = parseStored(id, item.definition?.S);
  return typeof parsed === 'string' ? { id, problem: parsed, ...meta } : { definition: parsed, ...meta };
}

/** The stored definition, or what is wrong with it. */
function parseStored(id: string, json: string | undefined): SegmentDefinition | string {
  if (json === undefined) return 'The item has no definition';
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return 'The stored definition is not JSON';
  }
  try {
    const definition = parseSegmentDefinition(raw);
    return definition.id === id ? definition : `The stored definition's id "${definition.id}" is not its key "${id}"`;
  } catch (error) {
    if (error instanceof RequestError) return error.message;
    throw error;
  }
}
