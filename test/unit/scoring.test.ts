import fc from 'fast-check';
import { RankedItem } from '../../lambdas/shared/domain/model';
import { DEFAULT_SCORING_WEIGHTS, ScoredItem, scoreItems, ScoringInput, topAffinityCategories } from '../../lambdas/shared/domain/scoring';
import { DAY, HOUR, T0 } from '../support/events';
import { mulberry32 } from '../../local/random';

const VIEW = 'Product Viewed';
const ADD = 'Product Added';
const BUY = 'Order Completed';

const item = (itemId: string, score: number, categories: string[] = []): RankedItem => ({ itemId, score, categories });
const noPopularity: ScoringInput['popularity'] = { trending: [], global: [], byCategory: new Map() };

function input(overrides: Partial<ScoringInput>): ScoringInput {
  return { now: T0, recent: [], affinity: {}, neighbours: new Map(), popularity: noPopularity, ...overrides };
}

const ids = (scored: ScoredItem[]) => scored.map((s) => s.itemId);
const byId = (scored: ScoredItem[], itemId: string) => scored.find((s) => s.itemId === itemId) as ScoredItem;
const rankOf = (scored: ScoredItem[], itemId: string) => ids(scored).indexOf(itemId);

/** Two sources with disjoint neighbourhoods of equal strength. */
const neighbours = new Map<string, RankedItem[]>([
  ['shoe', [item('sock', 0.5), item('lace', 0.2)]],
  ['hat', [item('scarf', 0.5), item('glove', 0.2)]],
]);

