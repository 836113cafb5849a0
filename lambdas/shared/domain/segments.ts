import { z } from 'zod';
import { Activity, ACTIVITY_LIMITS, countWithin, nextCountChangeAfter } from './activity';
import { normalizeCategory } from './commerce';
import { RequestError } from './errors';
import { describeIssues, LIMITS } from './event-schema';
import { exceedsDepth, isPlainObject, jsonBytes, own } from './json';
import { PROFILE_LIMITS, ProfileState, REVENUE_SCALE } from './profile';
import { cartView, decayedAffinities, recencyDays } from './profile-view';

/**
 * Real-time segments: declarative definitions (validated with zod, written by an administrator) and their
 * evaluation against one profile at one time.
 *
 * A condition is a single-key object: the combinators `all`, `any`, `not`, and the leaves `event`, `lastSeen`, `rfm`,
 * `affinity`, `trait`, `cart` and `consent`. For example, "added to cart in the last 10 minutes and did not buy":
 *
 *   { "all": [ { "cart": { "addedWithin": "10m" } }, { "not": { "event": { "name": "Order Completed", "within": "10m" } } } ] }
 *
 * A window "within d" holds what happened less than d ago: a membership that depends on it exits exactly d after the
 * time (cart additions and `lastSeen` are exact to the millisecond; `event` counts use the activity's buckets, see
 * activity.ts: an event counts from the start of its minute until its minute's end + d, never less than d).
 *
 * Evaluation also says when the answer may next change with no new event (`changesAt`), so a scheduler can
 * re-evaluate then and a time-window membership exits on time. For a leaf it is the exact time its answer flips
 * (an `event` leaf looks ahead through at most 32 changes of its count, then names the last one: early, never late);
 * traits, consent, frequency and monetary value never change with time. For a combinator it is the earliest of its
 * children's (conservative: the answer may not change then), except that an `all` with a child false for good, or an
 * `any` with a child true for good, never changes.
 *
 * Definitions keep durations as written ("10m"), so a stored definition reads back as the administrator wrote it.
 */

export const SEGMENT_LIMITS = {
  /** Segment definitions: every profile write evaluates all of them. */
  segments: 100,
  /** Levels of conditions, counting the leaf: `{ "not": { "event": … } }` has 2. */
  depth: 6,
  /** Leaf conditions in one definition. */
  leaves: 50,
  /** Children of one `all` or `any`. */
  children: 20,
  /** JSON nesting of a whole definition (trait values included), checked before anything walks it. */
  jsonDepth: 32,
  /** Values in one trait `in` list. */
  inValues: 100,
  /** JSON bytes of one trait value (a profile keeps trait values up to 1 KB). */
  traitValueBytes: 4096,
} as const;

const SECOND_MS = 1000;
const DAY_MS = 86_400_000;
const UNIT_MS = { s: SECOND_MS, m: 60 * SECOND_MS, h: 3_600_000, d: DAY_MS } as const;
const DURATION = /^(\d+)(s|m|h|d)$/;
const MAX_DURATION_MS = ACTIVITY_LIMITS.retentionDays * DAY_MS;
/** How many count changes an `event` leaf looks ahead for a membership change before settling for a conservative time. */
const EVENT_LOOKAHEAD = 32;

/** A duration such as `30s`, `10m`, `2h` or `7d`: more than 0, at most 90d (how long activity is kept). */
export type Duration = string;
/** Inclusive bounds, at least one given. */
export interface Range {
  min?: number;
  max?: number;
}

export const TRAIT_OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'exists', 'notExists', 'in', 'contains'] as const;
export type TraitOp = (typeof TRAIT_OPS)[number];

/**
 * Events of activity key `name` (a track event's name; `$page`, `$screen`, `$identify`, `$alias` or `$group` for the
 * other calls) in the last `within`: at least `min` (default 1) and at most `max`.
 */
