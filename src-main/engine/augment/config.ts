/**
 * Multi-crop view settings (LeJEPA §6 follows DINO's multi-crop: a few large "global" crops
 * and several small "local" ones) and their defaults, scaled down for small images.
 */

export interface JitterConfig {
  /** Probability that a view is colour-jittered. */
  p: number;
  /** Factor drawn from U(1 − b, 1 + b). */
  brightness: number;
  /** Factor drawn from U(1 − c, 1 + c), around the view's own mean. */
  contrast: number;
  /** Factor drawn from U(1 − s, 1 + s); only with 3 channels. */
  saturation: number;
  /** Shift drawn from U(−h, h) in turns of the colour wheel; only with 3 channels. */
  hue: number;
}

export interface ViewsConfig {
  globalViews: number;
  localViews: number;
  globalSize: number;
  localSize: number;
  /** Area fraction of the image a global crop covers, drawn uniformly in [lo, hi]. */
  globalScale: [number, number];
  localScale: [number, number];
  /** Probability of a horizontal flip. */
  flip: number;
  jitter: JitterConfig;
  /** Probability of converting to grey (3 channels only). */
  grayscale: number;
  /** Probability of a Gaussian blur. */
  blur: number;
  /** Probability of solarising (values above 0.5 inverted). */
  solarize: number;
  /** Per-channel normalisation applied after augmentation. */
  mean: number[];
  std: number[];
}

/**
 * Defaults for `imageSize` px images with `channels` channels. Up to 64 px: the LeJEPA
 * Fashion-MNIST recipe (2 global crops at full size, 4 local at half size, areas 0.3–1 and
 * 0.05–0.3, flip, brightness/contrast jitter 0.4 with p 0.8; for colour also saturation 0.2,
 * hue 0.1 and grayscale 0.2). Above 64 px: the paper's ImageNet recipe scaled to the size
 * (local crops 96/224 of the side, blur 0.5, solarize 0.1). Normalisation: Fashion-MNIST's
 * statistics for one channel (the reference recipe), ImageNet's for three; a dataset with
 * other statistics should pass its own.
 */
export function defaultViewsConfig(imageSize: number, channels: number): ViewsConfig {
  if (!Number.isInteger(imageSize) || imageSize < 8) {
    throw new RangeError(`image size must be an integer of at least 8, got ${imageSize}`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`channels must be 1 or 3, got ${channels}`);
  }
  const colour = channels === 3;
  const small = imageSize <= 64;
  return {
    globalViews: 2,
    localViews: 4,
    globalSize: imageSize,
    localSize: small ? Math.round(imageSize / 2) : Math.round((imageSize * 96) / 224),
    globalScale: [0.3, 1],
    localScale: [0.05, 0.3],
    flip: 0.5,
    jitter: {
      p: 0.8,
      brightness: 0.4,
      contrast: 0.4,
      saturation: colour ? 0.2 : 0,
      hue: colour ? 0.1 : 0,
    },
    grayscale: colour ? 0.2 : 0,
    blur: small ? 0 : 0.5,
    solarize: small ? 0 : 0.1,
    mean: colour ? [0.485, 0.456, 0.406] : [0.286],
    std: colour ? [0.229, 0.224, 0.225] : [0.353],
  };
}
