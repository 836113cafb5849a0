import { assignVariant } from '../../lambdas/shared/domain/experiments';
import { RecommendConfigSchema, resolveRecommendConfig, servingFor } from '../../lambdas/shared/domain/recommend-config';
import { DEFAULT_RULES } from '../../lambdas/shared/domain/rules';
import { DEFAULT_SCORING_WEIGHTS } from '../../lambdas/shared/domain/scoring';

/**
 * The `recommendations` config (recommend-config.ts): validated with every problem listed, then resolved to
 * complete serving settings, top-level overrides over the defaults and each variant's over those.
 */

const resolve = (raw: unknown, personalizeAvailable = false) => resolveRecommendConfig(raw, { personalizeAvailable });
/** The message resolving `raw` throws. */
const errorOf = (raw: unknown, personalizeAvailable = false): string => {
  try {
    resolve(raw, personalizeAvailable);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
};
const withVariants = (...variants: Array<Record<string, unknown>>) => ({ experiment: { name: 'exp', variants } });

const DEFAULT_SETTINGS = { strategy: 'hybrid', scoring: DEFAULT_SCORING_WEIGHTS, rules: DEFAULT_RULES };

describe('resolveRecommendConfig: defaults', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['{}', {}],
  ])('resolves %s to the defaults, with no experiment', (_, raw) => {
    const resolved = resolve(raw);
    expect(resolved).toEqual({ defaults: DEFAULT_SETTINGS, segments: [], modelCacheSeconds: 10, exposureEvents: true });
    expect('experiment' in resolved).toBe(false);
  });

  it('keeps falsy settings that are given', () => {
    const resolved = resolve({ modelCacheSeconds: 0, exposureEvents: false });
    expect(resolved.modelCacheSeconds).toBe(0);
    expect(resolved.exposureEvents).toBe(false);
  });

  it('does not modify the shared defaults', () => {
    const before = JSON.stringify([DEFAULT_RULES, DEFAULT_SCORING_WEIGHTS]);
    const resolved = resolve({
      scoring: { affinityBoost: 0.9, eventWeights: { 'Product Viewed': 7 } },
      rules: { maxPerCategory: 3, excludeCategories: ['toys'] },
      ...withVariants({ name: 'a', weight: 1, scoring: { eventWeights: { 'Order Completed': 9 } }, rules: { excludeInCart: false } }),
    });
    expect(JSON.stringify([DEFAULT_RULES, DEFAULT_SCORING_WEIGHTS])).toBe(before);
    expect(resolved.defaults.scoring.eventWeights).not.toBe(DEFAULT_SCORING_WEIGHTS.eventWeights);
  });
});