export interface EventCondition {
  name: string;
  within: Duration;
  min?: number;
  max?: number;
}
/** Recency (whole days since the last order; never matches without an order), frequency (orders) and monetary value. */
export interface RfmCondition {
  recencyDays?: Range;
  frequency?: Range;
  monetary?: Range;
}
/** Category affinity (normalized category), decayed to now, at least `min`. */
export interface AffinityCondition {
  category: string;
  min: number;
}
/**
 * A trait compared with `value`: `eq`/`neq`/`in` compare JSON values; `gt`, `gte`, `lt`, `lte` need a numeric trait;
 * `contains` is a substring of a string trait or an element of an array trait; `exists` means present and not null.
 * `neq` is the negation of `eq`, so it holds when the trait is absent.
 */
export interface TraitCondition {
  key: string;
  op: TraitOp;
  value?: unknown;
}
/** The cart (lines with a positive quantity): its number of lines, its value, and how recently a line was added. */
export interface CartCondition {
  minItems?: number;
  maxItems?: number;
  minValue?: number;
  addedWithin?: Duration;
}
/** Whether the person granted (or refused) consent for a purpose. */
export interface ConsentCondition {
  purpose: string;
  granted: boolean;
}

export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | { event: EventCondition }
  | { lastSeen: { within: Duration } }
  | { rfm: RfmCondition }
  | { affinity: AffinityCondition }
  | { trait: TraitCondition }
  | { cart: CartCondition }
  | { consent: ConsentCondition };

const CONDITION_KINDS = ['all', 'any', 'not', 'event', 'lastSeen', 'rfm', 'affinity', 'trait', 'cart', 'consent'] as const;

export interface SegmentDefinition {
  id: string;
  name: string;
  description?: string;
  condition: Condition;
}

/** What a segment condition reads from a profile. */
export type SegmentProfile = Pick<ProfileState, 'lastSeen' | 'orders' | 'affinity' | 'traits' | 'cart'> & { activity: Activity };

export interface EvaluationContext {
  nowMs: number;
  affinityHalfLifeDays: number;
  consentGranted: (purpose: string) => boolean;
}

export interface SegmentResult {
  member: boolean;
  /** The earliest time (epoch ms, > nowMs) at which `member` may change with no new event; absent: never. */
  changesAt?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Schema

/** `is required` for a missing field, `must be …` for a value of the wrong type. */
const expected = (what: string) => (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`);

const unknownFields = (issue: { code?: string; keys?: string[]; input?: unknown }) =>
  issue.code === 'unrecognized_keys' && issue.keys
    ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`
    : issue.code === 'invalid_type'
      ? issue.input === undefined
        ? 'is required'
        : 'must be a JSON object'
      : undefined;
const strict = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape, { error: unknownFields });

const DurationSchema = z.string({ error: expected('a duration string such as "10m"') }).superRefine((value, ctx) => {
  if (!DURATION.test(value)) ctx.addIssue({ code: 'custom', message: 'must be a duration such as 30s, 10m, 2h or 7d' });
  else if (durationMs(value) === 0) ctx.addIssue({ code: 'custom', message: 'must be more than 0' });
  else if (durationMs(value) > MAX_DURATION_MS) {
    ctx.addIssue({ code: 'custom', message: `must be at most ${ACTIVITY_LIMITS.retentionDays}d (how long activity is kept)` });
  }
});

const Count = z.number({ error: expected('a number') }).int('must be a whole number').min(0, 'must not be negative');
const Amount = z.number({ error: expected('a number') });

const rangeOf = (bound: z.ZodNumber) =>
  strict({ min: bound.optional(), max: bound.optional() })
    .refine((r) => r.min !== undefined || r.max !== undefined, 'give min, max or both')
    .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, 'min must not be greater than max');

const Category = z.string({ error: expected('a string') }).transform((value, ctx) => {
  const category = normalizeCategory(value);
  if (category === undefined) ctx.issues.push({ code: 'custom', message: 'must be 1-100 characters after trimming', input: value });
  return category ?? z.NEVER;
});

const EventSchema = strict({
  name: z.string({ error: expected('a string') }).trim().min(1, 'must not be empty').max(LIMITS.maxEventNameLength),
  within: DurationSchema,
  min: Count.optional(),
  max: Count.optional(),
}).refine((e) => e.max === undefined || (e.min ?? 1) <= e.max, { message: 'must not be less than min (which defaults to 1)', path: ['max'] });

