/**
 * SIGReg forward + backward time on the WASM backend over a grid of batch sizes N and slice
 * counts M (embedding dimension 128, as the reference projector), its scaling (must be linear
 * in N and in M), and its share of a training step at 256 and 1,024 slices.
 */
import os from 'node:os';

import type { BenchOptions, Harness } from './harness.ts';
import { stats } from './harness.ts';
import { errorText } from '../src-main/engine/error-text.ts';

const WORKER = new URL('./train-step-worker.ts', import.meta.url).pathname;
const DIM = 128;
/** Nodes of the default quadrature (lejepa/quadrature.ts). */
const NODES = 17;

/** Slope of log(time) against log(size) through the first and last points. */
function slope(points: [number, number][]): number {
  const [a, b] = [points[0]!, points.at(-1)!];
  return Math.log(b[1] / a[1]) / Math.log(b[0] / a[0]);
}

export async function run(h: Harness, opts: BenchOptions): Promise<void> {
  const threads = Math.min(2, os.cpus().length);
  const label = `tfjs-wasm-${threads}t`;
  const w = h.worker(label, process.execPath, ['--import', 'tsx', WORKER, 'wasm', String(threads)]);
  const timing = opts.quick ? { warmup: 1, reps: 3 } : { warmup: 1, reps: 5 };
  // Share of a training step: 2 views × 128 images, the step timed by the train-step module.
  const step = h
    .previous('train-step')
    ?.figures.find((f) => f.name === `train resnet-small ${label}`);
  // First, while the worker is fresh: the share of a training step (the target).
  for (const slices of [256, 1024]) {
    const s = await h.repeat(
      async () =>
        (await w.call<{ ms: number }>({ op: 'sigreg', n: 128, slices, dim: DIM, views: 2 })).ms,
      timing,
    );
    h.figure(`sigreg in a step (2×128, M=${slices})`, s, 'ms', {
      n: 128,
      views: 2,
      slices,
      threads,
    });
    if (!step) {
      h.skip(
        `sigreg share M=${slices}`,
        'no training-step figure in this run or in bench/results/ (run train-step first)',
      );
      continue;
    }
    const stepMs = (256 * 1000) / step.median;
    h.figure(
      `sigreg share of a step (M=${slices})`,
      stats(s.samples.map((x) => (100 * x) / stepMs)),
      '%',
      { slices, stepMs },
      {
        target:
          slices === 1024 ? { op: '<=', value: 10, label: 'under 10% at 1,024 slices' } : undefined,
      },
    );
  }
  const sizes = opts.quick ? [256, 1024] : [256, 1024, 4096];
  const gridTiming = { warmup: 1, reps: 3 };
  const ms = new Map<string, number>();

  for (const n of sizes) {
    for (const m of sizes) {
      // The [N, M, 17] buffers (argument, cos, sin, and two of the gradient) must fit in the
      // WASM heap's 4 GiB with the rest of the process; a worker that runs out aborts.
      const gib = (5 * n * m * NODES * 4) / 2 ** 30;
      if (gib > 3) {
        h.skip(
          `sigreg N=${n} M=${m}`,
          `its [N, M, ${NODES}] buffers need about ${gib.toFixed(1)} GiB, more than the WASM heap (4 GiB) holds`,
        );
        continue;
      }
      try {
        const s = await h.repeat(
          async () => (await w.call<{ ms: number }>({ op: 'sigreg', n, slices: m, dim: DIM })).ms,
          n * m >= 4096 * 1024 ? { warmup: 0, reps: 2 } : gridTiming,
        );
        ms.set(`${n}x${m}`, s.median);
        h.figure(`sigreg fwd+bwd N=${n} M=${m}`, s, 'ms', {
          n,
          slices: m,
          dim: DIM,
          backend: 'wasm',
          threads,
        });
      } catch (err) {
        h.skip(`sigreg N=${n} M=${m}`, errorText(err));
      }
    }
  }

  // Linearity: doubling N (or M) should at most double the time once fixed costs are small.
  const big = sizes.at(-1)!;
  const inN = sizes
    .filter((n) => ms.has(`${n}x${big}`))
    .map((n) => [n, ms.get(`${n}x${big}`)!] as [number, number]);
  const inM = sizes
    .filter((m) => ms.has(`${big}x${m}`))
    .map((m) => [m, ms.get(`${big}x${m}`)!] as [number, number]);
  const limit = { op: '<=' as const, value: 1.15, label: 'linear: log-log slope ≤ 1.15' };
  if (inN.length > 1)
    h.figure(`sigreg scaling in N (M=${big})`, stats([slope(inN)]), 'slope', {}, { target: limit });
  if (inM.length > 1)
    h.figure(`sigreg scaling in M (N=${big})`, stats([slope(inM)]), 'slope', {}, { target: limit });
}
