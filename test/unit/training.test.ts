import fc from 'fast-check';
import { Interaction, RankedItem } from '../../lambdas/shared/domain/model';
import { DEFAULT_TRAINING_OPTIONS, invertSpd, trainModel, TrainingOptions } from '../../lambdas/shared/domain/training';
import { DAY, HOUR, T0 } from '../support/events';

const VIEW = 'Product Viewed';
const ADD = 'Product Added';
const BUY = 'Order Completed';

const fixedClock = { clock: () => T0 };
const train = (interactions: Interaction[], options: Partial<TrainingOptions> = {}, catalog?: Map<string, { categories: string[]; createdAt?: number }>) =>
  trainModel(interactions, { ...fixedClock, ...options }, catalog);

/** One interaction per item for `subject`, all at `at`. */
function basket(subject: string, items: string[], event = VIEW, at = T0, categories?: string[]): Interaction[] {
  return items.map((itemId) => ({ subject, itemId, event, at, ...(categories ? { categories } : {}) }));
}

const ids = (list: ReadonlyArray<{ itemId: string }> | undefined) => (list ?? []).map((r) => r.itemId);

/** A small shop: shoes and socks bought together, hats and scarves bought together, plus noise. */
function shop(): Interaction[] {
  return [
    ...basket('u1', ['shoe', 'sock'], BUY),
    ...basket('u2', ['shoe', 'sock', 'hat'], BUY),
    ...basket('u3', ['shoe', 'sock'], BUY),
    ...basket('u4', ['hat', 'scarf'], BUY),
    ...basket('u5', ['hat', 'scarf', 'shoe'], VIEW),
    ...basket('u6', ['hat', 'scarf'], BUY),
    ...basket('u7', ['sock', 'glove'], VIEW),
    ...basket('u8', ['scarf', 'glove'], VIEW),
  ];
}

