import { z } from 'zod';
import { describeIssues } from './event-schema';
import { assignVariant, Experiment, Variant } from './experiments';
import { DEFAULT_RULES, Rules, RulesSchema } from './rules';
import { DEFAULT_SCORING_WEIGHTS, ScoringWeights } from './scoring';
import { SegmentIdSchema } from './segments';

/**
 * How the recommendation API behaves: the default strategy, scoring weights and business rules, segment-specific
 * defaults (the first of the person's segments listed wins), and an optional A/B experiment, optionally only for
 * the members of one segment, whose variants override any of them. Given as the `recommendations` object in the
 * CDK context (cdk.json), validated at synth and again when the function starts.
 */

export const STRATEGIES = ['hybrid', 'popular', 'personalize'] as const;
/**
 * - `hybrid`: the person's recent interactions through the item-to-item model, category affinity, popularity fallback.
 * - `popular`: the popularity chain only (trending → popular in the preferred categories → global), no personal signals.
 * - `personalize`: Amazon Personalize's campaign, falling back to `hybrid` on error or timeout (needs a campaign ARN).
 */
export type Strategy = (typeof STRATEGIES)[number];

/** What one request is served with. */
export interface ServingSettings {
  strategy: Strategy;
  scoring: ScoringWeights;
  rules: Rules;
}

const numericWeightKeys = Object.keys(DEFAULT_SCORING_WEIGHTS).filter(
  (key) => typeof DEFAULT_SCORING_WEIGHTS[key as keyof ScoringWeights] === 'number',
) as Array<keyof ScoringWeights>;

const ScoringOverridesSchema = z
  .object({
    ...Object.fromEntries(numericWeightKeys.map((key) => [key, z.number().min(0).max(1e6).optional()])),
    // Ages are divided by the half-life.
    recencyHalfLifeHours: z.number().positive().max(1e6).optional(),
    eventWeights: z.record(z.string().min(1).max(200), z.number().min(0).max(1000)).optional(),
  })
  .strict();

const OverridesSchema = {
  strategy: z.enum(STRATEGIES).optional(),
  scoring: ScoringOverridesSchema.optional(),
  rules: RulesSchema.partial().optional(),
};

const VariantSchema = z.object({ name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), weight: z.number().positive().max(1e6), ...OverridesSchema }).strict();

export const RecommendConfigSchema = z
  .object({
    ...OverridesSchema,
    experiment: z
      .object({
        name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
        /** Changing the salt reassigns everyone. @default the experiment's name */
        salt: z.string().min(1).max(200).optional(),
        variants: z.array(VariantSchema).min(1).max(20),
        /** Only members of this segment take part; everyone else gets the defaults. */
        segment: SegmentIdSchema.optional(),
      })
      .strict()
      .refine((e) => new Set(e.variants.map((v) => v.name)).size === e.variants.length, 'variant names must be unique')
      .optional(),
    /** Defaults for the members of a segment, in the order they are tried: the first segment the person is in wins. */
    segments: z
      .array(z.object({ segment: SegmentIdSchema, ...OverridesSchema }).strict())
      .max(20)
      .refine((list) => new Set(list.map((s) => s.segment)).size === list.length, 'each segment may be listed once')
      .optional(),
    /** How long a function instance reuses the model pointer and the unavailable-items set. @default 10 */
    modelCacheSeconds: z.number().int().min(0).max(3600).optional(),
    /** Write a `Recommendations Shown` event per response, for attribution. @default true */
    exposureEvents: z.boolean().optional(),
  })
  .strict();

export type RecommendConfig = z.infer<typeof RecommendConfigSchema>;

/** The config resolved to what serving uses: every variant complete. */
export interface ResolvedRecommendConfig {
  defaults: ServingSettings;
  experiment?: SegmentExperiment;
  /** Segment-specific defaults, each with the experiment's variants resolved on top of them. */
  segments: Array<{ segment: string; defaults: ServingSettings; experiment?: SegmentExperiment }>;
  modelCacheSeconds: number;
  exposureEvents: boolean;
}

