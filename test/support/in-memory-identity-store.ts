import type { IdentityLink, IdentityStore } from '../../lambdas/shared/store/identity-store';

/**
 * An `IdentityStore` in memory with the semantics `DynamoDbIdentityStore` gives: `link` is first-wins
 * (conditional on the id being free, linked to the same profile, or expired), reads return expired links too.
 */
export class InMemoryIdentityStore implements IdentityStore {
  readonly links = new Map<string, IdentityLink>();
  readonly calls = { getMany: 0, link: 0, putAll: 0, deleteAll: 0 };
  /** Hook run at the start of `link`: throw to inject a failure. */
  beforeLink?: (link: IdentityLink) => void | Promise<void>;

  async getMany(ids: readonly string[]): Promise<Map<string, IdentityLink>> {
    this.calls.getMany += 1;
    return new Map(ids.flatMap((id) => (this.links.has(id) ? [[id, { ...(this.links.get(id) as IdentityLink) }] as const] : [])));
  }

  async link(link: IdentityLink): Promise<string> {
    this.calls.link += 1;
    await this.beforeLink?.(link);
    const existing = this.links.get(link.id);
    if (existing && existing.canonicalId !== link.canonicalId && existing.expiresAt > Math.floor(link.linkedAt / 1000)) return existing.canonicalId;
    this.links.set(link.id, { ...link });
    return link.canonicalId;
  }

  async putAll(links: readonly IdentityLink[]): Promise<void> {
    this.calls.putAll += 1;
    for (const link of links) this.links.set(link.id, { ...link });
  }

  async deleteAll(ids: readonly string[]): Promise<void> {
    this.calls.deleteAll += 1;
    for (const id of ids) this.links.delete(id);
  }

  /** id → linked profile id, for assertions. */
  snapshot(): Record<string, string> {
    return Object.fromEntries([...this.links].map(([id, link]) => [id, link.canonicalId]).sort());
  }
}
