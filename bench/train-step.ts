/**
 * Training-step and inference throughput of the reference models, TF.js against PyTorch on the
 * same machine, interleaved round by round (see harness.ts).
 *
 * Training step: forward + backward + AdamW on batch 128 × 2 views of 32×32 RGB (every view
 * counts as an image), resnet-small with its 256→512→BN→ReLU→128 projector and the LeJEPA
 * loss, then the same for ViT-tiny. Inference: the encoder alone in eval mode on 256 images.
 * Each TF.js side is a worker process on one backend and WASM thread count; the PyTorch side
 * (bench/pytorch/train_step.py) runs with the same thread count.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';

import type { BenchOptions, Harness, LineWorker, Stats } from './harness.ts';
import { stats } from './harness.ts';
import { firstLine } from '../src-main/engine/error-text.ts';
import { allocatorEnv, JOB_GLIBC_TUNABLES } from '../src-main/compute/allocator-env.ts';

const WORKER = new URL('./train-step-worker.ts', import.meta.url).pathname;
const TORCH = new URL('./pytorch/train_step.py', import.meta.url).pathname;
const BATCH = 128;
const VIEWS = 2;
const VIT_BATCH = 32;

/** The first python on this machine that imports torch, or null. */
export function torchPython(): string | null {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(candidate, ['-c', 'import torch'], { timeout: 60_000 });
    if (r.status === 0) return candidate;
  }
  return null;
}

/** ms per call → images per second. */
function throughput(ms: Stats, images: number): Stats {
  return stats(ms.samples.map((m) => (images * 1000) / m));
}

interface Side {
  label: string;
  worker: LineWorker;
  torch: boolean;
  threads: number;
  /** The kernels the studio uses by default (targets apply to these only). */
  isDefault?: boolean;
  /** PyTorch given the allocator settings of the studio's job processes (no target). */
  tunedAllocator?: boolean;
}

export async function run(h: Harness, opts: BenchOptions): Promise<void> {
  const cores = os.cpus().length;
  const threadCounts = opts.quick ? [Math.min(2, cores)] : [...new Set([1, Math.min(2, cores)])];
  const python = torchPython();
  if (!python) h.skip('pytorch anchor', 'no python3 with torch here (Debian: python3-torch)');

  // The studio's default (WASM with convolutions and batch norm on ONNX Runtime) at every
  // thread count; WASM's own kernels alone at the largest, to show what ONNX Runtime adds.
  // TF.js runs as the studio's job processes do, with their allocator settings
  // (compute/allocator-env.ts). PyTorch runs as installed; with `extra`, PyTorch with the same
  // allocator settings runs too, for comparison only: they speed it up as well.
  const start = (suffix: string, threads: number[], extra: boolean): Side[] => {
    const out: Side[] = [];
    const tfjs = (label: string, t: number, args: string[], isDefault: boolean) =>
      out.push({
        label,
        torch: false,
        threads: t,
        isDefault,
        worker: h.worker(
          `${label}${suffix}`,
          process.execPath,
          ['--import', 'tsx', WORKER, 'wasm', String(t), ...args],
          allocatorEnv(),
        ),
      });
    for (const t of threads) {
      tfjs(`tfjs-wasm-${t}t`, t, [], true);
      if (extra && t === Math.max(...threads)) {
        tfjs(`tfjs-wasm-xnnpack-${t}t`, t, ['xnnpack'], false);
      }
      if (python) {
        const tl = `torch-${t}t`;
        out.push({
          label: tl,
          torch: true,
          threads: t,
          worker: h.worker(`${tl}${suffix}`, python, [TORCH, String(t)]),
        });
        if (extra) {
          const tuned = `torch-tuned-malloc-${t}t`;
          out.push({
            label: tuned,
            torch: true,
            tunedAllocator: true,
            threads: t,
            worker: h.worker(`${tuned}${suffix}`, python, [TORCH, String(t)], {
              GLIBC_TUNABLES: JOB_GLIBC_TUNABLES,
            }),
          });
        }
      }
    }
    return out;
  };
  h.skip(
    'train cpu backend',
    'pure-JS CPU backend: naive convolution gradients, about 0.09 images/s here (one step ≈ 45 min); not timed',
  );
  h.skip(
    'train webgpu',
    'no GPU on this machine: Dawn runs on a software rasteriser (≈1.6 images/s); see docs/performance.md',
  );

  // resnet-small, then its kernel profile, then ViT-tiny in fresh processes: the WASM heap
  // (4 GiB at most) never shrinks, so a second model in the same process may not fit.
  const resnet = start('', threadCounts, !opts.quick);
  await compare(h, resnet, 'resnet-small', opts);
  if (!opts.quick) {
    const best = resnet.filter((s) => s.isDefault).at(-1)!;
    await best.worker.call({ op: 'init', model: 'resnet-small', batch: BATCH, views: VIEWS });
    const p = await best.worker.call<{
      top: { name: string; ms: number; calls: number }[];
      peakMB: number;
      kernels: number;
    }>({ op: 'profile' });
    const total = p.top.reduce((a, k) => a + k.ms, 0);
    h.note(
      `profile of one resnet-small step on ${best.label}: ${p.kernels} kernel calls, tensor peak ${p.peakMB.toFixed(0)} MB; ` +
        p.top.map((k) => `${k.name} ${k.ms.toFixed(0)} ms/${k.calls}`).join(', ') +
        ` (nested kernels also count in their parent; sum of listed ${total.toFixed(0)} ms)`,
    );
  }
  await h.closeWorkers();
  if (opts.quick) return;

  const top = Math.max(...threadCounts);
  // At batch 128 × 2 a ViT-tiny step needs more than the WASM heap's 4 GiB (attention and
  // the MLP keep [256, 65, 768]-sized tensors per block for the backward pass); both sides run
  // at VIT_BATCH instead.
  const vit = start('-vit', [top], false);
  h.note(
    `vit-tiny runs at batch ${VIT_BATCH} × ${VIEWS} on both sides (128 × 2 exceeds the WASM heap)`,
  );
  try {
    await compare(h, vit, 'vit-tiny', opts, VIT_BATCH);
  } catch (err) {
    h.skip('vit-tiny', `failed at batch ${VIT_BATCH} × ${VIEWS}: ${firstLine(err)}`);
  }
}

