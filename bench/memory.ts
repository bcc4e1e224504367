/**
 * Memory over a long run: 1,000 training steps (200 with --quick) of the studio's own loop
 * (engine/train/trainer.ts: multi-crop views, the LeJEPA loss, the online probe, AdamW, a
 * checkpoint every 50 steps) on the backend the studio picks by default, sampling the process's
 * resident memory and the live tensor count after every step.
 *
 * The configuration is a preset's with a smaller batch: by default `small` (the reference
 * ResNet on 28×28 grey, 2 global + 4 local views, 256 slices) at batch 8. On a busy machine
 * `BENCH_MEMORY_PRESET=quick` (the tiny ResNet of the `quick` preset, same loop) and
 * `BENCH_MEMORY_STEPS` / `BENCH_MEMORY_BATCH` shorten the run; the figures say what ran.
 * Allocations that grow with the step count show up at any model and batch size. The first 100
 * steps are the warm-up (kernel set-up, allocator pools, the WASM heap's growth to its working
 * size); "flat" is judged from step 100 to the end.
 */
import * as tf from '@tensorflow/tfjs-core';

import { presetConfig } from '../src-main/api/run-config.ts';
import { startBackend } from '../src-main/compute/start-backend.ts';
import { resolveEncoder } from '../src-main/jobs/run-setup.ts';
import { Trainer } from '../src-main/engine/train/trainer.ts';
import { noiseTrainData } from '../tests/engine/helpers.ts';
import type { BenchOptions, Harness } from './harness.ts';
import { stats } from './harness.ts';

const WARMUP = 100;

/** Least-squares slope of y against x. */
function slope(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (x[i]! - mx) * (y[i]! - my);
    den += (x[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export async function run(h: Harness, opts: BenchOptions): Promise<void> {
  const steps = Number(process.env.BENCH_MEMORY_STEPS ?? (opts.quick ? 200 : 1000));
  const BATCH = Number(process.env.BENCH_MEMORY_BATCH ?? 8);
  const preset = process.env.BENCH_MEMORY_PRESET === 'quick' ? 'quick' : 'small';
  const backend = await startBackend();
  h.note(backend.line);
  const cfg = presetConfig(preset, 1);
  const stepsPerEpoch = 100;
  const trainer = new Trainer(
    {
      ...cfg,
      encoder: resolveEncoder(cfg),
      batch: BATCH,
      epochs: Math.ceil(steps / stepsPerEpoch),
    },
    noiseTrainData(BATCH * stepsPerEpoch, 10, 11),
    'memory-bench',
  );
  const rss: number[] = [];
  const tensors: number[] = [];
  const ms: number[] = [];
  let checkpoints = 0;
  const started = performance.now();
  try {
    await trainer.run({
      onProgress: (r) => {
        rss.push(process.memoryUsage().rss / 2 ** 20);
        tensors.push(r.liveTensors);
        ms.push(r.msPerStep);
        if (r.step % 100 === 0) {
          process.stderr.write(
            `    step ${r.step}: rss ${rss.at(-1)!.toFixed(0)} MiB, ${r.liveTensors} tensors, ${r.msPerStep.toFixed(0)} ms/step\n`,
          );
        }
      },
      onCheckpoint: () => {
        checkpoints++;
      },
      control: () => (trainer.step >= steps ? 'cancel' : null),
    });
  } finally {
    trainer.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  h.note(
    `${rss.length} steps of the ${preset} preset at batch ${BATCH} (×${cfg.views.globalViews + cfg.views.localViews} views) in ${seconds.toFixed(0)} s, ${checkpoints} checkpoints`,
  );
  const params = {
    steps: rss.length,
    batch: BATCH,
    preset,
    backend: backend.name,
    threads: backend.threads,
    warmupSteps: WARMUP,
    /** Resident memory (MiB) after steps 1, 100, 200, …: the shape of the curve. */
    rssEvery100: rss
      .filter((_, i) => i === 0 || (i + 1) % 100 === 0)
      .map((v) => Number(v.toFixed(1))),
  };
  const after = rss.slice(WARMUP - 1);
  const base = after[0]!;
  h.figure(`resident memory at step ${WARMUP}`, stats([base]), 'MiB', params);
  h.figure(`resident memory at step ${rss.length}`, stats([rss.at(-1)!]), 'MiB', params);
  h.figure(
    `resident memory peak, steps ${WARMUP}–${rss.length}`,
    stats([Math.max(...after)]),
    'MiB',
    params,
  );
  const growth = (100 * (rss.at(-1)! - base)) / base;
  h.figure(`resident memory growth, steps ${WARMUP}–${rss.length}`, stats([growth]), '%', params, {
    target: { op: '<=', value: 5, label: 'flat over 1,000 steps (≤ 5% after warm-up)' },
  });
  const xs = after.map((_, i) => i + WARMUP);
  h.figure(
    `resident memory trend, steps ${WARMUP}–${rss.length}`,
    stats([slope(xs, after) * 1024]),
    'KiB/step',
    params,
  );
  const t = tensors.slice(1);
  h.figure(
    'live tensors, spread over every step after the first',
    stats([Math.max(...t) - Math.min(...t)]),
    'tensors',
    { ...params, liveTensors: t[0] },
    { target: { op: '<=', value: 0, label: 'the same after every step' } },
  );
  h.figure('time per step (memory run)', stats(ms.slice(1)), 'ms', params);
  h.note(`tensor memory at the end ${(tf.memory().numBytes / 2 ** 20).toFixed(1)} MiB`);
}