describe('scoreItems: collaborative filtering', () => {
  it('expands recent items through their neighbours, weighting newer interactions higher', () => {
    const newShoe = scoreItems(input({ neighbours, recent: [{ itemId: 'shoe', event: VIEW, at: T0 - HOUR }, { itemId: 'hat', event: VIEW, at: T0 - 3 * DAY }] }));
    expect(rankOf(newShoe, 'sock')).toBeLessThan(rankOf(newShoe, 'scarf'));
    expect(byId(newShoe, 'sock').reasons).toEqual(['similar:shoe']);
    const newHat = scoreItems(input({ neighbours, recent: [{ itemId: 'hat', event: VIEW, at: T0 - HOUR }, { itemId: 'shoe', event: VIEW, at: T0 - 3 * DAY }] }));
    expect(rankOf(newHat, 'scarf')).toBeLessThan(rankOf(newHat, 'sock'));
  });

  it('halves an interaction’s weight every half-life', () => {
    const weights = { ...DEFAULT_SCORING_WEIGHTS, recencyHalfLifeHours: 10, affinityBoost: 0 };
    const at = (age: number) => byId(scoreItems(input({ neighbours, recent: [{ itemId: 'shoe', event: VIEW, at: T0 - age }] }), weights), 'sock').score;
    expect(at(0)).toBeCloseTo(0.5, 12);
    expect(at(10 * HOUR)).toBeCloseTo(0.25, 12);
    expect(at(20 * HOUR)).toBeCloseTo(0.125, 12);
  });

  it('weighs a purchase above an add-to-cart above a view', () => {
    const three = new Map([
      ['bought', [item('from-bought', 0.5)]],
      ['carted', [item('from-carted', 0.5)]],
      ['viewed', [item('from-viewed', 0.5)]],
    ]);
    const recent = [
      { itemId: 'viewed', event: VIEW, at: T0 },
      { itemId: 'carted', event: ADD, at: T0 },
      { itemId: 'bought', event: BUY, at: T0 },
    ];
    expect(ids(scoreItems(input({ neighbours: three, recent })))).toEqual(['from-bought', 'from-carted', 'from-viewed']);
  });

  it('adds up repeated interactions with one item (to a cap) instead of expanding it again per interaction', () => {
    const weights = { ...DEFAULT_SCORING_WEIGHTS, recencyHalfLifeHours: 1e6, maxItemWeight: 4, affinityBoost: 0 };
    const views = (n: number) => Array.from({ length: n }, () => ({ itemId: 'shoe', event: VIEW, at: T0 }));
    const score = (n: number) => byId(scoreItems(input({ neighbours, recent: views(n) }), weights), 'sock');
    expect(score(1).score).toBeCloseTo(0.5, 12);
    expect(score(3).score).toBeCloseTo(1.5, 12);
    expect(score(20).score).toBeCloseTo(2, 12);
    expect(score(20).reasons).toEqual(['similar:shoe']);
  });

  it('names the recent item contributing most as the reason', () => {
    const shared = new Map([
      ['shoe', [item('sock', 0.1)]],
      ['boot', [item('sock', 0.4)]],
    ]);
    const scored = scoreItems(input({ neighbours: shared, recent: [{ itemId: 'shoe', event: BUY, at: T0 }, { itemId: 'boot', event: VIEW, at: T0 }] }));
    // shoe: 5 × 0.1 = 0.5, boot: 1 × 0.4 = 0.4.
    expect(byId(scored, 'sock').reasons).toEqual(['similar:shoe']);
  });

  it('lets the context item dominate however long and strong the history, affinity included', () => {
    const lists = new Map(neighbours);
    lists.set('scarf', [item('beanie', 0.05, ['hats']), item('mitten', 0.01)]);
    const recent = Array.from({ length: 50 }, (_, k) => ({ itemId: k % 2 === 0 ? 'shoe' : 'hat', event: BUY, at: T0 - k * HOUR }));
    const affinity = { socks: 10, hats: 1 };
    const withCategories = new Map([...lists].map(([id, list]) => [id, list.map((r) => (r.itemId === 'sock' ? { ...r, categories: ['socks'] } : r))]));
    const scored = scoreItems(input({ neighbours: withCategories, recent, affinity, contextItemId: 'scarf' }));
    expect(ids(scored)[0]).toBe('beanie');
    expect(byId(scored, 'beanie').reasons).toEqual(['context:scarf', 'affinity:hats']);
    // An item reached from both the context and the history names both.
    expect(byId(scored, 'scarf').reasons).toEqual(['similar:hat']);
    expect(ids(scoreItems(input({ neighbours: lists, contextItemId: 'scarf' })))).toEqual(['beanie', 'mitten']);
    const both = new Map([...lists, ['hat', [item('mitten', 0.5)]]]);
    expect(byId(scoreItems(input({ neighbours: both, recent, contextItemId: 'scarf' })), 'mitten').reasons).toEqual(['context:scarf', 'similar:hat']);
  });

  it('keeps items the person already interacted with (the caller’s rules decide) and marks nothing', () => {
    const loop = new Map([
      ['shoe', [item('sock', 0.5)]],
      ['sock', [item('shoe', 0.5)]],
    ]);
    const scored = scoreItems(input({ neighbours: loop, recent: [{ itemId: 'shoe', event: VIEW, at: T0 }, { itemId: 'sock', event: VIEW, at: T0 }] }));
    expect(ids(scored).sort()).toEqual(['shoe', 'sock']);
  });

  it('lets a negative neighbour weight lower a candidate other lists reached, and never make one', () => {
    const lists = new Map<string, RankedItem[]>([
      ['shoe', [item('sock', 0.5), item('lace', 0.4)]],
      ['boot', [item('polish', 0.1), item('sock', -0.3), item('sandal', -0.2)]],
    ]);
    const recent = [{ itemId: 'shoe', event: VIEW, at: T0 }];
    const alone = scoreItems(input({ neighbours: lists, recent }));
    expect(ids(alone)).toEqual(['sock', 'lace']);
    const both = scoreItems(input({ neighbours: lists, recent: [...recent, { itemId: 'boot', event: VIEW, at: T0 }] }));
    // sock: 0.5 − 0.3 = 0.2 falls below lace (0.4); sandal (negative only) is no candidate.
    expect(ids(both)).toEqual(['lace', 'sock', 'polish']);
    expect(byId(both, 'sock').score).toBeCloseTo(0.2, 12);
    expect(byId(both, 'sock').reasons).toEqual(['similar:shoe']);
  });

  it('ignores events without an interaction weight', () => {
    const scored = scoreItems(input({ neighbours, recent: [{ itemId: 'shoe', event: 'Product Removed', at: T0 }] }));
    expect(scored).toEqual([]);
  });
});

