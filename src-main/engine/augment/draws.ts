/**
 * The random parameters of a set of views, drawn on the CPU from the run's generator in a
 * fixed order (per view: crop area, log aspect, x, y, flip, jitter, brightness, contrast,
 * saturation, hue, grayscale, blur, blur sigma, solarize) whatever the probabilities, so the
 * stream of draws only depends on the number of views.
 */
import type { Rng } from '../rng.ts';
import type { ViewsConfig } from './config.ts';

export interface ViewParams {
  /** [count·4] boxes [y0, x0, y1, x1] in cropAndResize's normalised, align-corners geometry. */
  boxes: Float32Array;
  /** [count] source image of each view: view-major, so row v·B + b reads image b. */
  imageIndex: Int32Array;
  /** Per view: 1 where the augmentation applies, else 0. */
  jitter: Float32Array;
  gray: Float32Array;
  blur: Float32Array;
  solarize: Float32Array;
  brightness: Float32Array;
  contrast: Float32Array;
  saturation: Float32Array;
  hue: Float32Array;
  sigma: Float32Array;
}

const LOG_RATIO = [Math.log(3 / 4), Math.log(4 / 3)] as const;

/**
 * Random resized crops as in the reference recipe: area fraction s ~ U(lo, hi), log aspect
 * r ~ U(log 3/4, log 4/3), w = √(s·r), h = √(s/r) as fractions of the side (at most 1),
 * x0 ~ U(0, 1 − w), y0 ~ U(0, 1 − h); a flip swaps x0 and x1.
 */
export function drawViewParams(
  rng: Rng,
  views: number,
  batch: number,
  scale: [number, number],
  cfg: ViewsConfig,
  channels: number,
): ViewParams {
  const count = views * batch;
  const p: ViewParams = {
    boxes: new Float32Array(count * 4),
    imageIndex: new Int32Array(count),
    jitter: new Float32Array(count),
    gray: new Float32Array(count),
    blur: new Float32Array(count),
    solarize: new Float32Array(count),
    brightness: new Float32Array(count),
    contrast: new Float32Array(count),
    saturation: new Float32Array(count),
    hue: new Float32Array(count),
    sigma: new Float32Array(count),
  };
  const [lo, hi] = scale;
  const j = cfg.jitter;
  const colour = channels === 3;
  for (let i = 0; i < count; i++) {
    const s = lo + (hi - lo) * rng.uniform();
    const r = Math.exp(LOG_RATIO[0] + (LOG_RATIO[1] - LOG_RATIO[0]) * rng.uniform());
    const w = Math.min(1, Math.sqrt(s * r));
    const h = Math.min(1, Math.sqrt(s / r));
    const x0 = (1 - w) * rng.uniform();
    const y0 = (1 - h) * rng.uniform();
    const flip = rng.uniform() < cfg.flip;
    p.imageIndex[i] = i % batch;
    p.boxes.set([y0, flip ? x0 + w : x0, y0 + h, flip ? x0 : x0 + w], i * 4);

    p.jitter[i] = rng.uniform() < j.p ? 1 : 0;
    p.brightness[i] = 1 + j.brightness * (2 * rng.uniform() - 1);
    p.contrast[i] = 1 + j.contrast * (2 * rng.uniform() - 1);
    // Drawn for grey images too, so that the stream does not depend on the channel count.
    const saturation = rng.uniform();
    const hue = rng.uniform();
    p.saturation[i] = colour ? 1 + j.saturation * (2 * saturation - 1) : 1;
    p.hue[i] = colour ? j.hue * (2 * hue - 1) : 0;
    p.gray[i] = rng.uniform() < cfg.grayscale && colour ? 1 : 0;
    p.blur[i] = rng.uniform() < cfg.blur ? 1 : 0;
    p.sigma[i] = 0.1 + 1.9 * rng.uniform();
    p.solarize[i] = rng.uniform() < cfg.solarize ? 1 : 0;
  }
  return p;
}
