/**
 * The configuration of a training run: one zod schema (validated at every edge:
 * CLI, api, UI, resume) and the three presets. Every field says what it means
 * and which values it accepts; a refused value names the field and its range.
 *
 * `small` is the Fashion-MNIST anchor recipe: a small ResNet for 28×28 grey
 * images, projector 256→512→BN→ReLU→64, 2 global + 4 local views, λ 0.05,
 * 256 slices, AdamW lr 1e-3 wd 0.05, one warm-up epoch then cosine, batch 256.
 */
import { z } from 'zod';

const int = (what: string, min: number, max: number) =>
  z
    .number({ error: `${what} must be a whole number from ${min} to ${max}` })
    .int({ error: `${what} must be a whole number from ${min} to ${max}` })
    .min(min, { error: `${what} must be at least ${min} (allowed ${min}–${max})` })
    .max(max, { error: `${what} must be at most ${max} (allowed ${min}–${max})` });

const real = (what: string, min: number, max: number, exclusiveMin = false) => {
  const range = `${exclusiveMin ? '>' : ''}${min}–${max}`;
  const base = z.number({ error: `${what} must be a number in ${range}` });
  const low = exclusiveMin
    ? base.gt(min, { error: `${what} must be above ${min} (allowed ${range})` })
    : base.min(min, { error: `${what} must be at least ${min} (allowed ${range})` });
  return low.max(max, { error: `${what} must be at most ${max} (allowed ${range})` });
};

const probability = (what: string) => real(what, 0, 1);

/** A range of crop areas as fractions of the image, `lo ≤ hi`. */
const scaleRange = (what: string) =>
  z
    .tuple([real(`${what} low`, 0, 1, true), real(`${what} high`, 0, 1, true)])
    .refine(([lo, hi]) => lo <= hi, { error: `${what} must be [low, high] with low ≤ high` });

export const ResnetSpecSchema = z
  .object({
    kind: z.literal('resnet'),
    /** 1 for grey images, 3 for RGB. */
    inChannels: z.union([z.literal(1), z.literal(3)]),
    /** Output channels of the 3×3 stem convolution, 4–512. */
    stem: int('encoder.stem', 4, 512),
    /** Channels of each stage, 1–6 stages of 4–2048. */
    widths: z
      .array(int('encoder.widths[i]', 4, 2048))
      .min(1)
      .max(6),
    /** Basic blocks per stage (same length as widths), 1–16 each. */
    depths: z
      .array(int('encoder.depths[i]', 1, 16))
      .min(1)
      .max(6),
  })
  .strict()
  .refine((s) => s.widths.length === s.depths.length, {
    error: 'encoder.depths must have one entry per stage in encoder.widths',
  });

export const VitSpecSchema = z
  .object({
    kind: z.literal('vit'),
    inChannels: z.union([z.literal(1), z.literal(3)]),
    /** Input side in pixels, 8–512; must be a multiple of patch. */
    imageSize: int('encoder.imageSize', 8, 512),
    /** Patch side in pixels, 2–64. */
    patch: int('encoder.patch', 2, 64),
    /** Token width, 16–1024, divisible by heads. */
    dim: int('encoder.dim', 16, 1024),
    /** Transformer blocks, 1–24. */
    depth: int('encoder.depth', 1, 24),
    /** Attention heads, 1–16. */
    heads: int('encoder.heads', 1, 16),
    /** Hidden width of the MLP as a multiple of dim, 1–8. */
    mlpRatio: real('encoder.mlpRatio', 1, 8),
  })
  .strict()
  .refine((s) => s.imageSize % s.patch === 0, {
    error: 'encoder.imageSize must be a multiple of encoder.patch',
  })
  .refine((s) => s.dim % s.heads === 0, { error: 'encoder.dim must be divisible by heads' });

export const ENCODER_PRESET_NAMES = ['resnet-small', 'vit-tiny'] as const;