describe('resolveRecommendConfig: overrides', () => {
  it('applies top-level overrides over the defaults, merging rules and scoring key by key', () => {
    const { defaults } = resolve({
      strategy: 'popular',
      scoring: { affinityBoost: 0.5, eventWeights: { 'Product Viewed': 4, 'Video Played': 1 } },
      rules: { maxPerCategory: 2, excludeCategories: [' Toys '] },
    });
    expect(defaults.strategy).toBe('popular');
    expect(defaults.scoring).toEqual({
      ...DEFAULT_SCORING_WEIGHTS,
      affinityBoost: 0.5,
      eventWeights: { ...DEFAULT_SCORING_WEIGHTS.eventWeights, 'Product Viewed': 4, 'Video Played': 1 },
    });
    expect(defaults.rules).toEqual({ ...DEFAULT_RULES, maxPerCategory: 2, excludeCategories: ['toys'] });
  });

  it("merges each variant's overrides over the top-level ones", () => {
    const resolved = resolve({
      strategy: 'hybrid',
      scoring: { maxItemWeight: 20, eventWeights: { 'Product Viewed': 2 } },
      rules: { maxPerCategory: 2, excludeCategories: ['toys'] },
      ...withVariants(
        { name: 'control', weight: 50 },
        {
          name: 'treatment',
          weight: 50,
          strategy: 'popular',
          scoring: { affinityBoost: 0.8, eventWeights: { 'Order Completed': 10 } },
          rules: { maxPerCategory: 3, boosts: [{ category: 'Sale', factor: 2 }] },
        },
      ),
    });
    const [control, treatment] = resolved.experiment?.variants ?? [];

    expect(control).toEqual({ name: 'control', weight: 50, settings: resolved.defaults });
    expect(resolved.defaults.rules).toEqual({ ...DEFAULT_RULES, maxPerCategory: 2, excludeCategories: ['toys'] });

    expect(treatment.name).toBe('treatment');
    expect(treatment.weight).toBe(50);
    expect(treatment.settings.strategy).toBe('popular');
    // Rules: the variant's keys over the top-level ones over the defaults.
    expect(treatment.settings.rules).toEqual({
      ...DEFAULT_RULES,
      maxPerCategory: 3,
      excludeCategories: ['toys'],
      boosts: [{ category: 'sale', factor: 2 }],
    });
    // Scoring: numbers from every level; event weights merged key by key across all three.
    expect(treatment.settings.scoring).toEqual({
      ...DEFAULT_SCORING_WEIGHTS,
      maxItemWeight: 20,
      affinityBoost: 0.8,
      eventWeights: { ...DEFAULT_SCORING_WEIGHTS.eventWeights, 'Product Viewed': 2, 'Order Completed': 10 },
    });
  });

  it("replaces a list with the variant's list rather than appending to it", () => {
    const resolved = resolve({ rules: { excludeCategories: ['toys'] }, ...withVariants({ name: 'v', weight: 1, rules: { excludeCategories: ['garden'] } }) });
    expect(resolved.experiment?.variants[0].settings.rules.excludeCategories).toEqual(['garden']);
    expect(resolved.defaults.rules.excludeCategories).toEqual(['toys']);
  });

  it('keeps the variants in order and resolves each one apart', () => {
    const resolved = resolve(
      withVariants(
        { name: 'a', weight: 1, rules: { maxPerCategory: 1 } },
        { name: 'b', weight: 2, scoring: { eventWeights: { 'Product Viewed': 9 } } },
        { name: 'c', weight: 3 },
      ),
    );
    const variants = resolved.experiment?.variants ?? [];
    expect(variants.map((v) => [v.name, v.weight])).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    expect(variants.map((v) => v.settings.rules.maxPerCategory)).toEqual([1, 0, 0]);
    expect(variants.map((v) => v.settings.scoring.eventWeights['Product Viewed'])).toEqual([
      DEFAULT_SCORING_WEIGHTS.eventWeights['Product Viewed'],
      9,
      DEFAULT_SCORING_WEIGHTS.eventWeights['Product Viewed'],
    ]);
  });

  it("salts the experiment with its name unless a salt is given", () => {
    expect(resolve(withVariants({ name: 'a', weight: 1 })).experiment?.salt).toBe('exp');
    const salted = resolve({ experiment: { name: 'exp', salt: 'round-2', variants: [{ name: 'a', weight: 1 }] } });
    expect(salted.experiment).toMatchObject({ name: 'exp', salt: 'round-2' });
  });

  it('resolves to an experiment assignVariant can serve', () => {
    const { experiment } = resolve(withVariants({ name: 'a', weight: 1 }, { name: 'b', weight: 1 }));
    if (!experiment) throw new Error('expected an experiment');
    const names = new Set(Array.from({ length: 200 }, (_, i) => assignVariant(experiment, `user#${i}`).name));
    expect(names).toEqual(new Set(['a', 'b']));
  });

  it('accepts personalize when a campaign is available, at the top level or in a variant', () => {
    expect(resolve({ strategy: 'personalize' }, true).defaults.strategy).toBe('personalize');
    expect(resolve(withVariants({ name: 'p', weight: 1, strategy: 'personalize' }), true).experiment?.variants[0].settings.strategy).toBe('personalize');
  });
});

