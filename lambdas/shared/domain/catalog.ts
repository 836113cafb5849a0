import { z } from 'zod';
import { normalizeCategory } from './commerce';
import { RequestError } from './errors';
import { describeIssues, LIMITS, parseIsoTimestamp } from './event-schema';
import { exceedsDepth, isPlainObject, jsonBytes } from './json';

/**
 * The item catalog as `PUT /v1/items` accepts it: pure validation of a request body into the items to store.
 *
 * The body is `{ "items": [ … ] }` only. A bare array is refused: one shape for clients to learn, and room for
 * request-level fields later without a second format. Each item is validated on its own, so a batch with invalid
 * items still yields its valid ones; the caller writes those and reports the rest by index.
 *
 * An upsert replaces the whole item: a field left out (or sent as `null`) takes its default, it does not keep
 * the stored value. Unknown fields are refused rather than dropped, so a misspelt `availabel: false` cannot
 * silently leave an item recommendable; custom data belongs in `attributes`.
 *
 * An itemId may appear only once per request: every occurrence of a repeated id is rejected, since which one the
 * client meant cannot be known (and BatchWriteItem refuses repeated keys anyway).
 */

export const CATALOG_LIMITS = {
  /** Items per `PUT /v1/items` request. */
  maxItemsPerRequest: 500,
  /** Request body, after decompression. */
  maxRequestBytes: 1024 * 1024,
  /** Same as event ids: item ids come from events' `product_id` too. */
  maxItemIdLength: LIMITS.maxIdLength,
  /** Distinct categories per item (after normalization). */
  maxCategories: 20,
  /** Distinct tags per item. */
  maxTags: 50,
  maxTagLength: 100,
  /** `attributes`, serialized as JSON. */
  maxAttributesBytes: 16 * 1024,
  /** Nesting depth of `attributes` (deeper JSON is almost always hostile). */
  maxAttributesDepth: 32,
} as const;

/** A catalog item as stored (and as training and serving read it). */
export interface CatalogItem {
  itemId: string;
  /** Normalized with `normalizeCategory`, without duplicates, in the order sent. */
  categories: string[];
  price?: number;
  /** Unavailable items are never recommended. */
  available: boolean;
  tags: string[];
  attributes: Record<string, unknown>;
  /** Epoch ms. */
  createdAt?: number;
  /** When this version of the item was written (epoch ms). */
  updatedAt: number;
}

/** Why one item of a request was rejected. */
export interface CatalogItemError {
  /** Position in the request's `items` array. */
  index: number;
  /** The item's id, when it has a valid one. */
  itemId?: string;
  reason: string;
}

export interface CatalogValidation {
  /** The valid items, in request order, ready to store. */
  items: CatalogItem[];
  errors: CatalogItemError[];
}

/** `null` counts as absent for optional fields. */
const nullToUndefined = (v: unknown) => (v === null ? undefined : v);

/** Numbers become strings and strings are trimmed, as `commerce.ts` reads product ids from events. */
const normalizeItemId = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : typeof v === 'string' ? v.trim() : nullToUndefined(v));

const ItemId = z.preprocess(
  normalizeItemId,
  z
    .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string or a number') })
    .min(1, 'must not be empty')
    .max(CATALOG_LIMITS.maxItemIdLength, `must be at most ${CATALOG_LIMITS.maxItemIdLength} characters`),
);

const unique = (values: string[]) => [...new Set(values)];

const Category = z.string({ error: 'must be a string' }).transform((value, ctx) => {
  const category = normalizeCategory(value);
  if (category === undefined) ctx.issues.push({ code: 'custom', message: 'must be 1-100 characters after trimming', input: value });
  return category ?? z.NEVER;
});

const Categories = z
  .array(Category, { error: (issue) => (issue.input === undefined ? 'is required (an array, possibly empty)' : 'must be an array of strings') })
  .transform(unique)
  .refine((c) => c.length <= CATALOG_LIMITS.maxCategories, `must hold at most ${CATALOG_LIMITS.maxCategories} distinct categories`);

const Tag = z
  .string({ error: 'must be a string' })
  .trim()
  .min(1, 'must not be empty')
  .max(CATALOG_LIMITS.maxTagLength, `must be at most ${CATALOG_LIMITS.maxTagLength} characters`);

const Tags = z
  .array(Tag, { error: 'must be an array of strings' })
  .transform(unique)
  .refine((t) => t.length <= CATALOG_LIMITS.maxTags, `must hold at most ${CATALOG_LIMITS.maxTags} distinct tags`);

/** Depth is checked before size: measuring the size serializes the value, which recursion-limits on hostile nesting. */
const Attributes = z.record(z.string(), z.unknown(), { error: 'must be a JSON object' }).superRefine((attributes, ctx) => {
  if (exceedsDepth(attributes, CATALOG_LIMITS.maxAttributesDepth)) {
    ctx.addIssue({ code: 'custom', message: `must not be nested deeper than ${CATALOG_LIMITS.maxAttributesDepth} levels` });
    return;
  }
  const bytes = jsonBytes(attributes);
  if (bytes > CATALOG_LIMITS.maxAttributesBytes) {
    ctx.addIssue({ code: 'custom', message: `is ${bytes} bytes as JSON; the limit is ${CATALOG_LIMITS.maxAttributesBytes} bytes (16 KB)` });
  }
});