export const ViewsSchema = z
  .object({
    /** Global views per image (the prediction targets are their mean), 1–8. */
    globalViews: int('views.globalViews', 1, 8),
    /** Local (small) views per image, 0–16. */
    localViews: int('views.localViews', 0, 16),
    /** Side of a global view in pixels, 8–512. */
    globalSize: int('views.globalSize', 8, 512),
    /** Side of a local view in pixels, 4–512. */
    localSize: int('views.localSize', 4, 512),
    /** Area fraction of the image a global crop covers, within (0, 1]. */
    globalScale: scaleRange('views.globalScale'),
    /** Area fraction of the image a local crop covers, within (0, 1]. */
    localScale: scaleRange('views.localScale'),
    /** Probability of a horizontal flip, 0–1. */
    flip: probability('views.flip'),
    /** Colour jitter: applied with probability p; strengths 0–1 (hue 0–0.5). */
    jitter: z
      .object({
        p: probability('views.jitter.p'),
        brightness: real('views.jitter.brightness', 0, 1),
        contrast: real('views.jitter.contrast', 0, 1),
        saturation: real('views.jitter.saturation', 0, 1),
        hue: real('views.jitter.hue', 0, 0.5),
      })
      .strict(),
    /** Probability of turning a view grey, 0–1. */
    grayscale: probability('views.grayscale'),
    /** Probability of a Gaussian blur, 0–1. */
    blur: probability('views.blur'),
    /** Probability of solarising, 0–1. */
    solarize: probability('views.solarize'),
    /** Per-channel mean subtracted after augmentation (pixels in [0, 1]). */
    mean: z
      .array(real('views.mean[i]', 0, 1))
      .min(1)
      .max(3),
    /** Per-channel standard deviation divided by after augmentation, 0.01–1. */
    std: z
      .array(real('views.std[i]', 0.01, 1))
      .min(1)
      .max(3),
  })
  .strict();
export type ViewsConfig = z.infer<typeof ViewsSchema>;

export const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

export const RunConfigSchema = z
  .object({
    /** The frozen dataset version to train on (its id in the catalog). */
    datasetVersionId: int('datasetVersionId', 1, 2 ** 31 - 1),
    /** Train on a random subset of N training images, chosen by the seed (null: all of them). */
    trainLimit: int('trainLimit', 2, 10_000_000).nullable(),
    /** An encoder preset name or a full encoder spec. */
    encoder: z.union([z.enum(ENCODER_PRESET_NAMES), ResnetSpecSchema, VitSpecSchema]),
    /** Projector MLP: Linear(features→hidden)→BN→ReLU→Linear(hidden→out). */
    projector: z
      .object({ hidden: int('projector.hidden', 8, 8192), out: int('projector.out', 2, 4096) })
      .strict(),
    /** Side of the cached training images in pixels, 8–512. */
    imageSize: int('imageSize', 8, 512),
    /** 1 (grey) or 3 (RGB). */
    channels: z.union([z.literal(1), z.literal(3)], { error: 'channels must be 1 or 3' }),
    views: ViewsSchema,
    /** λ: weight of SIGReg in (1-λ)·pred + λ·SIGReg, 0–1. */
    lambda: real('lambda', 0, 1),
    /** Random directions (slices) for SIGReg per step, 1–8192. */
    slices: int('slices', 1, 8192),
    /** Images per step (each seen in every view), 2–4096. */
    batch: int('batch', 2, 4096),
    /** Passes over the training images, 1–10000. */
    epochs: int('epochs', 1, 10_000),
    /** Peak learning rate of AdamW, >0–10. */
    lr: real('lr', 0, 10, true),
    /** Decoupled weight decay of AdamW (not on norms and biases), 0–10. */
    weightDecay: real('weightDecay', 0, 10),
    /** Epochs of linear warm-up before the cosine decay, 0–epochs. */
    warmupEpochs: real('warmupEpochs', 0, 10_000),
    /** Seed of every random draw of the run (init, shuffling, views, directions). */
    seed: int('seed', 0, 2 ** 32 - 1),
    /** Compute backend; `auto` picks the fastest that loads. */
    backend: z.enum(BACKEND_CHOICES as [string, ...string[]], {
      error: `backend must be one of ${BACKEND_CHOICES.join(', ')}`,
    }),
    /** Threads for native backends (null: the backend decides), 1–256. */
    threads: int('threads', 1, 256).nullable(),
    /** Write a checkpoint every N steps (plus at the end, on cancel and pause), 1–1000000. */
    checkpointEvery: int('checkpointEvery', 1, 1_000_000),
    /** Train an online linear probe on detached features when the version has labels. */
    probe: z.boolean({ error: 'probe must be true or false' }),
  })
  .strict()
  .refine((c) => c.warmupEpochs <= c.epochs, {
    error: 'warmupEpochs must be at most epochs',
    path: ['warmupEpochs'],
  })
  .refine((c) => c.views.globalSize <= c.imageSize * 4 && c.views.localSize <= c.imageSize * 4, {
    error: 'views.globalSize and views.localSize must be at most 4× imageSize',
    path: ['views'],
  })
  .refine((c) => c.views.mean.length === c.channels && c.views.std.length === c.channels, {
    error: 'views.mean and views.std need one value per channel',
    path: ['views'],
  })
  .refine((c) => typeof c.encoder === 'string' || c.encoder.inChannels === c.channels, {
    error: 'encoder.inChannels must equal channels',
    path: ['encoder'],
  });