describe('resolveRecommendConfig: errors', () => {
  it('prefixes every message so the config is named', () => {
    expect(errorOf({ strategy: 'magic' })).toMatch(/^Invalid recommendations config: /);
  });

  it('rejects duplicate variant names', () => {
    expect(errorOf(withVariants({ name: 'a', weight: 1 }, { name: 'b', weight: 1 }, { name: 'a', weight: 2 }))).toContain(
      'experiment: variant names must be unique',
    );
  });

  it.each([
    ['at the top level', { strategy: 'hybrid', stratgy: 'popular' }, 'Unrecognized key: "stratgy"'],
    ['in the experiment', { experiment: { name: 'e', variants: [{ name: 'a', weight: 1 }], seed: 1 } }, 'experiment: Unrecognized key: "seed"'],
    ['in a variant', withVariants({ name: 'a', weight: 1, share: 1 }), 'experiment.variants.0: Unrecognized key: "share"'],
    ['in scoring', { scoring: { affinity: 1 } }, 'scoring: Unrecognized key: "affinity"'],
    ['in rules', { rules: { maxPerCat: 1 } }, 'rules: Unrecognized key: "maxPerCat"'],
    ["in a variant's rules", withVariants({ name: 'a', weight: 1, rules: { pin: [] } }), 'experiment.variants.0.rules: Unrecognized key: "pin"'],
  ])('rejects an unknown key %s, naming it', (_, raw, message) => {
    expect(errorOf(raw)).toContain(message);
  });

  it('rejects an unknown strategy, listing the valid ones', () => {
    const message = errorOf({ strategy: 'magic' });
    expect(message).toContain('strategy:');
    for (const s of ['hybrid', 'popular', 'personalize']) expect(message).toContain(s);
    expect(errorOf(withVariants({ name: 'a', weight: 1, strategy: 'random' }))).toContain('experiment.variants.0.strategy:');
  });

  it('rejects personalize without a campaign, at the top level or in any variant', () => {
    expect(errorOf({ strategy: 'personalize' })).toContain('strategy "personalize" needs personalizeCampaignArn');
    expect(errorOf(withVariants({ name: 'a', weight: 1 }, { name: 'p', weight: 1, strategy: 'personalize' }))).toContain(
      'strategy "personalize" needs personalizeCampaignArn',
    );
    // A variant going back to hybrid does not make a personalize default valid.
    expect(errorOf({ strategy: 'personalize', ...withVariants({ name: 'h', weight: 1, strategy: 'hybrid' }) })).toContain('personalizeCampaignArn');
  });

  it('rejects negative weights, naming the weight', () => {
    expect(errorOf({ scoring: { affinityBoost: -0.1 } })).toContain('scoring.affinityBoost:');
    expect(errorOf({ scoring: { eventWeights: { 'Product Viewed': -1 } } })).toContain('scoring.eventWeights.Product Viewed:');
    expect(errorOf(withVariants({ name: 'a', weight: 1, scoring: { maxItemWeight: -1 } }))).toContain('experiment.variants.0.scoring.maxItemWeight:');
    expect(errorOf(withVariants({ name: 'a', weight: -1 }))).toContain('experiment.variants.0.weight:');
    expect(errorOf(withVariants({ name: 'a', weight: 0 }))).toContain('experiment.variants.0.weight:');
  });

  it('rejects an experiment without variants, or with a bad name', () => {
    expect(errorOf({ experiment: { name: 'e', variants: [] } })).toContain('experiment.variants:');
    expect(errorOf({ experiment: { name: 'has space', variants: [{ name: 'a', weight: 1 }] } })).toContain('experiment.name:');
    expect(errorOf(withVariants({ name: '', weight: 1 }))).toContain('experiment.variants.0.name:');
  });

  it('rejects bad rules overrides with the rules messages', () => {
    expect(errorOf({ rules: { boosts: [{ itemId: 'a', category: 'b', factor: 2 }] } })).toContain('rules.boosts.0: give exactly one of itemId or category');
    expect(errorOf({ rules: { includeCategories: ['  '] } })).toContain('rules.includeCategories.0: "  " is not a valid category');
  });

  it('rejects bad cache and exposure settings', () => {
    expect(errorOf({ modelCacheSeconds: 1.5 })).toContain('modelCacheSeconds:');
    expect(errorOf({ modelCacheSeconds: -1 })).toContain('modelCacheSeconds:');
    expect(errorOf({ exposureEvents: 'yes' })).toContain('exposureEvents:');
  });

  it('rejects a config that is not an object', () => {
    expect(errorOf('hybrid')).toMatch(/^Invalid recommendations config: /);
    expect(errorOf([])).toMatch(/^Invalid recommendations config: /);
  });

  it('lists every problem at once', () => {
    const message = errorOf({ strategy: 'magic', scoring: { affinityBoost: -1 }, modelCacheSeconds: -1 });
    expect(message).toContain('strategy:');
    expect(message).toContain('scoring.affinityBoost:');
    expect(message).toContain('modelCacheSeconds:');
  });

  // Scoring divides each interaction's age by the half-life: 0 would silently turn collaborative filtering off.
  it('rejects a zero recency half-life, which scoring divides by', () => {
    expect(errorOf({ scoring: { recencyHalfLifeHours: 0 } })).toContain('scoring.recencyHalfLifeHours:');
  });
});