describe.each(['cooccurrence', 'ease'] as const)('trainModel (%s): neighbours', (algorithm) => {
  it('makes co-bought items each other’s strongest neighbours, strongest first, then the most negative weights, with categories', () => {
    const catalog = new Map([
      ['shoe', { categories: ['Shoes'] }],
      ['sock', { categories: ['Socks', 'Shoes'] }],
    ]);
    const model = train(shop(), { algorithm, easeLambda: 1 }, catalog);
    expect(model.algorithm).toBe(algorithm);
    expect(ids(model.neighbours.get('shoe'))[0]).toBe('sock');
    expect(ids(model.neighbours.get('sock'))[0]).toBe('shoe');
    expect(ids(model.neighbours.get('hat'))[0]).toBe('scarf');
    expect(ids(model.neighbours.get('scarf'))[0]).toBe('hat');
    for (const list of model.neighbours.values()) {
      const positive = list.filter((r) => r.score > 0).map((r) => r.score);
      const negative = list.filter((r) => r.score < 0).map((r) => r.score);
      // Positive weights first, strongest first; then negative ones (EASE only), most negative first.
      expect(list.map((r) => r.score)).toEqual([...positive.sort((a, b) => b - a), ...negative.sort((a, b) => a - b)]);
      if (algorithm === 'cooccurrence') expect(negative).toEqual([]);
    }
    expect(model.neighbours.get('shoe')?.[0].categories).toEqual(['socks', 'shoes']);
  });

  it('keeps at most K positive (and negativeNeighbours negative) weights per item, and never the item itself', () => {
    const items = Array.from({ length: 30 }, (_, i) => `item-${String(i).padStart(2, '0')}`);
    const interactions = Array.from({ length: 40 }, (_, u) => basket(`u${u}`, items.filter((_, i) => (i * 7 + u) % 3 !== 0))).flat();
    const model = train(interactions, { algorithm, neighbours: 5, negativeNeighbours: 3, easeLambda: 10 });
    const untruncated = train(interactions, { algorithm, neighbours: 100, negativeNeighbours: 100, easeLambda: 10 });
    const positive = (list: readonly RankedItem[] = []) => list.filter((r) => r.score > 0);
    const negative = (list: readonly RankedItem[] = []) => list.filter((r) => r.score < 0);
    expect(model.neighbours.size).toBe(30);
    for (const [itemId, list] of model.neighbours) {
      expect(positive(list).length).toBeLessThanOrEqual(5);
      expect(negative(list).length).toBeLessThanOrEqual(3);
      expect(ids(list)).not.toContain(itemId);
      expect(positive(list)).toEqual(positive(untruncated.neighbours.get(itemId)).slice(0, 5));
      expect(negative(list)).toEqual(negative(untruncated.neighbours.get(itemId)).slice(0, 3));
    }
  });

  it('weighs a purchase above an add-to-cart above a view', () => {
    // "a" is purchased with "buy", carted with "cart", viewed with "view", by different people.
    const interactions = [
      ...basket('p1', ['a', 'buy'], BUY),
      ...basket('p2', ['a', 'cart'], ADD),
      ...basket('p3', ['a', 'view'], VIEW),
      ...basket('p4', ['buy', 'cart', 'view', 'other'], VIEW),
    ];
    const positive = train(interactions, { algorithm, easeLambda: 1 }).neighbours.get('a')?.filter((r) => r.score > 0);
    expect(ids(positive)).toEqual(['buy', 'cart', 'view']);
  });

  it('is deterministic: the same interactions in any order give the same model', () => {
    const arbitraryInteraction = fc.record({
      subject: fc.constantFrom('u1', 'u2', 'u3', 'u4', 'u5'),
      itemId: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
      event: fc.constantFrom(VIEW, ADD, BUY),
      at: fc.integer({ min: T0 - 30 * DAY, max: T0 }),
      categories: fc.subarray(['x', 'y', 'z']),
    });
    fc.assert(
      fc.property(fc.array(arbitraryInteraction, { minLength: 1, maxLength: 40 }), fc.integer(), (interactions, seed) => {
        const all = { minLength: interactions.length, maxLength: interactions.length };
        const shuffled = fc.sample(fc.shuffledSubarray(interactions, all), { numRuns: 1, seed })[0];
        expect(train(shuffled, { algorithm, easeLambda: 2 })).toEqual(train(interactions, { algorithm, easeLambda: 2 }));
      }),
      { numRuns: 50 },
    );
  });
});

describe('trainModel: busy subjects', () => {
  it('computes neighbours from at most maxItemsPerSubject items per subject (the strongest), popularity from all', () => {
    const interactions = [...basket('busy', ['a', 'b'], BUY), ...basket('busy', ['x1', 'x2', 'x3'], VIEW)];
    const model = train(interactions, { algorithm: 'cooccurrence', maxItemsPerSubject: 2 });
    expect(ids(model.neighbours.get('a'))).toEqual(['b']);
    expect(model.neighbours.has('x1')).toBe(false);
    expect(ids(model.popularity.global)).toEqual(['a', 'b', 'x1', 'x2', 'x3']);
    expect(ids(train(interactions, { algorithm: 'cooccurrence' }).neighbours.get('a'))).toEqual(['b', 'x1', 'x2', 'x3']);
  });
});

