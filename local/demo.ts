import * as fs from 'node:fs';
import { once } from 'node:events';
import * as path from 'node:path';
import { finished } from 'node:stream/promises';
import { mulberry32, Random, shuffle } from './random';

/**
 * A believable small shop for demos and tests: a catalog, and a few days of Segment e-commerce traffic from
 * known users with favourite categories and from anonymous visitors. Deterministic for a seed (and `now`).
 *
 * The traffic has the structure recommenders learn from: popularity that is skewed within each category, users
 * who browse and buy mostly in their one or two favourite categories, and items that are bought together (each
 * "bundle" anchor has companions, often from a complementary category: shoes and socks, books and stationery…).
 */

export interface DemoOptions {
  /** @default 42 */
  seed?: number;
  /** Catalog size. @default 300 */
  items?: number;
  /** Known users (`user-001`, …). @default 60 */
  users?: number;
  /** Visitors who never log in (`anonymousId` only). @default 40 */
  anonymousVisitors?: number;
  /** Events are spread over the `days` before `now`. @default 7 */
  days?: number;
  /** Epoch ms. @default Date.now() */
  now?: number;
}

/** A catalog item, in the shape `PUT /v1/items` accepts. */
export interface DemoItem {
  /** `sku-<category>-<nnn>`. */
  itemId: string;
  /** One normalized category. */
  categories: string[];
  price: number;
  available: boolean;
  tags: string[];
  attributes: { name: string; brand: string };
  /** ISO-8601. */
  createdAt: string;
}

/** A Segment `track` message, as a client sends it. */
export interface DemoEvent {
  type: 'track';
  event: 'Product Viewed' | 'Product Added' | 'Order Completed';
  userId?: string;
  anonymousId: string;
  messageId: string;
  /** ISO-8601. */
  timestamp: string;
  properties: Record<string, unknown>;
  context: { library: { name: string; version: string } };
}

export interface Demo {
  items: DemoItem[];
  /** In time order. */
  events: DemoEvent[];
}

interface CategorySpec {
  nouns: string[];
  price: [number, number];
  /** Categories whose items are bought together with this one's. */
  complement: string;
}

const CATEGORIES: Readonly<Record<string, CategorySpec>> = {
  shoes: { nouns: ['Runner', 'Sneaker', 'Boot', 'Loafer', 'Sandal', 'Trail Shoe'], price: [45, 180], complement: 'socks' },
  socks: { nouns: ['Crew Socks', 'Ankle Socks', 'Wool Socks', 'Running Socks'], price: [6, 22], complement: 'shoes' },
  jackets: { nouns: ['Parka', 'Rain Jacket', 'Bomber', 'Fleece', 'Down Jacket', 'Windbreaker'], price: [60, 260], complement: 'hats' },
  hats: { nouns: ['Beanie', 'Cap', 'Bucket Hat', 'Sun Hat'], price: [12, 45], complement: 'jackets' },
  bags: { nouns: ['Backpack', 'Tote', 'Duffel', 'Messenger Bag', 'Sling'], price: [25, 160], complement: 'watches' },
  watches: { nouns: ['Field Watch', 'Dive Watch', 'Chronograph', 'Watch Strap'], price: [20, 320], complement: 'bags' },
  books: { nouns: ['Novel', 'Cookbook', 'Field Guide', 'Biography', 'Atlas'], price: [9, 45], complement: 'stationery' },
  stationery: { nouns: ['Notebook', 'Fountain Pen', 'Planner', 'Sketchbook'], price: [4, 60], complement: 'books' },
  kitchen: { nouns: ['Chef Knife', 'Skillet', 'Dutch Oven', 'French Press', 'Coffee Grinder'], price: [18, 220], complement: 'coffee' },
  coffee: { nouns: ['Espresso Beans', 'Filter Roast', 'Decaf Blend', 'Single Origin'], price: [9, 28], complement: 'kitchen' },
};
const ADJECTIVES = ['Classic', 'Urban', 'Alpine', 'Coastal', 'Everyday', 'Heritage', 'Nordic', 'Featherweight', 'Studio', 'Weekend'];
const COLOURS = ['black', 'navy', 'olive', 'sand', 'grey', 'red', 'white'];
const BRANDS = ['Northwind', 'Fjell', 'Mariner', 'Oakline', 'Lumen', 'Kestrel'];

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const LIBRARY = { name: 'personalization-demo', version: '1.0.0' };