describe('RecommendConfigSchema', () => {
  it('accepts every numeric scoring weight as an override, and nothing else in scoring', () => {
    const numeric = Object.entries(DEFAULT_SCORING_WEIGHTS).filter(([, v]) => typeof v === 'number');
    expect(numeric.length).toBeGreaterThan(0);
    for (const [key, value] of numeric) expect(RecommendConfigSchema.safeParse({ scoring: { [key]: value } }).success).toBe(true);
    expect(RecommendConfigSchema.safeParse({ scoring: { eventWeights: { 'Product Viewed': 1 } } }).success).toBe(true);
    expect(RecommendConfigSchema.safeParse({ scoring: { eventWeights: 'x' } }).success).toBe(false);
  });

  it('takes rules overrides as partial rules', () => {
    const parsed = RecommendConfigSchema.parse({ rules: { maxPerCategory: 1 } });
    expect(parsed.rules).toEqual({ maxPerCategory: 1 });
  });
});

describe('servingFor: segment-specific defaults and segment experiments', () => {
  const config = resolve({
    rules: { maxPerCategory: 3 },
    segments: [
      { segment: 'cart-abandoners', strategy: 'popular', rules: { maxPerCategory: 1 } },
      { segment: 'vip', scoring: { affinityBoost: 0 } },
    ],
    experiment: { name: 'ranker', segment: 'vip', variants: [{ name: 'only', weight: 1, rules: { excludeInCart: false } }] },
  });

  it("serves the global defaults outside every listed segment, and outside the experiment's segment", () => {
    expect(servingFor(config, new Set(), 'p1')).toEqual({ settings: config.defaults, variant: 'default' });
    expect(servingFor(config, new Set(['unlisted']), 'p1')).toEqual({ settings: config.defaults, variant: 'default' });
  });

  it("serves the first listed segment's defaults, on top of the global ones", () => {
    const serving = servingFor(config, new Set(['cart-abandoners']), 'p1');
    expect(serving).toMatchObject({ variant: 'default', segment: 'cart-abandoners', settings: { strategy: 'popular', rules: { maxPerCategory: 1 } } });
    expect(serving.experiment).toBeUndefined();
    // In two listed segments: the first listed wins, whatever the order of the person's memberships.
    expect(servingFor(config, new Set(['vip', 'cart-abandoners']), 'p1').segment).toBe('cart-abandoners');
  });

  it("puts only the experiment segment's members in the experiment, its variant on top of their segment's defaults", () => {
    const serving = servingFor(config, new Set(['vip']), 'p1');
    expect(serving).toMatchObject({ variant: 'only', experiment: 'ranker', segment: 'vip' });
    expect(serving.settings.scoring.affinityBoost).toBe(0); // the segment's default
    expect(serving.settings.rules).toMatchObject({ maxPerCategory: 3, excludeInCart: false }); // global, then the variant
  });

  it('rejects a segment that is not a segment id, or listed twice', () => {
    expect(errorOf({ segments: [{ segment: 'Not An Id' }] })).toContain('segments.0.segment');
    expect(errorOf({ segments: [{ segment: 'a' }, { segment: 'a' }] })).toContain('each segment may be listed once');
    expect(errorOf({ experiment: { name: 'e', segment: 'BAD', variants: [{ name: 'a', weight: 1 }] } })).toContain('experiment.segment');
  });
});