describe('trainModel: popularity', () => {
  it('ranks the global list by weighted interactions: purchase > add-to-cart > view', () => {
    const model = train([...basket('u1', ['viewed'], VIEW), ...basket('u2', ['carted'], ADD), ...basket('u3', ['bought'], BUY)]);
    expect(model.popularity.global.map((r) => [r.itemId, r.score])).toEqual([
      ['bought', 5],
      ['carted', 3],
      ['viewed', 1],
    ]);
  });

  it('uses an interaction’s explicit weight instead of its event’s, and ignores unknown events and non-positive weights', () => {
    const model = train([
      { subject: 'u1', itemId: 'rated', event: VIEW, at: T0, weight: 4 },
      { subject: 'u1', itemId: 'removed', event: 'Product Removed', at: T0 },
      { subject: 'u1', itemId: 'zero', event: VIEW, at: T0, weight: 0 },
      { subject: 'u1', itemId: 'unknown', event: 'Video Played', at: T0 },
      { subject: 'u2', itemId: 'viewed', event: VIEW, at: T0 },
    ]);
    expect(model.popularity.global.map((r) => [r.itemId, r.score])).toEqual([
      ['rated', 4],
      ['viewed', 1],
    ]);
    expect(model.stats).toEqual({ interactions: 2, subjects: 2, items: 2, modelItems: 0 });
  });

  it('aggregates one subject’s repeated interactions with an item up to a cap', () => {
    const spam = Array.from({ length: 50 }, (_, k) => ({ subject: 'bot', itemId: 'spammed', event: VIEW, at: T0 - k * HOUR }));
    const model = train([...spam, ...basket('u1', ['liked'], BUY), ...basket('u2', ['liked'], BUY)], { maxPairWeight: 8 });
    expect(model.popularity.global.map((r) => [r.itemId, r.score])).toEqual([
      ['liked', 10],
      ['spammed', 8],
    ]);
  });

  it('counts only the trending window (days before the newest interaction) for trending', () => {
    const old = Array.from({ length: 10 }, (_, u) => ({ subject: `old${u}`, itemId: 'classic', event: BUY, at: T0 - 30 * DAY }));
    const recent = [
      { subject: 'n1', itemId: 'hot', event: VIEW, at: T0 - 6 * DAY },
      { subject: 'n2', itemId: 'hot', event: VIEW, at: T0 },
      { subject: 'n3', itemId: 'warm', event: VIEW, at: T0 - 2 * DAY },
      { subject: 'n4', itemId: 'stale', event: BUY, at: T0 - 8 * DAY },
    ];
    const model = train([...old, ...recent], { trendingWindowDays: 7 });
    expect(model.popularity.trending.map((r) => [r.itemId, r.score])).toEqual([
      ['hot', 2],
      ['warm', 1],
    ]);
    expect(ids(model.popularity.global)).toEqual(['classic', 'stale', 'hot', 'warm']);
    expect(ids(train([...old, ...recent], { trendingWindowDays: 60 }).popularity.trending)[0]).toBe('classic');
  });

  it('keeps per-category lists: catalog categories win over event categories, items unknown to the catalog keep theirs', () => {
    const interactions = [
      ...basket('u1', ['boot'], BUY, T0, ['Shoes']),
      ...basket('u2', ['boot', 'sandal'], VIEW, T0, ['shoes']),
      ...basket('u3', ['cap'], VIEW, T0, ['Hats']),
    ];
    const catalog = new Map([['sandal', { categories: ['Shoes', ' Summer '] }]]);
    const model = train(interactions, {}, catalog);
    expect(ids(model.popularity.byCategory.get('shoes'))).toEqual(['boot', 'sandal']);
    expect(ids(model.popularity.byCategory.get('summer'))).toEqual(['sandal']);
    expect(ids(model.popularity.byCategory.get('hats'))).toEqual(['cap']);
    expect(model.popularity.global.find((r) => r.itemId === 'sandal')?.categories).toEqual(['shoes', 'summer']);
    expect(model.popularity.global.find((r) => r.itemId === 'cap')?.categories).toEqual(['hats']);
  });

  it('appends catalog items nobody interacted with at the tail of their categories, newest first, with reserved slots', () => {
    const sold = Array.from({ length: 6 }, (_, k) => basket(`u${k}`, Array.from({ length: 6 - k }, (_, i) => `old-${i}`))).flat();
    const catalog = new Map<string, { categories: string[]; createdAt?: number }>([
      ...Array.from({ length: 6 }, (_, i): [string, { categories: string[] }] => [`old-${i}`, { categories: ['shoes'] }]),
      ['new-a', { categories: ['shoes'], createdAt: T0 - DAY }],
      ['new-b', { categories: ['shoes', 'sale'], createdAt: T0 }],
      ['new-c', { categories: ['shoes'] }],
    ]);
    const model = train(sold, { categorySize: 5, newItemsPerCategory: 2 }, catalog);
    expect(ids(model.popularity.byCategory.get('shoes'))).toEqual(['old-0', 'old-1', 'old-2', 'new-b', 'new-a']);
    expect(model.popularity.byCategory.get('shoes')?.slice(-2).map((r) => r.score)).toEqual([0, 0]);
    expect(ids(model.popularity.byCategory.get('sale'))).toEqual(['new-b']);
    expect(ids(model.popularity.global)).not.toContain('new-b');

    const roomy = train(sold, { categorySize: 20, newItemsPerCategory: 5 }, catalog);
    expect(ids(roomy.popularity.byCategory.get('shoes'))).toEqual(['old-0', 'old-1', 'old-2', 'old-3', 'old-4', 'old-5', 'new-b', 'new-a', 'new-c']);
  });

  it('bounds every list', () => {
    const interactions = Array.from({ length: 300 }, (_, i) => ({ subject: `u${i}`, itemId: `item-${i}`, event: VIEW, at: T0, categories: ['all'] }));
    const model = train(interactions);
    expect(model.popularity.global).toHaveLength(DEFAULT_TRAINING_OPTIONS.globalSize);
    expect(model.popularity.trending).toHaveLength(DEFAULT_TRAINING_OPTIONS.trendingSize);
    expect(model.popularity.byCategory.get('all')).toHaveLength(DEFAULT_TRAINING_OPTIONS.categorySize);
    // Ties are broken by itemId.
    expect(ids(model.popularity.global).slice(0, 3)).toEqual(['item-0', 'item-1', 'item-10']);
  });
});

