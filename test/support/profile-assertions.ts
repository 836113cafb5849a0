import type { ProfileState } from '../../lambdas/shared/domain/profile';

/** Deep equality, except affinity scores, compared with a relative tolerance (floating-point sums in another order). */
export function expectSameState(actual: ProfileState, expected: ProfileState): void {
  const { scores: actualScores, ...actualAffinity } = actual.affinity;
  const { scores: expectedScores, ...expectedAffinity } = expected.affinity;
  expect({ ...actual, affinity: actualAffinity }).toEqual({ ...expected, affinity: expectedAffinity });
  expect(Object.keys(actualScores).sort()).toEqual(Object.keys(expectedScores).sort());
  for (const [category, score] of Object.entries(expectedScores)) {
    const difference = Math.abs(actualScores[category] - score);
    if (difference > 1e-9 * Math.abs(score)) throw new Error(`affinity ${category}: ${actualScores[category]} vs ${score}`);
  }
}
