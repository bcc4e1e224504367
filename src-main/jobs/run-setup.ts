/** Turning a run configuration into what the engine takes. */
import type { RunConfig } from '../api/run-config.ts';
import { ENCODER_PRESETS } from '../engine/models/index.ts';
import type { EncoderSpec } from '../engine/models/types.ts';

/** The encoder spec of a run: a preset adapted to the run's channels, or the spec as given. */
export function resolveEncoder(cfg: RunConfig): EncoderSpec {
  if (typeof cfg.encoder !== 'string') return cfg.encoder as EncoderSpec;
  // A deep copy: the presets are frozen constants shared by every caller.
  const preset = JSON.parse(JSON.stringify(ENCODER_PRESETS[cfg.encoder])) as EncoderSpec;
  if (preset.kind === 'vit')
    return { ...preset, inChannels: cfg.channels, imageSize: cfg.imageSize };
  return { ...preset, inChannels: cfg.channels };
}
