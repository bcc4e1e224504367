/**
 * Measures a few training steps of a configuration in a job process (no
 * checkpoint, nothing kept) so the user sees the time per epoch before starting.
 * The first step is not counted: it pays for kernel compilation and allocation.
 */
import type { RunConfig } from '../api/run-config.ts';
import { loadTensorCache } from '../datasets/tensor-cache.ts';
import { startBackend } from '../compute/start-backend.ts';
import type { BackendName } from '../engine/backend.ts';
import { Trainer } from '../engine/train/trainer.ts';
import type { JobContext, JobEnd } from './protocol.ts';
import { resolveEncoder } from './run-setup.ts';
import { trainingData } from './train-job.ts';

export interface EstimateJobInput {
  cachePath: string;
  config: RunConfig;
  steps: number;
}

export interface Estimate {
  backend: string;
  measuredSteps: number;
  msPerStep: number;
  stepsPerEpoch: number;
  secondsPerEpoch: number;
  imagesPerSec: number;
}

export async function run(ctx: JobContext, raw: unknown): Promise<{ end: JobEnd; data: unknown }> {
  const input = raw as EstimateJobInput;
  const cfg = input.config;
  const backend = await startBackend({
    ...(cfg.backend === 'auto' ? {} : { prefer: cfg.backend as BackendName }),
    ...(cfg.threads === null ? {} : { threads: cfg.threads }),
  });
  const { meta, pixels } = loadTensorCache(input.cachePath);
  const data = trainingData(meta, pixels, cfg.trainLimit, cfg.seed);
  // Only a few steps run: the schedule may be shorter than the real one.
  const trainer = new Trainer({ ...cfg, encoder: resolveEncoder(cfg) }, data, 'estimate');
  try {
    const times: number[] = [];
    // The first step warms up (kernels compiled, memory grown) and is left out, unless the
    // schedule is so short that it is the only one: then it is the best figure there is.
    let warmUp = Number.NaN;
    for (let i = 0; i <= input.steps && trainer.step < trainer.totalSteps; i++) {
      if (ctx.requested() !== null) return { end: 'cancelled', data: null };
      const r = trainer.trainOne();
      if (i > 0) times.push(r.msPerStep);
      else warmUp = r.msPerStep;
      ctx.progress({ done: i + 1, total: input.steps + 1 });
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    if (times.length === 0) times.push(warmUp);
    times.sort((a, b) => a - b);
    const ms = times[Math.floor(times.length / 2)]!;
    const estimate: Estimate = {
      backend: backend.name,
      measuredSteps: times.length,
      msPerStep: ms,
      stepsPerEpoch: trainer.stepsPerEpoch,
      secondsPerEpoch: (ms * trainer.stepsPerEpoch) / 1000,
      imagesPerSec: (cfg.batch * 1000) / Math.max(ms, 1e-9),
    };
    return { end: 'completed', data: estimate };
  } finally {
    trainer.dispose();
  }
}
