/**
 * Dataset benchmarks: import throughput (hashing, decoding, thumbnails and
 * catalog writes included) for the 70,000 Fashion-MNIST images written as PNG
 * files and for 1920×1080 JPEGs, the re-scan of an unchanged folder against the
 * first import, and the tensor cache build for the 70,000 images.
 *
 * Part of `npm run bench`, or alone: `node --import tsx bench/datasets.ts [--quick]`,
 * which writes bench/results/datasets-<timestamp>.json. `--quick` uses 6,000
 * Fashion-MNIST images and 60 JPEGs; the targets are then scaled to that count
 * where they are times.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import sharp from 'sharp';

import { createVersion } from '../src-main/catalog/versions.ts';
import { openWorkspace, type Workspace } from '../src-main/catalog/workspace.ts';
import { exportFashionMnist } from '../src-main/datasets/fashion-mnist.ts';
import { runImport, type ImportSummary } from '../src-main/datasets/importer.ts';
import { buildTensorCache, tensorCachePath } from '../src-main/datasets/tensor-cache.ts';
import { setLogLevel } from '../src-main/log.ts';
import { Harness, stats, type BenchOptions } from './harness.ts';

const FULL_FASHION = 70_000;
const CORES = os.cpus().length;

/**
 * The machines this runs on are shared: wall-clock throughput depends on what
 * else runs. Each figure also gets a CPU-bound estimate: the work's own CPU
 * time (all threads, all processes of the import) spread over this machine's
 * cores, i.e. what the same work would take with the cores to itself.
 */
function cpuBound(cpuSeconds: number): number {
  return cpuSeconds / CORES;
}

async function importInto(ws: Workspace, dir: string, name: string): Promise<ImportSummary> {
  return runImport(
    ws,
    { paths: [dir], labels: 'imagefolder', name },
    () => {},
    new AbortController().signal,
  );
}

/** A 1920×1080 photo-like JPEG: smooth shapes plus sensor-like noise, so its size is realistic. */
async function writePhoto(path: string, seed: number): Promise<void> {
  const w = 1920;
  const h = 1080;
  const data = Buffer.alloc(w * h * 3);
  let x = (seed + 1) * 2654435761;
  for (let y = 0; y < h; y++) {
    for (let i = 0; i < w; i++) {
      x = (x ^ (x << 13)) >>> 0;
      x = (x ^ (x >>> 17)) >>> 0;
      x = (x ^ (x << 5)) >>> 0;
      const o = (y * w + i) * 3;
      const n = (x & 31) - 16;
      const disc = (i - 600 - seed * 7) ** 2 + (y - 500) ** 2 < 300 ** 2 ? 90 : 0;
      data[o] = Math.max(0, Math.min(255, ((i * 200) / w + disc + n) | 0));
      data[o + 1] = Math.max(0, Math.min(255, ((y * 220) / h + n) | 0));
      data[o + 2] = Math.max(0, Math.min(255, (((seed * 37) % 200) + disc / 2 + n) | 0));
    }
  }
  await sharp(data, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90 })
    .toFile(path);
}

