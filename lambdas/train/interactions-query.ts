import { INTERACTION_WEIGHTS, ORDER_COMPLETED } from '../shared/domain/commerce';
import { LIMITS, parseIsoTimestamp } from '../shared/domain/event-schema';
import { Interaction } from '../shared/domain/model';
import { DEFAULT_TRAINING_OPTIONS } from '../shared/domain/training';

/**
 * The lake's item interactions, aggregated by the query engine: Athena in AWS, DuckDB on a laptop (the same
 * Trino SQL; see `local/lake-query.ts` for the dialect translation). The heavy part (scanning, de-duplicating and
 * grouping billions of events) happens in the engine; what comes back is one row per person, item, event name,
 * category and trending flag, which `interactionsOfRows` turns into `Interaction`s that carry a `count`.
 *
 * Training on these rows gives exactly the model that training on the events one by one gives (a test checks
 * it): the weight sums, the categories by count, the latest time per person and item, and the trending split
 * (each group is split at the newest interaction minus `trendingWindowDays`, the boundary `trainModel` uses)
 * are all preserved.
 *
 * The SQL mirrors `interactionsOf` (lambdas/shared/domain/interactions.ts): `track` events whose name has a
 * positive weight; their item is `properties` itself, or each element of `properties.products` for an order;
 * the id is the first of `product_id`, `productId`, `sku`, `id` that is present, trimmed; the subject is
 * `user#<userId>`, else `anon#<anonymousId>`. Known difference: an id given as a JSON object is skipped here and
 * by `itemsOf`, but a boolean id becomes "true"/"false" here where `itemsOf` skips it.
 */

export interface InteractionsQueryOptions {
  /** Events received in this many days before `now` are read (partitions before are not scanned). */
  windowDays: number;
  /** Epoch ms. */
  now: number;
  /** Must match the training's `trendingWindowDays`. @default DEFAULT_TRAINING_OPTIONS.trendingWindowDays */
  trendingWindowDays?: number;
}

const DAY_MS = 86_400_000;

/** Trino SQL over the `events` table (Glue in AWS, a DuckDB view locally). */
export function interactionsQuery(options: InteractionsQueryOptions): string {
  const trendingDays = options.trendingWindowDays ?? DEFAULT_TRAINING_OPTIONS.trendingWindowDays;
  if (!Number.isInteger(trendingDays) || trendingDays < 1) throw new Error(`trendingWindowDays must be a positive integer, got ${trendingDays}`);
  if (!(options.windowDays > 0)) throw new Error(`windowDays must be positive, got ${options.windowDays}`);
  const start = new Date(options.now - options.windowDays * DAY_MS).toISOString();
  const names = Object.entries(INTERACTION_WEIGHTS)
    .filter(([, weight]) => weight > 0)
    .map(([name]) => sqlString(name))
    .join(', ');
  const id = ['product_id', 'productId', 'sku', 'id'].map((key) => `json_extract_scalar(product, '$.${key}')`).join(', ');
  return `-- Item interactions of the last ${options.windowDays} days, aggregated for training (lambdas/train/interactions-query.ts)
WITH track AS (
  SELECT userid, anonymousid, event, "timestamp", properties,
         row_number() OVER (PARTITION BY messageid ORDER BY receivedat) AS copy
  FROM events
  WHERE dt >= ${sqlString(start.slice(0, 10))}
    AND from_iso8601_timestamp(receivedat) >= from_iso8601_timestamp(${sqlString(start)})
    AND type = 'track'
    AND event IN (${names})
),
items AS (
  SELECT CASE WHEN userid IS NOT NULL THEN 'user#' || userid ELSE 'anon#' || anonymousid END AS subject,
         event,
         "timestamp" AS at_text,
         from_iso8601_timestamp("timestamp") AS happened_at,
         trim(coalesce(${id})) AS item_id,
         json_extract_scalar(product, '$.category') AS category
  FROM track
  CROSS JOIN UNNEST(
    CASE WHEN event = ${sqlString(ORDER_COMPLETED)}
         THEN coalesce(TRY_CAST(json_extract(properties, '$.products') AS ARRAY(JSON)), ARRAY[])
         ELSE ARRAY[json_parse(properties)]
    END) AS t(product)
  WHERE copy = 1
),
usable AS (
  SELECT * FROM items WHERE item_id <> '' AND length(item_id) <= ${LIMITS.maxIdLength}
),
newest AS (
  SELECT max(happened_at) AS newest_at FROM usable
)
SELECT subject, item_id, event, category,
       happened_at >= newest_at - INTERVAL '${trendingDays}' DAY AS recent,
       count(*) AS n,
       max_by(at_text, happened_at) AS last_at
FROM usable CROSS JOIN newest
GROUP BY 1, 2, 3, 4, 5`;
}

/** One result row, as Athena's CSV (all text) or DuckDB (typed) gives it. */
export type AggregateRow = Record<string, unknown>;

/** Rows read by `interactionsOfRows`, and those of them that could not be read (skipped). */
export interface RowCounts {
  rows: number;
  skipped: number;
}

/** The rows of `interactionsQuery` as interactions, counted in `counts` as they go. */
export async function* interactionsOfRows(rows: AsyncIterable<AggregateRow> | Iterable<AggregateRow>, counts: RowCounts = { rows: 0, skipped: 0 }): AsyncGenerator<Interaction> {
  for await (const row of rows) {
    counts.rows += 1;
    const interaction = interactionOfRow(row);
    if (interaction) yield interaction;
    else counts.skipped += 1;
  }
}

export function interactionOfRow(row: AggregateRow): Interaction | undefined {
  const { subject, item_id: itemId, event, category } = row;
  const count = Number(row.n);
  const at = typeof row.last_at === 'string' ? parseIsoTimestamp(row.last_at) : undefined;
  if (typeof subject !== 'string' || typeof itemId !== 'string' || typeof event !== 'string' || at === undefined || !(count > 0)) return undefined;
  return {
    subject,
    itemId,
    event,
    at,
    count,
    ...(typeof category === 'string' && category !== '' ? { categories: [category] } : {}),
  };
}

const sqlString = (text: string) => `'${text.replace(/'/g, "''")}'`;