const RfmSchema = strict({ recencyDays: rangeOf(Count).optional(), frequency: rangeOf(Count).optional(), monetary: rangeOf(Amount).optional() }).refine(
  (r) => r.recencyDays !== undefined || r.frequency !== undefined || r.monetary !== undefined,
  'give recencyDays, frequency or monetary',
);

const AffinitySchema = strict({ category: Category, min: z.number({ error: expected('a number') }).positive('must be more than 0') });

const NUMERIC_OPS: ReadonlySet<TraitOp> = new Set(['gt', 'gte', 'lt', 'lte']);
const TraitSchema = strict({
  key: z.string({ error: expected('a string') }).min(1, 'must not be empty').max(PROFILE_LIMITS.traitKeyLength),
  op: z.enum(TRAIT_OPS, { error: expected(`one of ${TRAIT_OPS.join(', ')}`) }),
  // Kept as given: z.json() would rebuild objects by assignment, turning a "__proto__" key into a prototype.
  value: z.unknown().refine(isJsonValue, 'must be a JSON value').optional(),
}).superRefine((t, ctx) => {
  const problem = traitValueProblem(t.op, t.value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['value'] });
});

function traitValueProblem(op: TraitOp, value: unknown): string | undefined {
  if (op === 'exists' || op === 'notExists') return value === undefined ? undefined : `must be left out for op "${op}"`;
  if (value === undefined) return `is required for op "${op}"`;
  if (!isJsonValue(value)) return undefined; // reported as not JSON
  if (NUMERIC_OPS.has(op) && typeof value !== 'number') return `must be a number for op "${op}"`;
  if (op === 'in' && !Array.isArray(value)) return 'must be an array for op "in"';
  if (op === 'in' && (value as unknown[]).length > SEGMENT_LIMITS.inValues) return `must hold at most ${SEGMENT_LIMITS.inValues} values`;
  if (op === 'contains' && !['string', 'number', 'boolean'].includes(typeof value)) return 'must be a string, number or boolean for op "contains"';
  if (jsonBytes(value) > SEGMENT_LIMITS.traitValueBytes) return `must be at most ${SEGMENT_LIMITS.traitValueBytes} bytes as JSON`;
  return undefined;
}

const CartSchema = strict({
  minItems: Count.optional(),
  maxItems: Count.optional(),
  minValue: Amount.min(0, 'must not be negative').optional(),
  addedWithin: DurationSchema.optional(),
})
  .refine((c) => Object.keys(c).length > 0, 'give minItems, maxItems, minValue or addedWithin')
  .refine((c) => c.minItems === undefined || c.maxItems === undefined || c.minItems <= c.maxItems, { message: 'must not be less than minItems', path: ['maxItems'] });

const ConsentSchema = strict({
  purpose: z.string({ error: expected('a string') }).trim().min(1, 'must not be empty').max(100),
  granted: z.boolean({ error: expected('true or false') }),
});

const Children = z
  .array(z.lazy(() => ConditionSchema), { error: 'must be an array of conditions' })
  .min(1, 'must hold at least one condition')
  .max(SEGMENT_LIMITS.children, `must hold at most ${SEGMENT_LIMITS.children} conditions`);

const ONE_CONDITION = `must hold exactly one condition: ${CONDITION_KINDS.join(', ')}`;

const ConditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z
    .strictObject(
      {
        all: Children.optional(),
        any: Children.optional(),
        not: ConditionSchema.optional(),
        event: EventSchema.optional(),
        lastSeen: strict({ within: DurationSchema }).optional(),
        rfm: RfmSchema.optional(),
        affinity: AffinitySchema.optional(),
        trait: TraitSchema.optional(),
        cart: CartSchema.optional(),
        consent: ConsentSchema.optional(),
      },
      {
        error: (issue) =>
          issue.code === 'unrecognized_keys'
            ? `unknown condition ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; expected one of ${CONDITION_KINDS.join(', ')}`
            : issue.code === 'invalid_type'
              ? issue.input === undefined
                ? 'is required'
                : 'must be a condition object such as {"event": {"name": "Order Completed", "within": "7d"}}'
              : undefined,
      },
    )
    .refine((c) => Object.keys(c).length === 1, {
      error: (issue) => (Object.keys(issue.input as object).length === 0 ? ONE_CONDITION : `${ONE_CONDITION}; combine several with all or any`),
      // Not for what is not an object, nor when an unknown key already has its own message.
      when: (payload) => isPlainObject(payload.value) && !payload.issues.some((issue) => issue.code === 'unrecognized_keys' && !issue.path?.length),
    }),
) as unknown as z.ZodType<Condition>;

