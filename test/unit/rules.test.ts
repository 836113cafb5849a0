import fc from 'fast-check';
import { describeIssues } from '../../lambdas/shared/domain/event-schema';
import { applyRules, Candidate, DEFAULT_RULES, RuleContext, Rules, RulesSchema } from '../../lambdas/shared/domain/rules';

/**
 * Business rules after scoring (rules.ts): hard filters → boosts → burials → per-category cap → pins, then
 * `limit`. Rules are built through RulesSchema, as the deployment config is, so categories are normalized.
 */

const item = (itemId: string, score: number, categories: string[] = [], reasons: string[] = ['cf']): Candidate => ({ itemId, score, categories, reasons });
const rules = (overrides: Record<string, unknown> = {}): Rules => RulesSchema.parse({ ...DEFAULT_RULES, ...overrides });
const context = (overrides: Partial<RuleContext> = {}): RuleContext => ({
  limit: 10,
  unavailable: new Set(),
  excluded: new Set(),
  purchased: new Set(),
  inCart: new Set(),
  ...overrides,
});
const ids = (list: readonly Candidate[]) => list.map((c) => c.itemId);
const byId = (list: readonly Candidate[], itemId: string) => list.find((c) => c.itemId === itemId) as Candidate;
/** The problems RulesSchema reports, as the config loader shows them. */
const problems = (input: Record<string, unknown>) => {
  const result = RulesSchema.safeParse({ ...DEFAULT_RULES, ...input });
  return result.success ? 'valid' : describeIssues(result.error);
};

// Best first, as the scorer returns them. `e` has unknown categories; `b` is in two.
const CANDIDATES: readonly Candidate[] = Object.freeze([
  item('a', 10, ['shoes']),
  item('b', 9, ['shoes', 'sale']),
  item('c', 8, ['hats']),
  item('d', 7, ['bags']),
  item('e', 6, []),
  item('f', 5, ['hats']),
]);
const apply = (r: Rules, ctx: Partial<RuleContext> = {}, candidates: readonly Candidate[] = CANDIDATES) => applyRules(candidates, r, context(ctx));

describe('applyRules: defaults', () => {
  it('keeps the scorer order and the items untouched when no rule applies', () => {
    const snapshot = JSON.stringify(CANDIDATES);
    const out = apply(rules());
    expect(out).toEqual(CANDIDATES);
    expect(JSON.stringify(CANDIDATES)).toBe(snapshot);
  });

  it('returns at most `limit` items, the best first', () => {
    expect(ids(apply(rules(), { limit: 2 }))).toEqual(['a', 'b']);
    expect(apply(rules(), { limit: 0 })).toEqual([]);
    expect(applyRules([], rules(), context())).toEqual([]);
  });

  it('does not modify the candidates it is given, whatever rules apply', () => {
    const candidates = CANDIDATES.map((c) => ({ ...c, categories: [...c.categories], reasons: [...c.reasons] }));
    const snapshot = JSON.stringify(candidates);
    apply(
      rules({
        boosts: [{ category: 'hats', factor: 3 }],
        burials: [{ itemId: 'a' }],
        maxPerCategory: 1,
        pins: [{ itemId: 'f', position: 1 }],
      }),
      { limit: 4 },
      candidates,
    );
    expect(JSON.stringify(candidates)).toBe(snapshot);
  });
});