describe('trainModel: EASE', () => {
  // X: five subjects over four items; every row of B has a positive entry.
  const baskets: Record<string, string[]> = { u1: ['a', 'b'], u2: ['a', 'b', 'c'], u3: ['c', 'd'], u4: ['b', 'c', 'd'], u5: ['a', 'd'] };
  const items = ['a', 'b', 'c', 'd'];
  const lambda = 0.5;

  it('gives the weights of B = I − P·diag(1/diag(P)), P = (XᵀX + λI)⁻¹, computed independently', () => {
    const n = items.length;
    const g = items.map((i) => items.map((j) => Object.values(baskets).filter((b) => b.includes(i) && b.includes(j)).length + (i === j ? lambda : 0)));
    const p = gaussJordanInverse(g);
    const b = (j: number, i: number) => (i === j ? 0 : -p[j][i] / p[i][i]);

    const model = train(
      Object.entries(baskets).flatMap(([u, its]) => basket(u, its)),
      { algorithm: 'ease', easeLambda: lambda, negativeNeighbours: 0 },
    );
    for (let j = 0; j < n; j++) {
      const expected = items
        .map((itemId, i) => ({ itemId, score: b(j, i) }))
        .filter((e) => e.score > 0)
        .sort((x, y) => y.score - x.score);
      expect(expected.length).toBeGreaterThan(0);
      const actual = model.neighbours.get(items[j]) ?? [];
      expect(ids(actual)).toEqual(ids(expected));
      actual.forEach((r, k) => expect(r.score).toBeCloseTo(expected[k].score, 12));
    }
  });

  it('keeps the most negative weights after the positive ones when asked (negativeNeighbours), and none by request', () => {
    const g = items.map((i) => items.map((j) => Object.values(baskets).filter((b) => b.includes(i) && b.includes(j)).length + (i === j ? lambda : 0)));
    const p = gaussJordanInverse(g);
    const interactions = Object.entries(baskets).flatMap(([u, its]) => basket(u, its));
    const withNegatives = train(interactions, { algorithm: 'ease', easeLambda: lambda, negativeNeighbours: 1 });
    const positiveOnly = train(interactions, { algorithm: 'ease', easeLambda: lambda, negativeNeighbours: 0 });
    let negativesSeen = 0;
    items.forEach((itemId, j) => {
      const weights = items.map((other, i) => ({ itemId: other, score: i === j ? 0 : -p[j][i] / p[i][i] }));
      const positive = weights.filter((w) => w.score > 0).sort((x, y) => y.score - x.score);
      const mostNegative = weights.filter((w) => w.score < 0).sort((x, y) => x.score - y.score).slice(0, 1);
      negativesSeen += mostNegative.length;
      const actual = withNegatives.neighbours.get(itemId) ?? [];
      expect(ids(actual)).toEqual(ids([...positive, ...mostNegative]));
      actual.forEach((r, k) => expect(r.score).toBeCloseTo([...positive, ...mostNegative][k].score, 12));
      expect(ids(positiveOnly.neighbours.get(itemId))).toEqual(ids(positive));
    });
    expect(negativesSeen).toBeGreaterThan(0);
  });

  it('runs on the most frequent items only and gives the others co-occurrence neighbours', () => {
    const interactions = [...shop(), ...basket('u9', ['glove', 'mitten']), ...basket('u10', ['glove', 'mitten'])];
    const model = train(interactions, { algorithm: 'ease', maxEaseItems: 3, easeLambda: 1 });
    const cooccurrence = train(interactions, { algorithm: 'cooccurrence' });
    // glove, hat, scarf, shoe and sock have 4 subjects each, mitten 2: EASE takes glove, hat and scarf (ties by id).
    expect(ids(model.neighbours.get('mitten'))).toEqual(ids(cooccurrence.neighbours.get('mitten')));
    expect(model.stats.modelItems).toBe(model.neighbours.size);
  });
});