/** How a kind of visitor behaves. */
interface Behaviour {
  sessions: [number, number];
  viewsPerSession: [number, number];
  /** Chance that a viewed item is added to the cart. */
  addProbability: number;
  /** Chance that a session with a cart ends in an order. */
  orderProbability: number;
}
const KNOWN_USER: Behaviour = { sessions: [2, 7], viewsPerSession: [2, 7], addProbability: 0.3, orderProbability: 0.6 };
const ANONYMOUS: Behaviour = { sessions: [1, 2], viewsPerSession: [1, 5], addProbability: 0.12, orderProbability: 0.25 };
/** Share of a session's views that fall in the visitor's favourite categories. */
const FAVOURITE_SHARE = 0.8;
/** Chance that a companion of an item added to the cart is viewed and added too. */
const COMPANION_PROBABILITY = 0.7;

/** Generates a shop: its catalog and its traffic. */
export function generateDemo(options: DemoOptions = {}): Demo {
  const seed = options.seed ?? 42;
  const now = options.now ?? Date.now();
  const random = mulberry32(seed);
  const items = catalogOf(options.items ?? 300, now, random);
  const shop = shopOf(items, random);

  const traffic = new Traffic(seed, now, (options.days ?? 7) * DAY, shop, random);
  for (let i = 1; i <= (options.users ?? 60); i++) {
    traffic.visitor({ userId: `user-${pad3(i)}`, anonymousId: anonymousIdOf(random) }, favouritesOf(random), KNOWN_USER);
  }
  for (let i = 0; i < (options.anonymousVisitors ?? 40); i++) {
    traffic.visitor({ anonymousId: anonymousIdOf(random) }, favouritesOf(random), ANONYMOUS);
  }
  return { items, events: traffic.inTimeOrder() };
}

/**
 * Writes records as JSON lines (one JSON value per line), streaming, creating the directory if needed:
 * the format `replayEvents` reads.
 */
export async function writeJsonLines(file: string, records: Iterable<unknown>): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const out = fs.createWriteStream(file);
  for (const record of records) {
    if (!out.write(`${JSON.stringify(record)}\n`)) await once(out, 'drain');
  }
  out.end();
  await finished(out);
}

/** `n` items spread evenly over the categories. */
function catalogOf(n: number, now: number, random: Random): DemoItem[] {
  const categories = Object.keys(CATEGORIES);
  return Array.from({ length: n }, (_, i) => {
    const category = categories[i % categories.length];
    const spec = CATEGORIES[category];
    const adjective = pick(ADJECTIVES, random);
    const [low, high] = spec.price;
    const createdAt = now - Math.floor(random() * 365 * DAY);
    return {
      itemId: `sku-${category}-${pad3(Math.floor(i / categories.length) + 1)}`,
      categories: [category],
      price: Number((Math.round(low + random() * (high - low)) - 0.01).toFixed(2)),
      available: random() >= 0.05,
      tags: [pick(COLOURS, random), adjective.toLowerCase(), ...(now - createdAt < 30 * DAY ? ['new'] : [])],
      attributes: { name: `${adjective} ${pick(spec.nouns, random)}`, brand: pick(BRANDS, random) },
      createdAt: new Date(createdAt).toISOString(),
    };
  });
}

/** The catalog as traffic uses it: items by category with skewed popularity, and bundles. */
interface Shop {
  byCategory: Map<string, { items: DemoItem[]; weights: number[] }>;
  /** Items often bought with the key item. */
  companions: Map<string, DemoItem[]>;
}

function shopOf(items: DemoItem[], random: Random): Shop {
  const byCategory = new Map<string, { items: DemoItem[]; weights: number[] }>();
  for (const category of Object.keys(CATEGORIES)) {
    const inCategory = shuffle(items.filter((item) => item.categories[0] === category), random);
    // Zipf-like: the k-th most popular item of a category is viewed about k^-0.9 as often as the first.
    byCategory.set(category, { items: inCategory, weights: inCategory.map((_, k) => (k + 1) ** -0.9) });
  }
  const companions = new Map<string, DemoItem[]>();
  for (const item of items) {
    if (random() >= 0.5) continue;
    const complement = byCategory.get(CATEGORIES[item.categories[0]].complement);
    const same = byCategory.get(item.categories[0]);
    // Companions are drawn uniformly, not by popularity, so being bought together is a signal of its own.
    const bundle = [complement, ...(random() < 0.4 ? [same] : [])]
      .filter((c): c is { items: DemoItem[]; weights: number[] } => c !== undefined && c.items.length > 0)
      .map((c) => pick(c.items, random))
      .filter((companion) => companion.itemId !== item.itemId);
    if (bundle.length > 0) companions.set(item.itemId, bundle);
  }
  return { byCategory, companions };
}

/** One or two favourite categories. */
function favouritesOf(random: Random): string[] {
  const categories = shuffle(Object.keys(CATEGORIES), random);
  return categories.slice(0, random() < 0.6 ? 2 : 1);
}

interface Identity {
  userId?: string;
  anonymousId: string;
}

/** Collects the events of every visitor's sessions. */
class Traffic {
  private readonly events: DemoEvent[] = [];
  private orders = 0;