export type RunConfig = z.infer<typeof RunConfigSchema>;
export type EncoderChoice = RunConfig['encoder'];

export const PRESET_NAMES = ['quick', 'small', 'full'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** Fashion-MNIST pixel statistics (60k training images, pixels in [0, 1]). */
const GREY_MEAN = 0.286;
const GREY_STD = 0.353;

function greyViews(size: number): ViewsConfig {
  return {
    globalViews: 2,
    localViews: 4,
    globalSize: size,
    localSize: Math.max(4, Math.round(size / 2)),
    globalScale: [0.3, 1],
    localScale: [0.05, 0.3],
    flip: 0.5,
    jitter: { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0, hue: 0 },
    grayscale: 0,
    blur: 0,
    solarize: 0,
    mean: [GREY_MEAN],
    std: [GREY_STD],
  };
}

/**
 * The presets, for 28×28 grey images (the sample and Fashion-MNIST); a user
 * changes imageSize/channels/views for other data.
 * - quick: a tiny ResNet, 2+2 views, a minute on a laptop: for tests and a first look.
 * - small: the reference recipe exactly.
 * - full: the reference network for longer (30 epochs, 1,024 slices).
 */
export function presetConfig(name: PresetName, datasetVersionId: number): RunConfig {
  const small: RunConfig = {
    datasetVersionId,
    trainLimit: null,
    encoder: 'resnet-small',
    projector: { hidden: 512, out: 64 },
    imageSize: 28,
    channels: 1,
    views: greyViews(28),
    lambda: 0.05,
    slices: 256,
    batch: 256,
    epochs: 5,
    lr: 1e-3,
    weightDecay: 0.05,
    warmupEpochs: 1,
    seed: 0,
    backend: 'auto',
    threads: null,
    checkpointEvery: 50,
    probe: true,
  };
  if (name === 'small') return small;
  if (name === 'full') return { ...small, epochs: 30, slices: 1024, checkpointEvery: 200 };
  return {
    ...small,
    encoder: { kind: 'resnet', inChannels: 1, stem: 8, widths: [8, 16], depths: [1, 1] },
    projector: { hidden: 64, out: 16 },
    imageSize: 28,
    views: { ...greyViews(28), localViews: 2, globalSize: 16, localSize: 8 },
    slices: 64,
    batch: 32,
    epochs: 1,
    warmupEpochs: 0,
    checkpointEvery: 10,
  };
}

/** Describes zod issues as `field: problem` sentences, for errors shown to a user. */
export function describeConfigIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'config'}: ${i.message}`)
    .join('; ');
}
