import { ProfileRecord, segmentsDueAt } from '../../lambdas/shared/domain/profile-record';
import type { DueProfiles, ProfileDeleter, ProfileStore } from '../../lambdas/shared/store/profile-store';

export interface PutAttempt {
  profileId: string;
  expectedVersion: number | undefined;
  version: number;
  /** Whether the conditional write succeeded. */
  ok: boolean;
}

/** Hook run at the start of a store call: throw to inject a failure, or write through `store.seed` to simulate a concurrent writer. */
export type StoreHook<A extends unknown[]> = (store: InMemoryProfileStore, ...args: A) => void | Promise<void>;

/**
 * A `ProfileStore` in memory with DynamoDB's semantics as `DynamoDbProfileStore` uses them:
 * - `put` is conditional on the stored version (`expectedVersion` undefined: the item must not exist);
 * - records are stored and returned as deep copies, the state round-tripped through JSON (as the real store
 *   keeps it), so a caller that mutates what it read or wrote cannot go unnoticed;
 * - expired records are still returned (DynamoDB deletes them late): callers decide with `isExpired`.
 */
export class InMemoryProfileStore implements ProfileStore, DueProfiles, ProfileDeleter {
  private readonly items = new Map<string, ProfileRecord>();
  readonly calls = { getMany: 0, get: 0, put: 0 };
  readonly puts: PutAttempt[] = [];

  beforeGetMany?: StoreHook<[profileIds: readonly string[]]>;
  beforeGet?: StoreHook<[profileId: string]>;
  beforePut?: StoreHook<[record: ProfileRecord, expectedVersion: number | undefined]>;

  /** Successful writes so far. */
  get writes(): number {
    return this.puts.filter((p) => p.ok).length;
  }

  /** Writes unconditionally (test setup, or a concurrent writer inside a hook). */
  seed(record: ProfileRecord): void {
    this.items.set(record.state.profileId, copyRecord(record));
  }

  /** The stored record (a copy), bypassing the call counters. */
  peek(profileId: string): ProfileRecord | undefined {
    const record = this.items.get(profileId);
    return record && copyRecord(record);
  }

  ids(): string[] {
    return [...this.items.keys()];
  }

  async getMany(profileIds: readonly string[]): Promise<Map<string, ProfileRecord>> {
    this.calls.getMany += 1;
    await this.beforeGetMany?.(this, profileIds);
    const found = new Map<string, ProfileRecord>();
    for (const id of profileIds) {
      const record = this.items.get(id);
      if (record) found.set(id, copyRecord(record));
    }
    return found;
  }

  async get(profileId: string): Promise<ProfileRecord | undefined> {
    this.calls.get += 1;
    await this.beforeGet?.(this, profileId);
    return this.peek(profileId);
  }

  async deleteAll(profileIds: readonly string[]): Promise<void> {
    for (const id of profileIds) this.items.delete(id);
  }

  async listDue(nowMs: number, limit: number): Promise<string[]> {
    const due = [...this.items.values()].flatMap((r) => {
      const at = segmentsDueAt(r);
      return at !== undefined && at <= nowMs ? [[at, r.state.profileId] as const] : [];
    });
    return due.sort((a, b) => a[0] - b[0]).slice(0, limit).map(([, id]) => id);
  }

  async put(record: ProfileRecord, expectedVersion: number | undefined): Promise<boolean> {
    this.calls.put += 1;
    await this.beforePut?.(this, record, expectedVersion);
    const profileId = record.state.profileId;
    const stored = this.items.get(profileId);
    const ok = expectedVersion === undefined ? stored === undefined : stored !== undefined && stored.version === expectedVersion;
    this.puts.push({ profileId, expectedVersion, version: record.version, ok });
    if (ok) this.items.set(profileId, copyRecord(record));
    return ok;
  }
}

export function copyRecord(record: ProfileRecord): ProfileRecord {
  return { ...JSON.parse(JSON.stringify({ ...record, seen: undefined })), seen: Uint8Array.from(record.seen) };
}
