import assert from 'node:assert/strict';

/** The largest |actual − expected| (NaN wins) and the largest |expected|. */
export function worstDifference(
  actual: Float32Array,
  expected: Float32Array,
): { worst: number; scale: number } {
  assert.equal(actual.length, expected.length, 'lengths differ');
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= worst)) worst = d;
  }
  return { worst, scale };
}
