/**
 * The learning-rate schedule of a run: linear warm-up, then a half cosine that
 * reaches 0 at the last step (the schedule of the LeJEPA recipes and of the
 * reference anchor run).
 */

export interface Schedule {
  /** Peak learning rate. */
  peak: number;
  /** Steps of linear warm-up (0: none). */
  warmupSteps: number;
  /** Steps of the whole run. */
  totalSteps: number;
}

/**
 * Learning rate of step `step` (0-based): `peak·(step+1)/W` during warm-up, then
 * `peak·½(1+cos(π·(step-W)/(T-W-1)))`, so the last step trains at 0.
 */
export function learningRateAt(step: number, s: Schedule): number {
  const { peak, warmupSteps: w, totalSteps: t } = s;
  if (step < w) return (peak * (step + 1)) / w;
  if (t <= w + 1) return peak;
  const progress = Math.min(1, (step - w) / (t - w - 1));
  return peak * 0.5 * (1 + Math.cos(Math.PI * progress));
}