/** Validates a config object (throws with every problem listed) and resolves defaults and variant overrides. */
export function resolveRecommendConfig(raw: unknown, options: { personalizeAvailable: boolean }): ResolvedRecommendConfig {
  const parsed = RecommendConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new Error(`Invalid recommendations config: ${describeIssues(parsed.error)}`);
  const config = parsed.data;
  const base: ServingSettings = { strategy: 'hybrid', scoring: DEFAULT_SCORING_WEIGHTS, rules: DEFAULT_RULES };
  const defaults = withOverrides(base, config);
  const experimentOn = (settings: ServingSettings): SegmentExperiment | undefined => {
    const e = config.experiment;
    if (!e) return undefined;
    const variants: Array<Variant<ServingSettings>> = e.variants.map((v) => ({ name: v.name, weight: v.weight, settings: withOverrides(settings, v) }));
    return { name: e.name, salt: e.salt ?? e.name, variants, ...(e.segment ? { segment: e.segment } : {}) };
  };
  const experiment = experimentOn(defaults);
  const segments = (config.segments ?? []).map((s) => {
    const segmentDefaults = withOverrides(defaults, s);
    const segmentExperiment = experimentOn(segmentDefaults);
    return { segment: s.segment, defaults: segmentDefaults, ...(segmentExperiment ? { experiment: segmentExperiment } : {}) };
  });
  const everySettings = [defaults, ...(experiment?.variants ?? []).map((v) => v.settings), ...segments.flatMap((s) => [s.defaults, ...(s.experiment?.variants ?? []).map((v) => v.settings)])];
  for (const settings of everySettings) {
    if (settings.strategy === 'personalize' && !options.personalizeAvailable) {
      throw new Error('Invalid recommendations config: strategy "personalize" needs personalizeCampaignArn');
    }
  }
  return {
    defaults,
    ...(experiment ? { experiment } : {}),
    segments,
    modelCacheSeconds: config.modelCacheSeconds ?? 10,
    exposureEvents: config.exposureEvents ?? true,
  };
}

/** An experiment, optionally limited to the members of one segment. */
export type SegmentExperiment = Experiment<ServingSettings> & { segment?: string };

/** What one person is served with: the settings, the variant's name, and where they came from. */
export interface Serving {
  settings: ServingSettings;
  /** `default` outside the experiment. */
  variant: string;
  /** The experiment the person takes part in. */
  experiment?: string;
  /** The segment whose defaults apply. */
  segment?: string;
}

/**
 * The fallback chain for one person (`personId`: the same on every device) in `segments`: the experiment's
 * variant if they take part, on top of the defaults of the first listed segment they are in, on top of the
 * global defaults.
 */
export function servingFor(config: ResolvedRecommendConfig, segments: ReadonlySet<string>, personId: string): Serving {
  const bySegment = config.segments.find((s) => segments.has(s.segment));
  const experiment = bySegment ? bySegment.experiment : config.experiment;
  const origin = bySegment ? { segment: bySegment.segment } : {};
  if (!experiment || (experiment.segment !== undefined && !segments.has(experiment.segment))) {
    return { settings: bySegment?.defaults ?? config.defaults, variant: 'default', ...origin };
  }
  const variant = assignVariant(experiment, personId);
  return { settings: variant.settings, variant: variant.name, experiment: experiment.name, ...origin };
}

type Overrides = { strategy?: Strategy; scoring?: Partial<ScoringWeights>; rules?: Partial<Rules> };

function withOverrides(base: ServingSettings, overrides: Overrides): ServingSettings {
  return {
    strategy: overrides.strategy ?? base.strategy,
    scoring: {
      ...base.scoring,
      ...overrides.scoring,
      eventWeights: { ...base.scoring.eventWeights, ...overrides.scoring?.eventWeights },
    },
    rules: { ...base.rules, ...overrides.rules },
  };
}
