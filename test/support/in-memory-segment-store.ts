import type { SegmentDefinition } from '../../lambdas/shared/domain/segments';
import { InvalidSegment, isInvalidSegment, SegmentListing, SegmentStore, StoredSegment } from '../../lambdas/shared/store/segment-store';

type Entry = StoredSegment | InvalidSegment;

/**
 * A `SegmentStore` in memory with the semantics `DynamoDbSegmentStore` gives: `create` only when the id is free,
 * `replace` bumps the version and keeps `createdAt` (also over an invalid definition), listings sorted by id with
 * the definitions that no longer validate apart. Entries are stored and returned as deep copies.
 */
export class InMemorySegmentStore implements SegmentStore {
  private readonly entries = new Map<string, Entry>();
  readonly calls = { list: 0, get: 0, put: 0, delete: 0 };
  /** Hook run at the start of every call: throw to inject a failure. */
  beforeCall?: (method: keyof InMemorySegmentStore['calls']) => void;

  /** Stores an entry as it is (test setup): a valid one, or one that no longer validates. */
  seed(entry: Entry): void {
    this.entries.set(idOf(entry), copy(entry));
  }

  /** What is stored under `id`, for assertions. */
  peek(id: string): Entry | undefined {
    const entry = this.entries.get(id);
    return entry && copy(entry);
  }

  async list(): Promise<SegmentListing> {
    this.enter('list');
    const sorted = [...this.entries.values()].sort((a, b) => (idOf(a) < idOf(b) ? -1 : 1)).map(copy);
    return { segments: sorted.filter((e): e is StoredSegment => !isInvalidSegment(e)), invalid: sorted.filter(isInvalidSegment) };
  }

  async get(segmentId: string): Promise<Entry | undefined> {
    this.enter('get');
    return this.peek(segmentId);
  }

  put(definition: SegmentDefinition, nowMs: number, mode: 'create'): Promise<StoredSegment | 'exists'>;
  put(definition: SegmentDefinition, nowMs: number, mode: 'replace'): Promise<StoredSegment>;
  async put(definition: SegmentDefinition, nowMs: number, mode: 'create' | 'replace'): Promise<StoredSegment | 'exists'> {
    this.enter('put');
    const current = this.entries.get(definition.id);
    if (current && mode === 'create') return 'exists';
    const stored = { definition, version: (current?.version ?? 0) + 1, createdAt: current?.createdAt ?? nowMs, updatedAt: nowMs };
    this.entries.set(definition.id, copy(stored));
    return copy(stored);
  }

  async delete(segmentId: string): Promise<boolean> {
    this.enter('delete');
    return this.entries.delete(segmentId);
  }

  private enter(method: keyof InMemorySegmentStore['calls']): void {
    this.calls[method] += 1;
    this.beforeCall?.(method);
  }
}

const idOf = (entry: Entry) => (isInvalidSegment(entry) ? entry.id : entry.definition.id);
const copy = <T extends Entry>(entry: T): T => structuredClone(entry);

/**
 * The largest definition the schema accepts, near enough: 50 leaves (in nested `all`s of at most 20) each with the
 * longest trait key and a 4 KB trait value, and the longest name and description, in 3-byte characters.
 */
export function largestSegmentDefinition(id = 'largest'): SegmentDefinition {
  const leaf = (i: number) => ({ trait: { key: `${i}`.padEnd(128, 'k'), op: 'in' as const, value: ['v'.repeat(4092)] } });
  const leaves = (from: number, count: number) => ({ all: Array.from({ length: count }, (_, i) => leaf(from + i)) });
  return { id, name: '€'.repeat(128), description: '€'.repeat(1024), condition: { all: [leaves(0, 20), leaves(20, 20), leaves(40, 10)] } };
}