describe('scoreItems: category affinity', () => {
  it('lifts a CF candidate in a category the person likes', () => {
    const lists = new Map([['shoe', [item('plain', 0.5, ['basics']), item('fancy', 0.45, ['luxury'])]]]);
    const recent = [{ itemId: 'shoe', event: VIEW, at: T0 }];
    expect(ids(scoreItems(input({ neighbours: lists, recent })))).toEqual(['plain', 'fancy']);
    const scored = scoreItems(input({ neighbours: lists, recent, affinity: { luxury: 3, basics: 0.1 } }));
    expect(ids(scored)).toEqual(['fancy', 'plain']);
    expect(byId(scored, 'fancy').reasons).toEqual(['similar:shoe', 'affinity:luxury']);
  });

  it('lifts a new item (no interactions, at the tail of its category list) above popular items of other categories', () => {
    const popularity = {
      trending: [],
      global: [],
      byCategory: new Map([
        ['hats', [item('hat-1', 50, ['hats']), item('hat-2', 40, ['hats'])]],
        ['shoes', [item('shoe-1', 30, ['shoes']), item('brand-new-shoe', 0, ['shoes'])]],
      ]),
    };
    const without = scoreItems(input({ popularity, preferredCategories: ['hats', 'shoes'] }), { ...DEFAULT_SCORING_WEIGHTS, affinityBoost: 0 });
    expect(ids(without)).toEqual(['hat-1', 'hat-2', 'shoe-1', 'brand-new-shoe']);
    const withAffinity = scoreItems(
      input({ popularity, preferredCategories: ['hats', 'shoes'], affinity: { shoes: 5, hats: 0.5 } }),
      { ...DEFAULT_SCORING_WEIGHTS, affinityBoost: 1 },
    );
    expect(rankOf(withAffinity, 'brand-new-shoe')).toBeLessThan(rankOf(withAffinity, 'hat-2'));
    expect(byId(withAffinity, 'brand-new-shoe').reasons).toEqual(['popular:shoes', 'affinity:shoes']);
  });
});

describe('scoreItems: popularity fallback', () => {
  const popularity = {
    trending: [item('t1', 10), item('t2', 5), item('shared', 1)],
    global: [item('shared', 100), item('g1', 90), item('g2', 80), item('c1', 70)],
    byCategory: new Map([
      ['shoes', [item('c1', 70, ['shoes']), item('c2', 20, ['shoes'])]],
      ['hats', [item('h1', 60, ['hats'])]],
    ]),
  };

  it('orders a cold visitor’s list trending → preferred categories → global, each tier strictly below the previous', () => {
    const scored = scoreItems(input({ popularity, preferredCategories: ['shoes'] }));
    expect(ids(scored)).toEqual(['t1', 't2', 'shared', 'c1', 'c2', 'g1', 'g2']);
    expect(scored.map((s) => s.reasons[0])).toEqual(['trending', 'trending', 'trending', 'popular:shoes', 'popular:shoes', 'popular', 'popular']);
    const scores = scored.map((s) => s.score);
    for (let k = 1; k < scores.length; k++) expect(scores[k]).toBeLessThan(scores[k - 1]);
    // Only the fetched (preferred) categories take part: hats were not asked for.
    expect(ids(scored)).not.toContain('h1');
  });

  it('puts every CF-backed candidate above every fallback candidate', () => {
    const lists = new Map([['shoe', [item('weak', 1e-9), item('g1', 1e-12)]]]);
    const recent = [{ itemId: 'shoe', event: VIEW, at: T0 - 30 * DAY }];
    const scored = scoreItems(input({ popularity, neighbours: lists, recent, preferredCategories: ['shoes'] }));
    expect(ids(scored).slice(0, 2)).toEqual(['weak', 'g1']);
    expect(byId(scored, 'g1').reasons).toEqual(['similar:shoe']);
    expect(byId(scored, 'g2').score).toBeLessThan(byId(scored, 'g1').score);
  });

  it('prefers earlier preferred categories', () => {
    const scored = scoreItems(input({ popularity: { ...popularity, trending: [], global: [] }, preferredCategories: ['hats', 'shoes'] }));
    expect(ids(scored)).toEqual(['h1', 'c1', 'c2']);
    expect(byId(scored, 'h1').reasons).toEqual(['popular:hats']);
  });

  it('never returns an empty list when a popularity list has an item, and ranks each candidate once', () => {
    const list = fc.array(
      fc.record({
        itemId: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'toString', '__proto__'),
        score: fc.double({ min: 0, max: 100, noNaN: true }),
        categories: fc.subarray(['x', 'y']),
      }),
      { maxLength: 5 },
    );
    const affinities = fc.dictionary(fc.constantFrom('x', 'y'), fc.double({ min: 0, max: 10, noNaN: true }));
    fc.assert(
      fc.property(list, list, list, fc.subarray(['x', 'y', 'z']), affinities, (trending, global, inX, preferred, affinity) => {
        const popularity = { trending, global, byCategory: new Map([['x', inX]]) };
        const scored = scoreItems(input({ popularity, preferredCategories: preferred, affinity }));
        const offered = trending.length + global.length + (preferred.includes('x') ? inX.length : 0);
        expect(scored.length > 0).toBe(offered > 0);
        expect(new Set(ids(scored)).size).toBe(scored.length);
        for (let k = 1; k < scored.length; k++) expect(scored[k].score).toBeLessThanOrEqual(scored[k - 1].score);
      }),
      { numRuns: 200 },
    );
  });
});

