import { createHash } from 'node:crypto';

/**
 * A/B experiments on recommendations. An experiment splits people between variants by weight; each variant
 * may choose the strategy, the scoring weights and the rules. Assignment is deterministic: the same person
 * always gets the same variant of an experiment (hash of the experiment's salt and the person's id), and
 * changing the salt reshuffles everyone.
 */

export interface Variant<T> {
  name: string;
  /** Relative share of traffic (any positive numbers; they need not add up to 100). */
  weight: number;
  settings: T;
}

export interface Experiment<T> {
  name: string;
  salt: string;
  variants: Array<Variant<T>>;
}

/** A number in [0, 1) derived from `salt` and `personId`, uniform over people. */
export function bucketOf(salt: string, personId: string): number {
  const digest = createHash('sha256').update(salt).update('\u0000').update(personId).digest();
  // 48 bits is plenty of resolution and stays an exact integer in a double.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** The variant `personId` is in: the variant whose share of [0, 1) contains the person's bucket. */
export function assignVariant<T>(experiment: Experiment<T>, personId: string): Variant<T> {
  const total = experiment.variants.reduce((sum, v) => sum + v.weight, 0);
  let point = bucketOf(experiment.salt, personId) * total;
  for (const variant of experiment.variants) {
    if (point < variant.weight) return variant;
    point -= variant.weight;
  }
  return experiment.variants[experiment.variants.length - 1];
}
