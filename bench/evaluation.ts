/**
 * Evaluation and exploration speed: embedding throughput per backend (the
 * reference small ResNet on 32×32 RGB), exact PCA of 100k × 256, UMAP of
 * 10k × 128 and of 100k × 128 (with its progress), a 10-NN query over 100k
 * items, kNN accuracy over 60k × 10k × 256 and the linear probe on 60k × 256.
 * Data: seeded Gaussian clusters (10 classes), so the neighbour graph and the
 * probe see structure like real embeddings.
 */
import os from 'node:os';

import * as tf from '@tensorflow/tfjs-core';

import { initBackend, listBackends, type BackendName } from '../src-main/engine/backend.ts';
import { embed } from '../src-main/engine/eval/embed.ts';
import type { LabelledFeatures } from '../src-main/engine/eval/features.ts';
import { knnAccuracy } from '../src-main/engine/eval/knn.ts';
import { linearProbe } from '../src-main/engine/eval/linear-probe.ts';
import { buildNeighbourIndex } from '../src-main/engine/eval/neighbours.ts';
import { pca } from '../src-main/engine/eval/pca.ts';
import { umap } from '../src-main/engine/eval/umap.ts';
import { createEncoder, ENCODER_PRESETS } from '../src-main/engine/models/index.ts';
import { Rng } from '../src-main/engine/rng.ts';
import type { BenchOptions, Harness } from './harness.ts';
import { stats } from './harness.ts';

/** n points in 10 Gaussian clusters of dimension d (centres at radius 3, unit noise). */
function clusters(seed: number, n: number, d: number): LabelledFeatures {
  const rng = new Rng(seed);
  const centres = Array.from({ length: 10 }, () => {
    const v = rng.normalArray(d);
    const norm = Math.hypot(...v);
    return v.map((a) => (3 * a) / norm);
  });
  const x = rng.normalArray(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    labels[i] = c;
    for (let j = 0; j < d; j++) x[i * d + j] = x[i * d + j]! + centres[c]![j]!;
  }
  return { x, n, d, labels };
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

export async function run(h: Harness, opts: BenchOptions): Promise<void> {
  // Wall-clock figures on a shared machine: the load says how much of a core each got.
  const load = () =>
    os
      .loadavg()
      .map((v) => v.toFixed(1))
      .join(' / ');
  h.note(`load average at start ${load()} on ${os.cpus().length} cores`);
  // Embedding throughput on every backend that loads here.
  const spec = { ...ENCODER_PRESETS['resnet-small'] };
  const available = (await listBackends()).filter((b) => b.available).map((b) => b.name);
  for (const name of ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as BackendName[]) {
    if (!available.includes(name)) {
      h.skip(`embed images/s ${name}`, 'backend not available on this machine');
      continue;
    }
    const info = await initBackend({ prefer: name });
    // The pure-JS backend manages about 7 images/s, WebGPU on a software adapter about 17:
    // a short sample is enough.
    const slow = name === 'cpu' || name === 'webgpu';
    const count = slow ? 32 : opts.quick ? 256 : 1024;
    const pixels = new Rng(1).uniformArray(count * 32 * 32 * 3).map((v) => Math.floor(v * 256));
    const block = { pixels: Uint8Array.from(pixels), count, size: 32, channels: 3 };
    const encoder = createEncoder(spec, new Rng(2));
    const mean = [0.5, 0.5, 0.5];
    const std = [0.25, 0.25, 0.25];
    const batch = slow ? 32 : 256;
    const s = await h.repeat(
      async () => {
        const t0 = performance.now();
        await embed(encoder, block, { batch, mean, std });
        return count / seconds(t0);
      },
      { warmup: 1, reps: slow ? 1 : 3 },
    );
    h.figure(`embed images/s ${name}`, s, 'images/s', {
      backend: info.name,
      threads: info.threads,
      model: 'resnet-small 32×32×3',
      batch,
      count,
    });
    encoder.dispose();
  }
  await initBackend(available.includes('wasm') ? { prefer: 'wasm' } : {});

  const big = clusters(3, 100_000, 256);
  const t0 = performance.now();
  const p = pca(big, 2);
  h.figure(
    'PCA 100k×256 → 2-D',
    stats([seconds(t0)]),
    's',
    { n: 100_000, d: 256 },
    {
      target: { op: '<=', value: 5, label: '< 5 s' },
      note: `explained ${(p.explained[0]! * 100).toFixed(1)} % + ${(p.explained[1]! * 100).toFixed(1)} %`,
    },
  );

  const index = buildNeighbourIndex(big, { metric: 'cosine' });
  const queries = Array.from({ length: 20 }, (_, i) =>
    big.x.slice(i * 997 * 256, (i * 997 + 1) * 256),
  );
  let qi = 0;
  const q = await h.repeat(
    () => {
      index.query(queries[qi++ % queries.length]!, 10);
    },
    { warmup: 3, reps: 20 },
  );
  h.figure(
    '10-NN query over 100k×256 (exact, cosine)',
    q,
    'ms',
    { n: 100_000, d: 256 },
    {
      target: { op: '<=', value: 50, label: '< 50 ms' },
    },
  );

  const small = clusters(4, 10_000, 128);
  let t1 = performance.now();
  const u = umap(small, { seed: 1 })!;
  h.figure(
    'UMAP 10k×128 → 2-D',
    stats([seconds(t1)]),
    's',
    { n: 10_000, d: 128, epochs: u.epochs },
    {
      target: { op: '<=', value: 8, label: '< 8 s (umap-js 17 s)' },
    },
  );

  if (opts.quick) {
    h.note(`load average at the end ${load()}`);
    h.skip('UMAP 100k×128', 'full run only (minutes)');
    h.skip('kNN accuracy 60k×10k×256', 'full run only');
    h.skip('linear probe 60k×256', 'full run only');
    return;
  }
  h.note(`load average before the full-run figures ${load()}`);
  const large = clusters(5, 100_000, 128);
  t1 = performance.now();
  let lastPhase = '';
  const ul = umap(large, {
    seed: 1,
    onProgress: (phase) => {
      if (phase !== lastPhase) h.note(`UMAP 100k: ${phase} from ${seconds(t1).toFixed(1)} s`);
      lastPhase = phase;
    },
  })!;
  h.figure(
    'UMAP 100k×128 → 2-D',
    stats([seconds(t1)]),
    's',
    {
      n: 100_000,
      d: 128,
      epochs: ul.epochs,
      exactGraph: ul.exactGraph,
    },
    { target: { op: '<=', value: 180, label: '< 3 min' } },
  );

  const train = clusters(6, 60_000, 256);
  const test = clusters(7, 10_000, 256);
  t1 = performance.now();
  const k = knnAccuracy(train, test);
  h.figure('kNN accuracy 60k×10k×256 (k 20, cosine)', stats([seconds(t1)]), 's', {
    backend: tf.getBackend(),
    accuracy: k.accuracy,
  });
  t1 = performance.now();
  const lp = linearProbe(train, test);
  h.figure('linear probe 60k×256 (L-BFGS)', stats([seconds(t1)]), 's', {
    backend: tf.getBackend(),
    iterations: lp.iterations,
    testAccuracy: lp.testAccuracy,
  });
  h.note(`load average at the end ${load()}`);
}