/** Training step and inference of one model, every side interleaved with the others. */
async function compare(
  h: Harness,
  active: Side[],
  model: string,
  opts: BenchOptions,
  batch = BATCH,
) {
  const images = batch * VIEWS;
  const inits = new Map<string, Record<string, unknown>>();
  for (const s of active)
    inits.set(s.label, await s.worker.call({ op: 'init', model, batch, views: VIEWS }));
  const first = inits.get(active[0]!.label)!;
  h.note(`${model}: ${String(first.params)} parameters; ${String(first.line)}`);
  for (const s of active) {
    const i = inits.get(s.label)!;
    if (!s.torch && i.threadsNote) h.note(`${s.label}: ${String(i.threadsNote)}`);
    // Without an optimised BLAS (Debian: libopenblas0-pthread), torch's linear layers run on
    // the reference BLAS and the anchor is many times slower than PyTorch should be.
    if (s.torch && i.blas) h.note(`${s.label}: torch ${String(i.torch)}, BLAS ${String(i.blas)}`);
  }

  const timing = opts.quick
    ? { warmup: 1, reps: 2 }
    : { warmup: 2, reps: model === 'vit-tiny' ? 3 : 4 };
  const train = await h.interleave(
    Object.fromEntries(
      active.map((s) => [
        s.label,
        async () => (await s.worker.call<{ ms: number }>({ op: 'step' })).ms,
      ]),
    ),
    timing,
  );
  report(h, `train ${model}`, active, train, images, 0.8, { model, batch, views: VIEWS });

  const embed = await h.interleave(
    Object.fromEntries(
      active.map((s) => [
        s.label,
        async () => (await s.worker.call<{ ms: number }>({ op: 'embed', n: images })).ms,
      ]),
    ),
    opts.quick ? { warmup: 1, reps: 3 } : { warmup: 1, reps: 5 },
  );
  report(h, `embed ${model}`, active, embed, images, 1.0, { model, batch: images });
}

/** Figures of one interleaved comparison: images/s per side, then ratios against PyTorch. */
function report(
  h: Harness,
  what: string,
  sides: Side[],
  result: Awaited<ReturnType<Harness['interleave']>>,
  images: number,
  targetRatio: number,
  params: Record<string, unknown>,
): void {
  for (const s of sides) {
    h.figure(`${what} ${s.label}`, throughput(result.sides[s.label]!, images), 'images/s', {
      ...params,
      backend: s.torch ? 'pytorch' : 'wasm',
      ...(s.torch ? {} : { kernels: s.isDefault ? 'onnxruntime' : 'xnnpack' }),
      threads: s.threads,
    });
  }
  for (const s of sides.filter((x) => !x.torch)) {
    const torch = sides.find((x) => x.torch && !x.tunedAllocator && x.threads === s.threads);
    const tuned = sides.find((x) => x.tunedAllocator && x.threads === s.threads);
    if (tuned && s.isDefault) {
      h.figure(`${what} ratio ${s.label}/${tuned.label}`, result.ratio(tuned.label, s.label), '×', {
        ...params,
        note: 'PyTorch with the same allocator settings; no target',
      });
    }
    if (torch) {
      // ms(torch)/ms(tfjs) = images/s(tfjs)/images/s(torch), round by round.
      const target = {
        op: '>=' as const,
        value: targetRatio,
        label: `${targetRatio} × PyTorch, same threads`,
      };
      h.figure(
        `${what} ratio ${s.label}/${torch.label}`,
        result.ratio(torch.label, s.label),
        '×',
        params,
        s.isDefault ? { target } : {},
      );
    }
  }
  const plain = sides.find((x) => !x.torch && !x.isDefault);
  const studio = sides.find((x) => x.isDefault && x.threads === plain?.threads);
  if (plain && studio) {
    h.figure(
      `${what} speed-up ${studio.label}/${plain.label} (ONNX Runtime kernels)`,
      result.ratio(plain.label, studio.label),
      '×',
      params,
    );
  }
  const wasm = sides.filter((x) => x.isDefault);
  if (wasm.length > 1) {
    const one = wasm[0]!;
    const many = wasm.at(-1)!;
    h.figure(
      `${what} speed-up ${many.label}/${one.label}`,
      result.ratio(one.label, many.label),
      '×',
      params,
    );
  }
}