describe('applyRules: hard filters', () => {
  it('leaves out unavailable items', () => {
    expect(ids(apply(rules(), { unavailable: new Set(['b', 'e']) }))).toEqual(['a', 'c', 'd', 'f']);
  });

  it("leaves out the request's excluded items", () => {
    expect(ids(apply(rules(), { excluded: new Set(['a']) }))).toEqual(['b', 'c', 'd', 'e', 'f']);
  });

  it.each([
    ['excludePurchased', 'purchased'],
    ['excludeInCart', 'inCart'],
  ] as const)('leaves out %s items only when the flag is on', (flag, set) => {
    const ctx = { [set]: new Set(['c']) };
    expect(ids(apply(rules({ [flag]: true }), ctx))).toEqual(['a', 'b', 'd', 'e', 'f']);
    expect(ids(apply(rules({ [flag]: false }), ctx))).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('applies each person filter through its own flag only', () => {
    const ctx = { purchased: new Set(['a']), inCart: new Set(['b']) };
    expect(ids(apply(rules({ excludePurchased: false, excludeInCart: true }), ctx))).toEqual(['a', 'c', 'd', 'e', 'f']);
    expect(ids(apply(rules({ excludePurchased: true, excludeInCart: false }), ctx))).toEqual(['b', 'c', 'd', 'e', 'f']);
  });

  it('ignores the flags for unavailable and excluded items: those are never shown', () => {
    const r = rules({ excludePurchased: false, excludeInCart: false });
    expect(ids(apply(r, { unavailable: new Set(['a']), excluded: new Set(['b']) }))).toEqual(['c', 'd', 'e', 'f']);
  });

  it('leaves out items in an excluded category, even when only one of their categories is excluded', () => {
    expect(ids(apply(rules({ excludeCategories: ['hats'] })))).toEqual(['a', 'b', 'd', 'e']);
    expect(ids(apply(rules({ excludeCategories: ['sale'] })))).toEqual(['a', 'c', 'd', 'e', 'f']);
  });

  it('keeps only items in an included category (any of their categories), and drops unknown-category items', () => {
    expect(ids(apply(rules({ includeCategories: ['hats', 'sale'] })))).toEqual(['b', 'c', 'f']);
  });

  it("keeps only items in the request's category, and drops unknown-category items", () => {
    expect(ids(apply(rules(), { category: 'shoes' }))).toEqual(['a', 'b']);
    expect(ids(apply(rules(), { category: 'garden' }))).toEqual([]);
  });

  it("narrows the configured categories with the request's category", () => {
    expect(ids(apply(rules({ includeCategories: ['shoes', 'hats'] }), { category: 'hats' }))).toEqual(['c', 'f']);
    expect(ids(apply(rules({ includeCategories: ['hats'] }), { category: 'shoes' }))).toEqual([]);
  });

  it('lets unknown-category items through category exclusions', () => {
    expect(ids(apply(rules({ excludeCategories: ['shoes', 'sale', 'hats', 'bags'] })))).toEqual(['e']);
  });

  it('matches configured categories written in any case and spacing', () => {
    expect(ids(apply(rules({ excludeCategories: ['  HATS '] })))).toEqual(['a', 'b', 'd', 'e']);
    expect(ids(apply(rules({ includeCategories: ['Bags'] })))).toEqual(['d']);
  });
});

describe('applyRules: boosts', () => {
  it('multiplies the score of a boosted category, re-ranks, and says so', () => {
    const out = apply(rules({ boosts: [{ category: 'hats', factor: 2 }] }));
    // c 8→16, f 5→10 (ties with a at 10: item id breaks the tie).
    expect(ids(out)).toEqual(['c', 'a', 'f', 'b', 'd', 'e']);
    expect(byId(out, 'c')).toEqual(item('c', 16, ['hats'], ['cf', 'boosted']));
    expect(byId(out, 'f').score).toBe(10);
    expect(byId(out, 'a')).toEqual(CANDIDATES[0]);
  });

  it('boosts a single item', () => {
    const out = apply(rules({ boosts: [{ itemId: 'e', factor: 10 }] }));
    expect(ids(out)).toEqual(['e', 'a', 'b', 'c', 'd', 'f']);
    expect(byId(out, 'e')).toEqual(item('e', 60, [], ['cf', 'boosted']));
  });

  it('multiplies every factor that applies, with a single reason', () => {
    const out = apply(rules({ boosts: [{ category: 'hats', factor: 2 }, { itemId: 'f', factor: 3 }, { category: 'bags', factor: 1.5 }] }));
    expect(byId(out, 'f')).toEqual(item('f', 30, ['hats'], ['cf', 'boosted']));
    expect(byId(out, 'c').score).toBe(16);
    expect(byId(out, 'd').score).toBe(10.5);
    expect(ids(out)).toEqual(['f', 'c', 'd', 'a', 'b', 'e']);
  });

  it('multiplies once per matching rule for an item in two boosted categories', () => {
    const out = apply(rules({ boosts: [{ category: 'shoes', factor: 2 }, { category: 'sale', factor: 2 }] }));
    expect(byId(out, 'b').score).toBe(36);
    expect(byId(out, 'a').score).toBe(20);
    expect(ids(out).slice(0, 2)).toEqual(['b', 'a']);
  });

  it('lowers with a factor below 1, and says so', () => {
    const out = apply(rules({ boosts: [{ category: 'shoes', factor: 0.5 }] }));
    // a 10→5 (ties with f at 5: a first), b 9→4.5.
    expect(ids(out)).toEqual(['c', 'd', 'e', 'a', 'f', 'b']);
    expect(byId(out, 'b')).toEqual(item('b', 4.5, ['shoes', 'sale'], ['cf', 'lowered']));
  });

  it('does not bring back an item a hard filter left out', () => {
    expect(ids(apply(rules({ boosts: [{ itemId: 'a', factor: 100 }] }), { unavailable: new Set(['a']) }))).not.toContain('a');
  });
});

describe('applyRules: burials', () => {
  it('puts buried items after everything else, in score order, with a reason', () => {
    const out = apply(rules({ burials: [{ category: 'shoes' }] }));
    expect(ids(out)).toEqual(['c', 'd', 'e', 'f', 'a', 'b']);
    expect(byId(out, 'a').reasons).toEqual(['cf', 'buried']);
    expect(byId(out, 'c').reasons).toEqual(['cf']);
  });

  it('buries a single item even when it is boosted', () => {
    const out = apply(rules({ burials: [{ itemId: 'c' }], boosts: [{ itemId: 'c', factor: 100 }] }));
    expect(ids(out)).toEqual(['a', 'b', 'd', 'e', 'f', 'c']);
    expect(byId(out, 'c').reasons).toEqual(['cf', 'boosted', 'buried']);
  });

  it('fills a short list with buried items, and drops them first when the list is long enough', () => {
    const r = rules({ burials: [{ category: 'shoes' }, { category: 'hats' }] });
    expect(ids(apply(r, { limit: 4 }))).toEqual(['d', 'e', 'a', 'b']);
    expect(ids(apply(r, { limit: 2 }))).toEqual(['d', 'e']);
    expect(ids(apply(r, { limit: 10 }))).toEqual(['d', 'e', 'a', 'b', 'c', 'f']);
  });

  it('keeps a list of only buried items', () => {
    expect(ids(apply(rules({ burials: [{ category: 'shoes' }] }), { category: 'shoes' }))).toEqual(['a', 'b']);
  });
});

describe('applyRules: per-category cap', () => {
  it('keeps at most `maxPerCategory` items per category when there are enough others', () => {
    // a takes the one "shoes" place, so b waits; c takes "hats", so f waits.
    expect(ids(apply(rules({ maxPerCategory: 1 }), { limit: 4 }))).toEqual(['a', 'c', 'd', 'e']);
  });

  it('counts an item against each of its categories', () => {
    const candidates = [item('x1', 4, ['shoes', 'sale']), item('x2', 3, ['sale']), item('x3', 2, ['shoes']), item('x4', 1, ['bags'])];
    expect(ids(apply(rules({ maxPerCategory: 1 }), { limit: 2 }, candidates))).toEqual(['x1', 'x4']);
    expect(ids(apply(rules({ maxPerCategory: 2 }), { limit: 2 }, candidates))).toEqual(['x1', 'x2']);
  });

  it('uses held-back items, best first, only to fill an otherwise short list', () => {
    expect(ids(apply(rules({ maxPerCategory: 1 }), { limit: 5 }))).toEqual(['a', 'c', 'd', 'e', 'b']);
    expect(ids(apply(rules({ maxPerCategory: 1 }), { limit: 10 }))).toEqual(['a', 'c', 'd', 'e', 'b', 'f']);
    // All in one category: the cap never empties the list.
    expect(ids(apply(rules({ maxPerCategory: 1 }), { category: 'hats' }))).toEqual(['c', 'f']);
  });

  it('never holds back items with unknown categories', () => {
    const candidates = [item('u1', 3), item('u2', 2), item('u3', 1)];
    expect(ids(apply(rules({ maxPerCategory: 1 }), { limit: 3 }, candidates))).toEqual(['u1', 'u2', 'u3']);
  });

  it('is off at 0', () => {
    const candidates = [item('s1', 4, ['shoes']), item('s2', 3, ['shoes']), item('s3', 2, ['shoes']), item('h1', 1, ['hats'])];
    expect(ids(apply(rules({ maxPerCategory: 0 }), { limit: 3 }, candidates))).toEqual(['s1', 's2', 's3']);
    expect(ids(apply(rules({ maxPerCategory: 1 }), { limit: 3 }, candidates))).toEqual(['s1', 'h1', 's2']);
  });

  it('applies to the boosted order', () => {
    // f 5→50 takes the "hats" place before c.
    expect(ids(apply(rules({ maxPerCategory: 1, boosts: [{ itemId: 'f', factor: 10 }] }), { limit: 4 }))).toEqual(['f', 'a', 'd', 'e']);
  });
});

describe('applyRules: pins', () => {
  it('places an item the scorer did not produce at its position, with only the `pinned` reason', () => {
    const out = apply(rules({ pins: [{ itemId: 'z', position: 2 }] }), { limit: 4 });
    expect(ids(out)).toEqual(['a', 'z', 'b', 'c']);
    expect(out[1]).toEqual({ itemId: 'z', score: 0, categories: [], reasons: ['pinned'] });
  });

  it('moves a candidate to its position, keeping its score, categories and reasons plus `pinned`', () => {
    const out = apply(rules({ pins: [{ itemId: 'f', position: 1 }] }));
    expect(ids(out)).toEqual(['f', 'a', 'b', 'c', 'd', 'e']);
    expect(out[0]).toEqual(item('f', 5, ['hats'], ['cf', 'pinned']));
  });

  it('places a buried pin at its position: the pin wins over the burial', () => {
    const out = apply(rules({ pins: [{ itemId: 'a', position: 3 }], burials: [{ itemId: 'a' }] }));
    expect(ids(out)).toEqual(['b', 'c', 'a', 'd', 'e', 'f']);
    expect(out[2].reasons[0]).toBe('cf');
    expect(out[2].reasons[out[2].reasons.length - 1]).toBe('pinned');
  });

  it('places several pins at their positions, whatever their order in the config', () => {
    const out = apply(rules({ pins: [{ itemId: 'y', position: 4 }, { itemId: 'z', position: 1 }, { itemId: 'e', position: 2 }] }));
    expect(ids(out)).toEqual(['z', 'e', 'a', 'y', 'b', 'c', 'd', 'f']);
  });

  it('puts a pin beyond the end of a short list at its end', () => {
    expect(ids(apply(rules({ pins: [{ itemId: 'z', position: 50 }] })))).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'z']);
    expect(ids(apply(rules({ pins: [{ itemId: 'f', position: 50 }] }), { category: 'hats' }))).toEqual(['c', 'f']);
  });

  it('leaves out a pin whose position is beyond the limit', () => {
    expect(ids(apply(rules({ pins: [{ itemId: 'z', position: 5 }] }), { limit: 4 }))).toEqual(['a', 'b', 'c', 'd']);
    expect(ids(apply(rules({ pins: [{ itemId: 'f', position: 5 }] }), { limit: 4 }))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps the list at `limit` when a pin pushes items down', () => {
    expect(ids(apply(rules({ pins: [{ itemId: 'z', position: 1 }] }), { limit: 3 }))).toEqual(['z', 'a', 'b']);
  });

  it.each([
    ['unavailable', { unavailable: new Set(['z', 'c']) }, rules()],
    ['excluded by the request', { excluded: new Set(['z', 'c']) }, rules()],
    ['purchased', { purchased: new Set(['z', 'c']) }, rules({ excludePurchased: true })],
    ['in the cart', { inCart: new Set(['z', 'c']) }, rules({ excludeInCart: true })],
  ] as Array<[string, Partial<RuleContext>, Rules]>)('does not show a pin that is %s', (_, ctx, base) => {
    const r = { ...base, pins: [{ itemId: 'z', position: 1 }, { itemId: 'c', position: 2 }] };
    const out = apply(r, ctx);
    expect(ids(out)).toEqual(['a', 'b', 'd', 'e', 'f']);
  });

  it('does not show a candidate pin in an excluded category', () => {
    expect(ids(apply(rules({ excludeCategories: ['hats'], pins: [{ itemId: 'c', position: 1 }] })))).toEqual(['a', 'b', 'd', 'e']);
  });

  it('does not show a pin the scorer did not produce when a category filter applies (its categories are unknown)', () => {
    const pin = { pins: [{ itemId: 'z', position: 1 }] };
    expect(ids(apply(rules(pin), { category: 'shoes' }))).toEqual(['a', 'b']);
    expect(ids(apply(rules({ ...pin, includeCategories: ['shoes'] })))).toEqual(['a', 'b']);
    // A category exclusion lets it through, as it does any unknown-category item.
    expect(ids(apply(rules({ ...pin, excludeCategories: ['hats'] })))).toEqual(['z', 'a', 'b', 'd', 'e']);
  });

  it('shows a candidate pin that matches the category filter', () => {
    expect(ids(apply(rules({ pins: [{ itemId: 'b', position: 1 }] }), { category: 'shoes' }))).toEqual(['b', 'a']);
    // and not one that does not
    expect(ids(apply(rules({ pins: [{ itemId: 'c', position: 1 }] }), { category: 'shoes' }))).toEqual(['a', 'b']);
  });

  it('counts a pinned item against the diversity cap', () => {
    // b (shoes, sale) is pinned first, so it takes the one "shoes" place and a is held back.
    const out = apply(rules({ maxPerCategory: 1, pins: [{ itemId: 'b', position: 1 }] }), { limit: 4 });
    expect(ids(out)).toEqual(['b', 'c', 'd', 'e']);
    expect(out[0]).toEqual(item('b', 9, ['shoes', 'sale'], ['cf', 'pinned']));
  });

  it('keeps the score, categories and reasons of a pinned candidate ranked after the diversity cut-off', () => {
    // f is last by score: a cap that stopped looking once the list was full must not lose what f is.
    const out = apply(rules({ maxPerCategory: 1, pins: [{ itemId: 'f', position: 1 }] }), { limit: 4 });
    expect(ids(out)).toEqual(['f', 'a', 'd', 'e']);
    expect(out[0]).toEqual(item('f', 5, ['hats'], ['cf', 'pinned']));
  });

  it('shows an item pinned twice only once', () => {
    const out = apply(rules({ pins: [{ itemId: 'd', position: 1 }, { itemId: 'd', position: 3 }] }));
    expect(new Set(ids(out)).size).toBe(out.length);
    expect(ids(out)[0]).toBe('d');
  });

  it('does not let a pin beyond the limit take a place in the list', () => {
    expect(ids(apply(rules({ pins: [{ itemId: 'z', position: 50 }] }), { limit: 3 }))).toEqual(['a', 'b', 'c']);
  });

  // Regression: pins beyond the limit once took places from the capped list and counted against the cap.
  it('does not let a pin beyond the limit change the list when a diversity cap applies', () => {
    expect(ids(apply(rules({ maxPerCategory: 1 }), { limit: 3 }))).toEqual(['a', 'c', 'd']);
    expect(ids(apply(rules({ maxPerCategory: 1, pins: [{ itemId: 'z', position: 50 }] }), { limit: 3 }))).toEqual(['a', 'c', 'd']);
    expect(ids(apply(rules({ maxPerCategory: 1, pins: [{ itemId: 'f', position: 50 }] }), { limit: 3 }))).toEqual(['a', 'c', 'd']);
    expect(ids(apply(rules({ maxPerCategory: 1, pins: [{ itemId: 'z', position: 2 }] }), { limit: 1 }))).toEqual(['a']);
  });
});

describe('applyRules: invariants (property)', () => {
  const POOL = ['i0', 'i1', 'i2', 'i3', 'i4', 'i5', 'i6', 'i7', 'i8', 'i9', 'i10', 'i11'];
  const OUTSIDERS = ['n0', 'n1', 'n2']; // never candidates: pins only
  const CATS = ['shoes', 'hats', 'bags', 'toys'];
  const subset = <T>(values: readonly T[], maxLength = values.length) => fc.uniqueArray(fc.constantFrom(...values), { maxLength });
  const selector = fc.oneof(fc.record({ itemId: fc.constantFrom(...POOL) }), fc.record({ category: fc.constantFrom(...CATS) }));

  const candidatesArb = fc
    .uniqueArray(fc.constantFrom(...POOL), { maxLength: POOL.length })
    .chain((itemIds) =>
      fc.tuple(...itemIds.map((itemId) => fc.record({ itemId: fc.constant(itemId), score: fc.double({ min: 0, max: 100, noNaN: true }), categories: subset(CATS, 2), reasons: fc.constant<string[]>(['cf']) }))),
    )
    .map((list) => [...list].sort((x, y) => y.score - x.score) as Candidate[]);

  const rulesArb = fc
    .record({
      excludePurchased: fc.boolean(),
      excludeInCart: fc.boolean(),
      includeCategories: subset(CATS, 2),
      excludeCategories: subset(CATS, 1),
      // Distinct pin items: duplicate pins are a separate (failing) case above.
      pins: fc.uniqueArray(fc.record({ itemId: fc.constantFrom(...POOL, ...OUTSIDERS), position: fc.integer({ min: 1, max: 15 }) }), { maxLength: 4, selector: (p) => p.itemId }),
      boosts: fc.array(fc.tuple(selector, fc.double({ min: 0.01, max: 50, noNaN: true })).map(([s, factor]) => ({ ...s, factor })), { maxLength: 4 }),
      burials: fc.array(selector, { maxLength: 3 }),
      maxPerCategory: fc.integer({ min: 0, max: 3 }),
    })
    .map((r) => RulesSchema.parse(r));

  const contextArb = fc.record({
    limit: fc.integer({ min: 0, max: 15 }),
    unavailable: subset([...POOL, ...OUTSIDERS], 3).map((v) => new Set(v)),
    excluded: subset([...POOL, ...OUTSIDERS], 3).map((v) => new Set(v)),
    purchased: subset([...POOL, ...OUTSIDERS], 3).map((v) => new Set(v)),
    inCart: subset([...POOL, ...OUTSIDERS], 3).map((v) => new Set(v)),
    category: fc.option(fc.constantFrom(...CATS), { nil: undefined }),
  });

  it('returns at most `limit` distinct items, none filtered out, and is never short when there are enough allowed items', () => {
    fc.assert(
      fc.property(candidatesArb, rulesArb, contextArb, (candidates, r, ctx) => {
        const out = applyRules(candidates, r, ctx);
        const categoriesOf = new Map(candidates.map((c) => [c.itemId, c.categories]));
        const allowed = (itemId: string) => {
          const cats = categoriesOf.get(itemId) ?? [];
          if (ctx.unavailable.has(itemId) || ctx.excluded.has(itemId)) return false;
          if (r.excludePurchased && ctx.purchased.has(itemId)) return false;
          if (r.excludeInCart && ctx.inCart.has(itemId)) return false;
          if (cats.some((c) => r.excludeCategories.includes(c))) return false;
          if (r.includeCategories.length > 0 && !cats.some((c) => r.includeCategories.includes(c))) return false;
          return ctx.category === undefined || cats.includes(ctx.category);
        };
        const eligible = new Set([...candidates.map((c) => c.itemId), ...r.pins.map((p) => p.itemId)].filter(allowed));

        expect(new Set(ids(out)).size).toBe(out.length);
        expect(out.length).toBe(Math.min(ctx.limit, eligible.size));
        for (const c of out) expect(eligible.has(c.itemId)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('is not changed by pins of other items at positions beyond the limit', () => {
    fc.assert(
      fc.property(candidatesArb, rulesArb, contextArb, fc.uniqueArray(fc.constantFrom(...OUTSIDERS), { minLength: 1 }), (candidates, r, ctx, outsiders) => {
        const base = { ...r, pins: [] };
        const withPins = { ...base, pins: outsiders.map((itemId, i) => ({ itemId, position: ctx.limit + 1 + i })) };
        const expected = applyRules(candidates, base, ctx);
        fc.pre(expected.length === ctx.limit); // a short list is filled with the pins, at its end
        expect(applyRules(candidates, withPins, ctx)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('without pins, shows every unburied item before any buried one, and with no cap in score order', () => {
    fc.assert(
      fc.property(candidatesArb, rulesArb, contextArb, (candidates, r0, ctx) => {
        const r = { ...r0, pins: [], maxPerCategory: 0 };
        const out = applyRules(candidates, r, ctx);
        const buried = out.map((c) => c.reasons.includes('buried'));
        expect(buried).toEqual([...buried].sort((x, y) => Number(x) - Number(y)));
        for (let i = 1; i < out.length; i++) {
          if (buried[i] === buried[i - 1]) expect(out[i].score).toBeLessThanOrEqual(out[i - 1].score);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('RulesSchema', () => {
  it('accepts the defaults as they are', () => {
    expect(RulesSchema.parse(DEFAULT_RULES)).toEqual(DEFAULT_RULES);
  });

  it('normalizes every category: trimmed, single spaces, lower case', () => {
    const parsed = rules({
      includeCategories: ['  Garden   Tools '],
      excludeCategories: ['TOYS'],
      boosts: [{ category: ' Shoes ', factor: 2 }],
      burials: [{ category: 'Sale\tItems' }],
    });
    expect(parsed.includeCategories).toEqual(['garden tools']);
    expect(parsed.excludeCategories).toEqual(['toys']);
    expect(parsed.boosts).toEqual([{ category: 'shoes', factor: 2 }]);
    expect(parsed.burials).toEqual([{ category: 'sale items' }]);
  });

  it('rejects a blank or overlong category, naming it', () => {
    expect(problems({ includeCategories: ['ok', '   '] })).toBe('includeCategories.1: "   " is not a valid category (1-100 characters)');
    expect(problems({ excludeCategories: ['x'.repeat(101)] })).toMatch(/^excludeCategories\.0: "x+" is not a valid category/);
  });

  it('rejects a selector with both itemId and category, or neither', () => {
    expect(problems({ boosts: [{ itemId: 'a', category: 'shoes', factor: 2 }] })).toBe('boosts.0: give exactly one of itemId or category');
    expect(problems({ burials: [{ itemId: 'a', category: 'shoes' }] })).toBe('burials.0: give exactly one of itemId or category');
    expect(problems({ burials: [{}] })).toBe('burials.0: give exactly one of itemId or category');
    expect(problems({ boosts: [{ factor: 2 }] })).toBe('boosts.0: give exactly one of itemId or category');
  });

  it('rejects a negative, zero or missing boost factor', () => {
    expect(problems({ boosts: [{ itemId: 'a', factor: -1 }] })).toMatch(/^boosts\.0\.factor: .*>0/);
    expect(problems({ boosts: [{ itemId: 'a', factor: 0 }] })).toMatch(/^boosts\.0\.factor: /);
    expect(problems({ boosts: [{ itemId: 'a' }] })).toMatch(/^boosts\.0\.factor: /);
    expect(problems({ boosts: [{ itemId: 'a', factor: 1001 }] })).toMatch(/^boosts\.0\.factor: /);
  });

  it('rejects unknown keys, naming them', () => {
    expect(problems({ excludeCategory: ['toys'] })).toBe('Unrecognized key: "excludeCategory"');
    expect(problems({ pins: [{ itemId: 'a', position: 1, sticky: true }] })).toBe('pins.0: Unrecognized key: "sticky"');
    expect(problems({ burials: [{ itemId: 'a', until: 'x' }] })).toBe('burials.0: Unrecognized key: "until"');
  });

  // Regression: a zod 4 intersection (selector & { factor }) silently stripped misspelt keys.
  it('rejects unknown keys in a boost', () => {
    expect(problems({ boosts: [{ category: 'shoes', factor: 2, itemID: 'a' }] })).toMatch(/boosts\.0: Unrecognized key: "itemID"/);
  });

  it('rejects out-of-range pins and caps', () => {
    expect(problems({ pins: [{ itemId: 'a', position: 0 }] })).toMatch(/^pins\.0\.position: /);
    expect(problems({ pins: [{ itemId: 'a', position: 101 }] })).toMatch(/^pins\.0\.position: /);
    expect(problems({ pins: [{ itemId: 'a', position: 1.5 }] })).toMatch(/^pins\.0\.position: /);
    expect(problems({ pins: [{ itemId: '  ', position: 1 }] })).toMatch(/^pins\.0\.itemId: /);
    expect(problems({ maxPerCategory: -1 })).toMatch(/^maxPerCategory: /);
  });

  it('requires every key (use RulesSchema.partial() for overrides)', () => {
    const { maxPerCategory: _, ...incomplete } = DEFAULT_RULES;
    expect(RulesSchema.safeParse(incomplete).success).toBe(false);
  });

  it('lists every problem at once', () => {
    const message = problems({ maxPerCategory: -1, burials: [{}], extra: 1 });
    expect(message).toContain('maxPerCategory');
    expect(message).toContain('burials.0: give exactly one of itemId or category');
    expect(message).toContain('Unrecognized key: "extra"');
  });
});