describe('topAffinityCategories', () => {
  it('returns the n strongest positive categories, ties by name', () => {
    expect(topAffinityCategories({ shoes: 2, hats: 5, bags: 2, socks: 0, toString: 1 }, 3)).toEqual(['hats', 'bags', 'shoes']);
    expect(topAffinityCategories({ shoes: 2 }, 0)).toEqual([]);
    expect(topAffinityCategories({}, 3)).toEqual([]);
  });
});

describe('scoreItems: performance', () => {
  /** p99 of `runs` timed calls, in ms. */
  function p99(run: () => void, runs: number): number {
    const times: number[] = [];
    for (let k = 0; k < runs; k++) {
      const started = performance.now();
      run();
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(runs * 0.99)];
  }

  /**
   * `recentItems` distinct recent items, each with 50 distinct random positive neighbours and `negatives` negative
   * weights on other recent items' neighbours, plus the popularity lists: the worst case for that profile size.
   */
  function perfInput(recentItems: number, negatives: number): ScoringInput {
    const random = mulberry32(7);
    const pick = () => `item-${Math.floor(random() * 5000)}`;
    const categories = ['a', 'b', 'c', 'd', 'e', 'f'];
    const ranked = (n: number) => Array.from({ length: n }, (_, k) => item(pick(), n - k, [categories[k % categories.length]]));
    const recent = Array.from({ length: recentItems }, (_, k) => ({ itemId: pick(), event: k % 5 === 0 ? ADD : VIEW, at: T0 - k * HOUR, category: 'a' }));
    const positive = new Map(recent.map((r) => [r.itemId, ranked(50).map((n) => ({ ...n, score: random() }))]));
    const reached = [...positive.values()].flat();
    const neighbours = new Map(
      [...positive].map(([id, list]) => [id, [...list, ...Array.from({ length: negatives }, () => ({ ...reached[Math.floor(random() * reached.length)], score: -random() }))]]),
    );
    return input({
      recent,
      neighbours,
      contextItemId: recent[0].itemId,
      affinity: { a: 3, b: 1, c: 0.5 },
      preferredCategories: ['a', 'b', 'c'],
      popularity: { trending: ranked(200), global: ranked(200), byCategory: new Map(['a', 'b', 'c'].map((c) => [c, ranked(100)])) },
    });
  }

  // The target case, with the default model's negative weights. (A full 200-item profile is measured by
  // `bench:recommend` and `bench:quality`.) Ids from 5,000 items, as in a mid-sized catalog: ~2,300 candidates.
  it('scores 50 recent items × (50 neighbours + 100 negative weights), with the popularity lists, with a p99 under 5 ms over 2,000 runs', () => {
    const perf = perfInput(50, 100);
    expect(scoreItems(perf).length).toBeGreaterThan(1000);
    for (let k = 0; k < 200; k++) scoreItems(perf);
    // Best of up to five measurements: a shared CI box's other jobs (and its neighbours on the host) can stall any one
    // of them; slow code fails all.
    let best = Infinity;
    for (let trial = 0; trial < 5 && best >= 5; trial++) best = Math.min(best, p99(() => scoreItems(perf), 2000));
    expect(best).toBeLessThan(5);
  });
});

