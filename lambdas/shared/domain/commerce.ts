import { LIMITS, parseIsoTimestamp, StreamEvent } from './event-schema';
import { isPlainObject } from './json';

/**
 * The Segment e-commerce v2 vocabulary as the profile (and later the recommender) reads it.
 * https://segment.com/docs/connections/spec/ecommerce/v2/
 */

/** Item interactions and how strongly each signals interest. A removal is recorded but adds no affinity. */
export const INTERACTION_WEIGHTS: Readonly<Record<string, number>> = {
  'Product Viewed': 1,
  'Product Clicked': 1,
  'Product Shared': 2,
  'Product Added to Wishlist': 2,
  'Product Reviewed': 2,
  'Product Added': 3,
  'Product Removed': 0,
  'Order Completed': 5,
};

/** Category-level signals without a single item (browsing a category page). */
export const CATEGORY_SIGNAL_WEIGHTS: Readonly<Record<string, number>> = {
  'Product List Viewed': 0.5,
  'Product List Filtered': 0.5,
};

export const ORDER_COMPLETED = 'Order Completed';
export const PRODUCT_ADDED = 'Product Added';
export const PRODUCT_REMOVED = 'Product Removed';

/** Item ids are ids like any other (the catalog and the rules allow the same length). */
const MAX_ITEM_ID_LENGTH = LIMITS.maxIdLength;
const MAX_CATEGORY_LENGTH = 100;

export interface ItemRef {
  itemId: string;
  category?: string;
  price?: number;
  quantity?: number;
}

/** The items an event is about: `products[]` for an order, the product in `properties` otherwise. */
export function itemsOf(eventName: string, properties: Record<string, unknown> | undefined): ItemRef[] {
  if (!properties) return [];
  if (eventName === ORDER_COMPLETED) {
    const products = Array.isArray(properties.products) ? properties.products : [];
    return products.filter(isPlainObject).map(itemRef).filter((i): i is ItemRef => i !== undefined);
  }
  const item = itemRef(properties);
  return item ? [item] : [];
}

function itemRef(product: Record<string, unknown>): ItemRef | undefined {
  const itemId = idString(product.product_id ?? product.productId ?? product.sku ?? product.id);
  if (itemId === undefined) return undefined;
  const category = normalizeCategory(product.category);
  const price = finiteNumber(product.price);
  const quantity = finiteNumber(product.quantity);
  return {
    itemId,
    ...(category !== undefined ? { category } : {}),
    ...(price !== undefined ? { price } : {}),
    ...(quantity !== undefined && quantity > 0 ? { quantity } : {}),
  };
}

/** A `track` event that signals interest in items: its name, weight, time and items. */
export interface ItemInteraction {
  name: string;
  /** The name's weight in `INTERACTION_WEIGHTS`, always positive. */
  weight: number;
  /** When the event happened (its `timestamp`, epoch ms). */
  at: number;
  /** The items it is about (possibly none); `Order Completed` has one per product, repeats included. */
  items: ItemRef[];
}

/**
 * The item interaction a stream event is, or undefined: only a `track` event whose name has a positive
 * `INTERACTION_WEIGHTS` weight is one (a removal from the cart, weight 0, is not).
 */
export function itemInteractionOf(event: StreamEvent): ItemInteraction | undefined {
  const name = event.event;
  if (event.type !== 'track' || name === undefined || !Object.hasOwn(INTERACTION_WEIGHTS, name)) return undefined;
  const weight = INTERACTION_WEIGHTS[name];
  if (weight <= 0) return undefined;
  // Validated by StreamEventSchema: `timestamp` is a parseable ISO-8601 date-time.
  const at = parseIsoTimestamp(event.timestamp) as number;
  return { name, weight, at, items: itemsOf(name, event.properties) };
}

/** Categories are compared case-insensitively and with single spaces: "Shoes " and "shoes" are one category. */
export function normalizeCategory(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const category = value.trim().replace(/\s+/g, ' ').toLowerCase();
  return category.length > 0 && category.length <= MAX_CATEGORY_LENGTH ? category : undefined;
}

/**
 * An order's revenue, by the Spec's precedence: `revenue`, else `total`, else the sum of its products.
 * Currency conversion is out of scope: amounts are summed as sent.
 */
export function orderRevenue(properties: Record<string, unknown> | undefined): number {
  if (!properties) return 0;
  const stated = finiteNumber(properties.revenue) ?? finiteNumber(properties.total);
  if (stated !== undefined) return stated;
  return itemsOf(ORDER_COMPLETED, properties).reduce((sum, item) => sum + (item.price ?? 0) * (item.quantity ?? 1), 0);
}

/** Numbers, and numeric strings (some clients send "12.50"). */
export function finiteNumber(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function idString(value: unknown): string | undefined {
  const id = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value.trim() : undefined;
  return id && id.length <= MAX_ITEM_ID_LENGTH ? id : undefined;
}
