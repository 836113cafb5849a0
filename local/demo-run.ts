import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { localDynamoDb, signedFetch } from './clients';
import { generateDemo, writeJsonLines } from './demo';
import { readLakeEvents } from './lake-writer';
import { replayEvents } from './replay';
import { LocalRuntime } from './runtime';
import { itemsTableOf, trainLocal } from './train';

export interface DemoResult {
  items: number;
  accepted: number;
  rejected: number;
  modelVersion: string;
  /** A known user with history, an anonymous visitor with history, and an item with neighbours. */
  examples: { userId: string; anonymousId: string; itemId: string };
}

/**
 * `npm start -- --demo`: loads a generated shop into a running local runtime (catalog through `PUT /v1/items`,
 * events through `/v1/batch`), waits until the lake holds them, and trains the first model.
 */
export async function loadDemo(runtime: LocalRuntime, keys: { writeKey: string }, log: (message: string) => void): Promise<DemoResult> {
  const demo = generateDemo({ now: Date.now() });
  for (let i = 0; i < demo.items.length; i += 500) {
    // The catalog API is IAM-authorized: signed with the local credentials.
    const response = await signedFetch(`${runtime.url}/v1/items`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ items: demo.items.slice(i, i + 500) }),
    });
    if (!response.ok) throw new Error(`Loading the demo catalog failed: ${response.status} ${await response.text()}`);
  }
  log(`Catalog: ${demo.items.length} items`);

  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'personalization-demo-')), 'events.jsonl');
  await writeJsonLines(file, demo.events);
  const summary = await replayEvents({ file, url: runtime.url, writeKey: keys.writeKey });
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  if (summary.aborted) throw new Error(`Replaying the demo events failed: ${summary.aborted}`);
  log(`Events: ${summary.accepted} accepted, ${summary.rejected} rejected`);

  await lakeHolds(runtime.lakeDir, new Set(demo.events.map((e) => e.messageId)));
  const dynamodb = localDynamoDb(runtime.endpoints.dynamodb);
  try {
    const trained = await trainLocal({ dynamodb, itemsTable: itemsTableOf(runtime.model), lakeDir: runtime.lakeDir, log });
    const known = demo.events.find((e) => e.userId !== undefined && e.event === 'Order Completed') ?? demo.events[0];
    const anonymous = demo.events.find((e) => e.userId === undefined) ?? demo.events[0];
    const bought = (known.properties.products as Array<{ product_id: string }> | undefined)?.[0]?.product_id ?? demo.items[0].itemId;
    return {
      items: demo.items.length,
      accepted: summary.accepted,
      rejected: summary.rejected,
      modelVersion: trained.version,
      examples: { userId: known.userId ?? known.anonymousId, anonymousId: anonymous.anonymousId, itemId: bought },
    };
  } finally {
    dynamodb.destroy();
  }
}

/** Waits until every demo event is in the lake (the lake writer flushes about once a second). */
async function lakeHolds(lakeDir: string, messageIds: Set<string>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let found = 0;
    for await (const event of readLakeEvents(lakeDir)) if (messageIds.has(event.messageId)) found++;
    if (found >= messageIds.size) return;
    if (Date.now() > deadline) throw new Error(`Only ${found} of ${messageIds.size} demo events reached the lake within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