export async function run(h: Harness, opts: BenchOptions): Promise<void> {
  setLogLevel('warn');
  const tmp = mkdtempSync(join(os.tmpdir(), 'lejepa-bench-datasets-'));
  try {
    // Fashion-MNIST as PNG files (setup, timed for information only).
    const fm = join(tmp, 'fashion-mnist');
    let t = performance.now();
    const counts = await exportFashionMnist(fm, {
      perClass: opts.quick ? { train: 500, test: 100 } : undefined,
    });
    const n = counts.train + counts.test;
    h.note(`wrote ${n} Fashion-MNIST PNGs in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const scale = n / FULL_FASHION;

    // Import throughput, each repetition into a fresh workspace.
    const reps = opts.quick ? 2 : 2;
    const rates: number[] = [];
    const seconds: number[] = [];
    const cpuRates: number[] = [];
    let ws: Workspace | undefined;
    let summary: ImportSummary | undefined;
    for (let r = 0; r < reps; r++) {
      ws?.close();
      ws = openWorkspace(join(tmp, `ws-fm-${r}`));
      summary = await importInto(ws, fm, 'fashion-mnist');
      if (summary.imported !== n) throw new Error(`imported ${summary.imported} of ${n}`);
      seconds.push(summary.seconds);
      rates.push(n / summary.seconds);
      cpuRates.push(n / cpuBound(summary.cpuSeconds));
    }
    h.figure(
      'import Fashion-MNIST PNGs',
      stats(rates),
      'images/s',
      {
        images: n,
        size: '28×28 grey PNG',
        items: summary!.items,
        nearDuplicatePairs: summary!.nearDuplicates,
      },
      { target: { op: '>=', value: 400, label: '≥ 400 images/s' } },
    );

    h.figure('import Fashion-MNIST PNGs, CPU-bound estimate', stats(cpuRates), 'images/s', {
      images: n,
      cores: CORES,
    });

    // Re-scan of the unchanged folder.
    const firstImport = stats(seconds).median;
    const rescans: number[] = [];
    for (let r = 0; r < 3; r++) {
      const again = await importInto(ws!, fm, 'fashion-mnist');
      if (again.decoded !== 0) throw new Error(`re-scan decoded ${again.decoded} files`);
      rescans.push(again.seconds);
    }
    h.figure('re-scan unchanged folder', stats(rescans), 's', { images: n });
    h.figure(
      're-scan / first import',
      stats(rescans.map((s) => s / firstImport)),
      'ratio',
      { images: n, firstImportSeconds: firstImport },
      { target: { op: '<=', value: 0.1, label: '< 1/10 of the first import' } },
    );

    // Tensor cache of a version of all the images, at 28×28×1 (identity resize) and 32×32×3.
    const version = createVersion(ws!.db, summary!.datasetId, {}).version;
    for (const [size, channels] of [
      [28, 1],
      [32, 3],
    ] as const) {
      const times: number[] = [];
      const cpuTimes: number[] = [];
      for (let r = 0; r < 3; r++) {
        const path = tensorCachePath(ws!, version.id, size, channels);
        rmSync(path, { force: true });
        rmSync(`${path}.json`, { force: true });
        const info = await buildTensorCache(ws!, version.id, { size, channels });
        times.push(info.seconds);
        cpuTimes.push(cpuBound(info.cpuSeconds));
      }
      h.figure(
        `tensor cache ${size}×${size}×${channels}`,
        stats(times),
        's',
        { images: version.itemCount },
        {
          target: {
            op: '<=',
            value: 30 * scale,
            label: `< 30 s for 70,000 images${opts.quick ? ` (scaled to ${n})` : ''}`,
          },
        },
      );
      h.figure(
        `tensor cache ${size}×${size}×${channels}, CPU-bound estimate`,
        stats(cpuTimes),
        's',
        {
          images: version.itemCount,
          cores: CORES,
        },
      );
    }
    ws!.close();
    ws = undefined;

    // 1920×1080 JPEGs.
    const photos = join(tmp, 'photos', 'scene');
    mkdirSync(photos, { recursive: true });
    const count = opts.quick ? 60 : 200;
    t = performance.now();
    for (let i = 0; i < count; i++) await writePhoto(join(photos, `${i}.jpg`), i);
    const bytes = readFileSync(join(photos, '0.jpg')).length;
    h.note(
      `wrote ${count} 1920×1080 JPEGs (${(bytes / 1e6).toFixed(2)} MB each) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    const jpegRates: number[] = [];
    const jpegCpuRates: number[] = [];
    for (let r = 0; r < 3; r++) {
      const wsj = openWorkspace(join(tmp, `ws-jpeg-${r}`));
      try {
        const s = await importInto(wsj, join(tmp, 'photos'), 'photos');
        if (s.imported !== count) throw new Error(`imported ${s.imported} of ${count}`);
        jpegRates.push(count / s.seconds);
        jpegCpuRates.push(count / cpuBound(s.cpuSeconds));
      } finally {
        wsj.close();
      }
    }
    h.figure(
      'import 1920×1080 JPEGs',
      stats(jpegRates),
      'images/s',
      { images: count, bytesEach: bytes },
      { target: { op: '>=', value: 120, label: '≥ 120 images/s' } },
    );
    h.figure('import 1920×1080 JPEGs, CPU-bound estimate', stats(jpegCpuRates), 'images/s', {
      images: count,
      cores: CORES,
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Standalone: run this module alone and write its own results file. */
async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const h = new Harness('datasets');
  const started = new Date();
  const loadAtStart = os.loadavg();
  await run(h, { quick });
  const cpus = os.cpus();
  const result = {
    machine: {
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      cpu: cpus[0]?.model ?? 'unknown',
      cores: cpus.length,
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
      loadAtStart: loadAtStart.map((l) => Number(l.toFixed(2))),
      loadAtEnd: os.loadavg().map((l) => Number(l.toFixed(2))),
    },
    versions: { node: process.version, ...sharp.versions },
    quick,
    started: started.toISOString(),
    finished: new Date().toISOString(),
    ...h.report,
  };
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\..*$/, 'Z');
  const file = join(dir, `datasets-${quick ? 'quick-' : ''}${stamp}.json`);
  writeFileSync(file, JSON.stringify(result, null, 1) + '\n');
  process.stderr.write(`results: ${file}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main();
}
