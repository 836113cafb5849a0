import fc from 'fast-check';
import { assignVariant, bucketOf, Experiment } from '../../lambdas/shared/domain/experiments';

/**
 * Deterministic A/B assignment (experiments.ts): a person's variant is a function of the experiment's salt and
 * the person's id only. The balance tests count 20,000 synthetic ids; with n ids and a variant of share p, its
 * count is Binomial(n, p) for a uniform hash, σ = √(n·p·(1 − p)). The tolerance is 5σ: a uniform hash lands
 * outside it with probability < 1e-6 per check (and the ids are fixed, so the test is deterministic anyway),
 * while a broken hash or share computation misses by far more (e.g. a 50/50 split off by 2% is 5.7σ).
 */

const N = 20_000;
const PEOPLE = Array.from({ length: N }, (_, i) => (i % 2 === 0 ? `user#u-${i}` : `anon#${(i * 2654435761) % 4294967296}-x`));

const experiment = (salt: string, weights: Record<string, number>): Experiment<string> => ({
  name: 'exp',
  salt,
  variants: Object.entries(weights).map(([name, weight]) => ({ name, weight, settings: `settings-${name}` })),
});

/** How many of PEOPLE land in each variant. */
const counts = (exp: Experiment<string>, people: readonly string[] = PEOPLE) => {
  const out: Record<string, number> = Object.fromEntries(exp.variants.map((v) => [v.name, 0]));
  for (const id of people) out[assignVariant(exp, id).name] += 1;
  return out;
};
const sigma = (n: number, p: number) => Math.sqrt(n * p * (1 - p));
const expectWithin = (actual: number, expected: number, tolerance: number) => {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance);
};

describe('bucketOf', () => {
  it('is in [0, 1) for any salt and id', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (salt, id) => {
        const b = bucketOf(salt, id);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThan(1);
      }),
      { numRuns: 2000 },
    );
    for (const [salt, id] of [['', ''], ['s', ''], ['', 'u'], ['ü', '😀'], ['x'.repeat(10_000), 'y']]) {
      const b = bucketOf(salt, id);
      expect(b >= 0 && b < 1).toBe(true);
    }
  });

  it('is deterministic', () => {
    expect(bucketOf('salt', 'user#u-1')).toBe(bucketOf('salt', 'user#u-1'));
  });

  it('depends on both the salt and the id, and keeps them apart', () => {
    expect(bucketOf('salt', 'u1')).not.toBe(bucketOf('salt', 'u2'));
    expect(bucketOf('salt-a', 'u1')).not.toBe(bucketOf('salt-b', 'u1'));
    // Without a separator these would hash the same bytes.
    expect(bucketOf('ab', 'c')).not.toBe(bucketOf('a', 'bc'));
  });

  it('is uniform: each tenth of [0, 1) holds a tenth of the people, and the mean is 1/2', () => {
    const deciles = new Array(10).fill(0);
    let sum = 0;
    for (const id of PEOPLE) {
      const b = bucketOf('uniformity', id);
      deciles[Math.floor(b * 10)] += 1;
      sum += b;
    }
    for (const count of deciles) expectWithin(count, N / 10, 5 * sigma(N, 0.1));
    // The mean of n uniforms has σ = √(1/12 / n).
    expectWithin(sum / N, 0.5, 5 * Math.sqrt(1 / 12 / N));
  });
});