/** A segment's id: what definitions, memberships, the API's paths and the recommendation config name it by. */
export const SegmentIdSchema = z
  .string({ error: expected('a string') })
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be 1-64 lowercase letters, digits or hyphens, starting with a letter or digit');

const DefinitionObjectSchema = strict({
  id: SegmentIdSchema,
  name: z.string({ error: expected('a string') }).trim().min(1, 'must not be empty').max(128, 'must be at most 128 characters'),
  description: z.string({ error: expected('a string') }).max(1024, 'must be at most 1024 characters').optional(),
  condition: ConditionSchema,
});

/**
 * A segment definition. Its size (condition depth, leaves, JSON nesting) is checked first, on the raw input, so
 * hostile nesting never reaches the recursive schema; the fields are validated after.
 */
export const SegmentDefinitionSchema = z.unknown().superRefine(checkSize).pipe(DefinitionObjectSchema);

/**
 * Validates an administrator's segment definition. Like recommend-config.ts, it lists every problem in one message;
 * as a request body it throws a `RequestError` (400) so the API answers with that message.
 */
export function parseSegmentDefinition(input: unknown): SegmentDefinition {
  const parsed = SegmentDefinitionSchema.safeParse(input);
  if (!parsed.success) throw new RequestError(400, `Invalid segment definition: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Depth and leaves of the condition tree, then the JSON depth of the whole definition. */
function checkSize(input: unknown, ctx: z.RefinementCtx): void {
  if (!isPlainObject(input) || !Object.hasOwn(input, 'condition')) return;
  const tally: Tally = { leaves: 0 };
  countConditions(input.condition, ['condition'], 1, tally);
  if (tally.tooDeep) ctx.addIssue({ code: 'custom', path: tally.tooDeep, message: `conditions must not nest more than ${SEGMENT_LIMITS.depth} levels deep` });
  if (tally.leaves > SEGMENT_LIMITS.leaves) {
    ctx.addIssue({ code: 'custom', path: ['condition'], message: `must hold at most ${SEGMENT_LIMITS.leaves} leaf conditions` });
  }
  if (!tally.tooDeep && exceedsDepth(input, SEGMENT_LIMITS.jsonDepth)) {
    ctx.addIssue({ code: 'custom', message: `must not nest JSON more than ${SEGMENT_LIMITS.jsonDepth} levels deep` });
  }
}

interface Tally {
  leaves: number;
  /** Path of the first condition beyond the depth limit. */
  tooDeep?: Array<string | number>;
}

/** Walks the raw condition tree, never deeper than the limit, and stops once a limit is exceeded. */
function countConditions(raw: unknown, path: Array<string | number>, depth: number, tally: Tally): void {
  if (tally.tooDeep || tally.leaves > SEGMENT_LIMITS.leaves) return;
  if (depth > SEGMENT_LIMITS.depth) {
    tally.tooDeep = path;
    return;
  }
  const children = childConditions(raw);
  if (children === undefined) tally.leaves += 1;
  else for (const [step, child] of children) countConditions(child, [...path, ...step], depth + 1, tally);
}

/** The children of a raw combinator (`all`/`any` arrays, `not`), or undefined for anything else. */
function childConditions(raw: unknown): Array<[Array<string | number>, unknown]> | undefined {
  if (!isPlainObject(raw)) return undefined;
  const keys = Object.keys(raw);
  if (keys.length !== 1) return undefined;
  const [kind] = keys;
  const value = raw[kind];
  // A longer array is refused by the schema: count it as one leaf rather than walk it.
  if ((kind === 'all' || kind === 'any') && Array.isArray(value) && value.length <= SEGMENT_LIMITS.children) {
    return value.map((child, i) => [[kind, i], child]);
  }
  if (kind === 'not') return [[['not'], value]];
  return undefined;
}

/** Milliseconds of a valid duration string. */
function durationMs(duration: Duration): number {
  const [, amount, unit] = DURATION.exec(duration) as RegExpExecArray;
  return Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation

/** Whether the profile is in the segment at `ctx.nowMs`, and when that may next change with no new event. */
export function evaluateSegment(def: SegmentDefinition, profile: SegmentProfile, ctx: EvaluationContext): SegmentResult {
  let cart: CartFacts | undefined;
  const env: Env = { p: profile, ctx, cart: () => (cart ??= cartFacts(profile.cart)) };
  return evaluate(def.condition, env);
}

interface Env {
  p: SegmentProfile;
  ctx: EvaluationContext;
  /** The cart view, computed once per evaluation. */
  cart: () => CartFacts;
}

function evaluate(c: Condition, env: Env): SegmentResult {
  if ('all' in c) return allOf(c.all.map((child) => evaluate(child, env)));
  if ('any' in c) return anyOf(c.any.map((child) => evaluate(child, env)));
  if ('not' in c) {
    const inner = evaluate(c.not, env);
    return result(!inner.member, inner.changesAt);
  }
  if ('event' in c) return eventLeaf(c.event, env);
  if ('lastSeen' in c) return windowLeaf(env.p.lastSeen, durationMs(c.lastSeen.within), env.ctx.nowMs);
  if ('rfm' in c) return rfmLeaf(c.rfm, env);
  if ('affinity' in c) return affinityLeaf(c.affinity, env);
  if ('trait' in c) return { member: traitMatches(c.trait, own(env.p.traits, c.trait.key)) };
  if ('cart' in c) return cartLeaf(c.cart, env);
  return { member: env.ctx.consentGranted(c.consent.purpose) === c.consent.granted };
}

/** Every child holds. False for good while a child is false for good; otherwise it may change when any child may. */
function allOf(results: SegmentResult[]): SegmentResult {
  const member = results.every((r) => r.member);
  if (!member && results.some((r) => !r.member && r.changesAt === undefined)) return { member };
  return result(member, earliest(results));
}

/** Some child holds. True for good while a child is true for good; otherwise it may change when any child may. */
function anyOf(results: SegmentResult[]): SegmentResult {
  const member = results.some((r) => r.member);
  if (member && results.some((r) => r.member && r.changesAt === undefined)) return { member };
  return result(member, earliest(results));
}

function eventLeaf(e: EventCondition, { p, ctx }: Env): SegmentResult {
  const windowMs = durationMs(e.within);
  const matchesAt = (t: number) => {
    const count = countWithin(p.activity, e.name, t - windowMs, t);
    return count >= (e.min ?? 1) && (e.max === undefined || count <= e.max);
  };
  const member = matchesAt(ctx.nowMs);
  // The count can change without the answer changing (3 → 2 with min 1): look a few changes ahead, then settle for
  // the last one seen, a correct if early time to look again.
  let t = ctx.nowMs;
  for (let step = 0; step < EVENT_LOOKAHEAD; step++) {
    const next = nextCountChangeAfter(p.activity, e.name, windowMs, t);
    if (next === undefined || matchesAt(next) !== member) return result(member, next);
    t = next;
  }
  return result(member, t);
}

/** Something happened at `at` less than `windowMs` ago: true until exactly `at + windowMs`. */
function windowLeaf(at: number | undefined, windowMs: number, nowMs: number): SegmentResult {
  return at !== undefined && at > nowMs - windowMs ? { member: true, changesAt: at + windowMs } : { member: false };
}

function rfmLeaf(r: RfmCondition, { p, ctx }: Env): SegmentResult {
  // Frequency and monetary value only change with events.
  const ordersOk = inRange(p.orders.count, r.frequency) && inRange(p.orders.revenueUnits / REVENUE_SCALE, r.monetary);
  if (!ordersOk || r.recencyDays === undefined) return { member: ordersOk };
  const lastAt = p.orders.lastAt;
  if (lastAt === undefined) return { member: false };
  // Recency only grows, by one at each whole day after the last order (as in the profile view).
  const recency = recencyDays(lastAt, ctx.nowMs);
  const { min = 0, max } = r.recencyDays;
  if (recency < min) return { member: false, changesAt: lastAt + min * DAY_MS };
  if (max === undefined) return { member: true };
  return recency <= max ? { member: true, changesAt: lastAt + (max + 1) * DAY_MS } : { member: false };
}

function affinityLeaf(a: AffinityCondition, { p, ctx }: Env): SegmentResult {
  const scoreAt = (t: number) => own(decayedAffinities(p.affinity, t, ctx.affinityHalfLifeDays), a.category) ?? 0;
  if (scoreAt(ctx.nowMs) < a.min) return { member: false };
  // score · 2^(−(t − at)/halfLife) = min at t = at + halfLife · log2(score / min); then settle on the first whole
  // millisecond at which the score, computed as above, is below min (floating-point rounding may move it by one).
  const halfLifeMs = ctx.affinityHalfLifeDays * DAY_MS;
  const score = own(p.affinity.scores, a.category) as number;
  let t = Math.max(ctx.nowMs + 1, Math.floor(p.affinity.at + halfLifeMs * Math.log2(score / a.min)) + 1);
  // Beyond exact integers (an enormous half-life): no real time.
  if (!Number.isSafeInteger(t)) return { member: true };
  for (let step = 0; step < 8 && t > ctx.nowMs + 1 && scoreAt(t - 1) < a.min; step++) t -= 1;
  for (let step = 0; step < 8 && scoreAt(t) >= a.min; step++) t += 1;
  return { member: true, changesAt: t };
}

function traitMatches(t: TraitCondition, trait: unknown): boolean {
  switch (t.op) {
    case 'exists':
      return trait !== undefined && trait !== null;
    case 'notExists':
      return trait === undefined || trait === null;
    case 'eq':
      return trait !== undefined && sameJson(trait, t.value);
    case 'neq':
      return trait === undefined || !sameJson(trait, t.value);
    case 'in':
      return trait !== undefined && (t.value as unknown[]).some((v) => sameJson(trait, v));
    case 'contains':
      if (typeof trait === 'string') return typeof t.value === 'string' && trait.includes(t.value);
      return Array.isArray(trait) && trait.some((v) => sameJson(v, t.value));
    default:
      return typeof trait === 'number' && compareNumbers(t.op, trait, t.value as number);
  }
}

function compareNumbers(op: TraitOp, a: number, b: number): boolean {
  return op === 'gt' ? a > b : op === 'gte' ? a >= b : op === 'lt' ? a < b : a <= b;
}

interface CartFacts {
  lines: number;
  value: number;
  /** The newest line's last addition (epoch ms), when the cart has lines. */
  newestAddAt?: number;
}

function cartFacts(cart: ProfileState['cart']): CartFacts {
  const view = cartView(cart);
  const times = view.items.map((item) => Date.parse(item.addedAt));
  return { lines: view.items.length, value: view.value, ...(times.length > 0 ? { newestAddAt: Math.max(...times) } : {}) };
}

function cartLeaf(c: CartCondition, env: Env): SegmentResult {
  const cart = env.cart();
  const contentsOk = inRange(cart.lines, { min: c.minItems, max: c.maxItems }) && (c.minValue === undefined || cart.value >= c.minValue);
  // The contents only change with events; an addition only gets older.
  if (!contentsOk || c.addedWithin === undefined) return { member: contentsOk };
  return windowLeaf(cart.newestAddAt, durationMs(c.addedWithin), env.ctx.nowMs);
}

function inRange(value: number, range: Range | undefined): boolean {
  return range === undefined || ((range.min === undefined || value >= range.min) && (range.max === undefined || value <= range.max));
}

/** Whether `value` is plain JSON (finite numbers, no `undefined`); its depth is checked before this runs. */
function isJsonValue(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJsonValue);
  return isPlainObject(value) && Object.getPrototypeOf(value) === Object.prototype && Object.values(value).every(isJsonValue);
}

/** JSON equality: arrays in order, objects whatever their key order. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
}

function result(member: boolean, changesAt: number | undefined): SegmentResult {
  return changesAt === undefined ? { member } : { member, changesAt };
}

function earliest(results: SegmentResult[]): number | undefined {
  let min: number | undefined;
  for (const r of results) if (r.changesAt !== undefined && (min === undefined || r.changesAt < min)) min = r.changesAt;
  return min;
}
