/**
 * Runs `fn` on every item with at most `limit` calls in flight: `limit` workers each take the next item as soon
 * as their previous call settles, so items start in order. A rejected call rejects the returned promise at once
 * (the other workers still go through the remaining items); callers that must see every outcome catch inside `fn`.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