const CreatedAt = z.string({ error: 'must be an ISO-8601 date-time string' }).transform((value, ctx) => {
  const ms = parseIsoTimestamp(value);
  if (ms === undefined) ctx.issues.push({ code: 'custom', message: 'must be an ISO-8601 date-time such as 2024-05-01T12:00:00.000Z', input: value });
  return ms ?? z.NEVER;
});

const CatalogItemSchema = z.strictObject(
  {
    itemId: ItemId,
    categories: Categories,
    price: z.preprocess(nullToUndefined, z.number({ error: 'must be a number' }).min(0, 'must not be negative').optional()),
    available: z.preprocess(nullToUndefined, z.boolean({ error: 'must be true or false' }).default(true)),
    tags: z.preprocess(nullToUndefined, Tags.default(() => [])),
    attributes: z.preprocess(nullToUndefined, Attributes.default(() => ({}))),
    createdAt: z.preprocess(nullToUndefined, CreatedAt.optional()),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} (custom data belongs in attributes)`
        : undefined,
  },
);

/**
 * Validates a `PUT /v1/items` body. Problems with the request as a whole (not `{ "items": [ … ] }`, no items, too
 * many) throw a `RequestError`; problems with one item reject that item only, listed in `errors` by index.
 * `now` (epoch ms) becomes every item's `updatedAt`.
 */
export function validateCatalogUpsert(body: unknown, now: number): CatalogValidation {
  const raw = requestItems(body);
  const itemIds = raw.map(itemIdOf);
  const repeated = repeatedIds(itemIds);
  const outcome: CatalogValidation = { items: [], errors: [] };
  raw.forEach((candidate, index) => {
    const itemId = itemIds[index];
    const parsed = CatalogItemSchema.safeParse(candidate);
    const reasons: string[] = [];
    if (!parsed.success) reasons.push(isPlainObject(candidate) ? describeIssues(parsed.error) : 'Item must be a JSON object');
    const occurrences = itemId === undefined ? undefined : repeated.get(itemId);
    if (occurrences) reasons.push(repeatedIdReason(occurrences));

    if (parsed.success && reasons.length === 0) outcome.items.push(toCatalogItem(parsed.data, now));
    else outcome.errors.push({ index, ...(itemId !== undefined ? { itemId } : {}), reason: reasons.join('; ') });
  });
  return outcome;
}

/**
 * An item id from a URL path (`DELETE /v1/items/{itemId}`), normalized as in a request body; a `RequestError`
 * (400) when it is not a valid item id.
 */
export function parseItemId(value: string): string {
  const parsed = ItemId.safeParse(value);
  if (!parsed.success) throw new RequestError(400, `itemId ${parsed.error.issues[0].message}`);
  return parsed.data;
}

function requestItems(body: unknown): unknown[] {
  if (Array.isArray(body)) throw new RequestError(400, 'Request body must be an object {"items": [...]}, not a bare array');
  if (!isPlainObject(body)) throw new RequestError(400, 'Request body must be a JSON object {"items": [...]}');
  const unknownKeys = Object.keys(body).filter((key) => key !== 'items');
  if (unknownKeys.length > 0) throw new RequestError(400, `Unknown field ${unknownKeys.join(', ')} in the request body; expected {"items": [...]}`);
  const { items } = body;
  if (!Array.isArray(items)) throw new RequestError(400, 'Request body needs an "items" array');
  if (items.length === 0) throw new RequestError(400, 'The "items" array is empty');
  if (items.length > CATALOG_LIMITS.maxItemsPerRequest) {
    throw new RequestError(400, `The "items" array holds ${items.length} items; send at most ${CATALOG_LIMITS.maxItemsPerRequest} per request`);
  }
  return items;
}

/** The (normalized) id of a raw item, when it has a valid one. */
function itemIdOf(candidate: unknown): string | undefined {
  if (!isPlainObject(candidate)) return undefined;
  const parsed = ItemId.safeParse(candidate.itemId);
  return parsed.success ? parsed.data : undefined;
}

/** Ids that occur more than once in the request, with the indexes of every occurrence. */
function repeatedIds(itemIds: Array<string | undefined>): Map<string, number[]> {
  const indexes = new Map<string, number[]>();
  itemIds.forEach((itemId, index) => {
    if (itemId !== undefined) indexes.set(itemId, [...(indexes.get(itemId) ?? []), index]);
  });
  return new Map([...indexes].filter(([, at]) => at.length > 1));
}

const repeatedIdReason = (indexes: number[]) => `itemId appears more than once in this request (items ${indexes.join(', ')}); send each item once`;

function toCatalogItem(data: z.infer<typeof CatalogItemSchema>, now: number): CatalogItem {
  return {
    itemId: data.itemId,
    categories: data.categories,
    ...(data.price !== undefined ? { price: data.price } : {}),
    available: data.available,
    tags: data.tags,
    attributes: data.attributes,
    ...(data.createdAt !== undefined ? { createdAt: data.createdAt } : {}),
    updatedAt: now,
  };
}