  constructor(
    private readonly seed: number,
    private readonly now: number,
    private readonly spanMs: number,
    private readonly shop: Shop,
    private readonly random: Random,
  ) {}

  visitor(identity: Identity, favourites: string[], behaviour: Behaviour): void {
    const sessions = between(behaviour.sessions, this.random);
    for (let s = 0; s < sessions; s++) this.session(identity, favourites, behaviour);
  }

  inTimeOrder(): DemoEvent[] {
    // ISO-8601 strings of one format sort as their times; message ids are unique and break ties.
    const key = (e: DemoEvent) => `${e.timestamp} ${e.messageId}`;
    return [...this.events].sort((a, b) => (key(a) < key(b) ? -1 : 1));
  }

  /** Views in (mostly) favourite categories, some adds with their companions, maybe an order. */
  private session(identity: Identity, favourites: string[], behaviour: Behaviour): void {
    // Sessions start early enough to end before `now` (the longest possible session lasts under two hours).
    let at = this.now - this.spanMs + Math.floor(this.random() * Math.max(0, this.spanMs - 120 * MINUTE));
    const tick = () => (at += Math.floor(10_000 + this.random() * 110_000));
    const cart = new Map<string, { item: DemoItem; quantity: number }>();
    const add = (item: DemoItem) => {
      const quantity = item.price < 25 && this.random() < 0.3 ? 2 : 1;
      this.emit(identity, 'Product Added', tick(), { ...productProperties(item), quantity });
      cart.set(item.itemId, { item, quantity: (cart.get(item.itemId)?.quantity ?? 0) + quantity });
    };

    const views = between(behaviour.viewsPerSession, this.random);
    for (let v = 0; v < views; v++) {
      const item = this.browse(favourites);
      this.emit(identity, 'Product Viewed', tick(), productProperties(item));
      if (this.random() >= behaviour.addProbability) continue;
      add(item);
      for (const companion of this.shop.companions.get(item.itemId) ?? []) {
        if (this.random() >= COMPANION_PROBABILITY) continue;
        this.emit(identity, 'Product Viewed', tick(), productProperties(companion));
        add(companion);
      }
    }
    if (cart.size > 0 && this.random() < behaviour.orderProbability) this.order(identity, tick(), [...cart.values()]);
  }

  /** An item from a favourite category most of the time, from any category otherwise; popular items more often. */
  private browse(favourites: string[]): DemoItem {
    const category = this.random() < FAVOURITE_SHARE ? pick(favourites, this.random) : pick([...this.shop.byCategory.keys()], this.random);
    const { items, weights } = this.shop.byCategory.get(category) as { items: DemoItem[]; weights: number[] };
    return weightedPick(items, weights, this.random);
  }

  private order(identity: Identity, at: number, lines: Array<{ item: DemoItem; quantity: number }>): void {
    this.orders += 1;
    const products = lines.map(({ item, quantity }) => ({ ...productProperties(item), quantity }));
    const revenue = Math.round(lines.reduce((sum, { item, quantity }) => sum + item.price * quantity, 0) * 100) / 100;
    this.emit(identity, 'Order Completed', at, { order_id: `order-${this.seed}-${pad3(this.orders)}`, revenue, currency: 'USD', products });
  }

  private emit(identity: Identity, event: DemoEvent['event'], at: number, properties: Record<string, unknown>): void {
    this.events.push({
      type: 'track',
      event,
      ...identity,
      messageId: `demo-${this.seed}-${String(this.events.length + 1).padStart(6, '0')}`,
      timestamp: new Date(at).toISOString(),
      properties,
      context: { library: LIBRARY },
    });
  }
}

/** The Segment e-commerce v2 product fields. */
function productProperties(item: DemoItem): Record<string, unknown> {
  return { product_id: item.itemId, sku: item.itemId, name: item.attributes.name, brand: item.attributes.brand, category: item.categories[0], price: item.price };
}

const pad3 = (n: number) => String(n).padStart(3, '0');
const pick = <T>(values: readonly T[], random: Random): T => values[Math.floor(random() * values.length)];
/** An integer in `[low, high]`. */
const between = ([low, high]: [number, number], random: Random) => low + Math.floor(random() * (high - low + 1));

function weightedPick<T>(values: readonly T[], weights: readonly number[], random: Random): T {
  let r = random() * weights.reduce((sum, w) => sum + w, 0);
  for (let i = 0; i < values.length; i++) {
    r -= weights[i];
    if (r < 0) return values[i];
  }
  return values[values.length - 1];
}

/** A device id as analytics.js makes them (random hex, deterministic here). */
function anonymousIdOf(random: Random): string {
  return `anon-${Array.from({ length: 12 }, () => Math.floor(random() * 16).toString(16)).join('')}`;
}