describe('assignVariant', () => {
  it('gives the same person the same variant every time, on equal experiment objects', () => {
    const first = PEOPLE.slice(0, 500).map((id) => assignVariant(experiment('s1', { a: 1, b: 1, c: 1 }), id).name);
    const again = PEOPLE.slice(0, 500).map((id) => assignVariant(experiment('s1', { a: 1, b: 1, c: 1 }), id).name);
    expect(again).toEqual(first);
    expect(new Set(first)).toEqual(new Set(['a', 'b', 'c']));
  });

  it('returns the variant object itself, with its settings', () => {
    const exp = experiment('s1', { a: 1, b: 1 });
    const variant = assignVariant(exp, 'user#u-1');
    expect(exp.variants).toContain(variant);
    expect(variant.settings).toBe(`settings-${variant.name}`);
  });

  it('picks the variant whose share of [0, 1) contains the bucket', () => {
    const exp = experiment('ref', { a: 70, b: 20, c: 10 });
    for (const id of PEOPLE.slice(0, 2000)) {
      const b = bucketOf('ref', id);
      const expected = b < 0.7 ? 'a' : b < 0.9 ? 'b' : 'c';
      expect(assignVariant(exp, id).name).toBe(expected);
    }
  });

  it('reshuffles people when the salt changes', () => {
    const before = experiment('salt-1', { a: 1, b: 1 });
    const after = experiment('salt-2', { a: 1, b: 1 });
    const moved = PEOPLE.filter((id) => assignVariant(before, id).name !== assignVariant(after, id).name).length;
    // Independent 50/50 assignments: half the people move.
    expectWithin(moved, N / 2, 5 * sigma(N, 0.5));
  });

  it('splits 50/50 within 5σ', () => {
    const c = counts(experiment('fifty', { control: 50, treatment: 50 }));
    expectWithin(c.control, N * 0.5, 5 * sigma(N, 0.5));
    expectWithin(c.treatment, N * 0.5, 5 * sigma(N, 0.5));
  });

  it('splits 70/20/10 within 5σ', () => {
    const c = counts(experiment('seventy', { a: 70, b: 20, c: 10 }));
    expectWithin(c.a, N * 0.7, 5 * sigma(N, 0.7));
    expectWithin(c.b, N * 0.2, 5 * sigma(N, 0.2));
    expectWithin(c.c, N * 0.1, 5 * sigma(N, 0.1));
  });

  it('reads weights as relative shares: 7/2/1 assigns everyone as 70/20/10 does', () => {
    const big = experiment('rel', { a: 70, b: 20, c: 10 });
    const small = experiment('rel', { a: 7, b: 2, c: 1 });
    const fractional = experiment('rel', { a: 0.7, b: 0.2, c: 0.1 });
    for (const id of PEOPLE.slice(0, 5000)) {
      const name = assignVariant(big, id).name;
      expect(assignVariant(small, id).name).toBe(name);
      expect(assignVariant(fractional, id).name).toBe(name);
    }
  });

  it('gives a tiny variant its tiny share, and no more', () => {
    const c = counts(experiment('tiny', { main: 999, tiny: 1 }));
    expectWithin(c.tiny, N * 0.001, 5 * sigma(N, 0.001));
  });

  it('always returns the only variant of a single-variant experiment', () => {
    for (const weight of [1, 0.001, 1e6]) {
      const exp = experiment('solo', { only: weight });
      for (const id of PEOPLE.slice(0, 1000)) expect(assignVariant(exp, id)).toBe(exp.variants[0]);
    }
  });

  it('assigns independently in two experiments with different salts', () => {
    const first = experiment('exp-one', { a: 1, b: 1 });
    const second = experiment('exp-two', { x: 1, y: 1 });
    const cells: Record<string, number> = { ax: 0, ay: 0, bx: 0, by: 0 };
    for (const id of PEOPLE) cells[assignVariant(first, id).name + assignVariant(second, id).name] += 1;
    // Each cell of two independent 50/50 splits holds a quarter of the people.
    for (const count of Object.values(cells)) expectWithin(count, N / 4, 5 * sigma(N, 0.25));
    // And knowing the first variant says nothing of the second: P(x | a) ≈ P(x | b) ≈ 1/2.
    const pxGivenA = cells.ax / (cells.ax + cells.ay);
    const pxGivenB = cells.bx / (cells.bx + cells.by);
    expectWithin(pxGivenA - pxGivenB, 0, 5 * Math.sqrt(0.25 / (N / 2) + 0.25 / (N / 2)));
  });
});