describe('invertSpd', () => {
  it('inverts a 2×2 matrix as computed by hand', () => {
    const a = Float64Array.from([4, 2, 2, 3]);
    invertSpd(a, 2);
    [3 / 8, -2 / 8, -2 / 8, 4 / 8].forEach((v, k) => expect(a[k]).toBeCloseTo(v, 14));
  });

  it('agrees with an independent Gauss-Jordan inverse on random SPD matrices', () => {
    const unit = fc.double({ min: -1, max: 1, noNaN: true });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(unit, { minLength: 144, maxLength: 144 }), (n, values) => {
        // A = RᵀR + I is symmetric positive definite.
        const r = Array.from({ length: n }, (_, i) => values.slice(i * n, i * n + n));
        const a = r.map((_, i) => r.map((__, j) => r.reduce((s, row) => s + row[i] * row[j], 0) + (i === j ? 1 : 0)));
        const expected = gaussJordanInverse(a);
        const flat = Float64Array.from(a.flat());
        invertSpd(flat, n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(flat[i * n + j]).toBeCloseTo(expected[i][j], 9);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a matrix that is not positive definite', () => {
    expect(() => invertSpd(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(/not positive definite/);
    expect(() => invertSpd(new Float64Array(3), 2)).toThrow(RangeError);
  });
});

/** A textbook Gauss-Jordan inverse with partial pivoting, independent of the code under test. */
function gaussJordanInverse(m: number[][]): number[][] {
  const n = m.length;
  const aug = m.map((row, i) => [...row, ...row.map((_, j) => (i === j ? 1 : 0))]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(aug[r][col]) > Math.abs(aug[pivot][col])) pivot = r;
    [aug[col], aug[pivot]] = [aug[pivot], aug[col]];
    const d = aug[col][col];
    for (let c = 0; c < 2 * n; c++) aug[col][c] /= d;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = aug[r][col];
      for (let c = 0; c < 2 * n; c++) aug[r][c] -= f * aug[col][c];
    }
  }
  return aug.map((row) => row.slice(n));
}
