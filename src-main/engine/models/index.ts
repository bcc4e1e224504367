/** Encoders (ResNet family, ViT), projector, linear probe, and the named presets. */
import type { Rng } from '../rng.ts';
import { createResnet } from './resnet.ts';
import type { Encoder, EncoderSpec } from './types.ts';
import { createVit } from './vit.ts';

export type { Encoder, EncoderSpec, Model, ParamStore } from './types.ts';
export { createLinearProbe, createProjector, type ProjectorSpec } from './heads.ts';
export { countParams } from './params.ts';
export { createResnet } from './resnet.ts';
export { createVit } from './vit.ts';

/**
 * Named encoders. `resnet-small` is the reference encoder of the LeJEPA Fashion-MNIST recipe
 * (1.42 M parameters with a 256→512→128 projector at 3 channels); `resnet-18` the classic
 * widths for larger images; `vit-tiny` ViT-Ti/4 for 32 px input. Callers adapt `inChannels`
 * (and the ViT's `imageSize`) to their data.
 */
export type EncoderPreset = 'resnet-small' | 'resnet-18' | 'vit-tiny';

export const ENCODER_PRESETS: Readonly<Record<EncoderPreset, EncoderSpec>> = {
  'resnet-small': {
    kind: 'resnet',
    inChannels: 3,
    stem: 32,
    widths: [32, 64, 128, 256],
    depths: [1, 1, 1, 1],
  },
  'resnet-18': {
    kind: 'resnet',
    inChannels: 3,
    stem: 64,
    widths: [64, 128, 256, 512],
    depths: [2, 2, 2, 2],
  },
  'vit-tiny': {
    kind: 'vit',
    inChannels: 3,
    imageSize: 32,
    patch: 4,
    dim: 192,
    depth: 12,
    heads: 3,
    mlpRatio: 4,
  },
};

/** Builds an encoder (input NHWC float32, normalised; output [B, featureDim]) with weights from `rng`. */
export function createEncoder(spec: EncoderSpec, rng: Rng): Encoder {
  return spec.kind === 'resnet' ? createResnet(spec, rng) : createVit(spec, rng);
}
