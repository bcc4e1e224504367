/**
 * The Explore view's scatter in Chromium: frames per second while panning and zooming 100,000
 * and 1,000,000 points, the time of one frame's JavaScript and WebGL calls, hover picking and
 * a lasso, through the renderer's own page (src-renderer/bench/scatter.html) served by
 * `lejepa-studio serve` and driven by playwright-core (tests/e2e/measure-scatter.ts).
 *
 * Without a GPU, Chromium draws WebGL in software (SwiftShader), so these figures compare
 * versions of the studio on one machine; they are not a promise for a machine with a GPU.
 * Skipped with a note where Debian's Chromium is not installed.
 */
import { existsSync } from 'node:fs';

import { buildRenderer, CHROMIUM } from '../tests/e2e/harness.ts';
import { measureScatter, type ScatterFigures } from '../tests/e2e/measure-scatter.ts';
import type { BenchOptions, Harness } from './harness.ts';
import { stats } from './harness.ts';

export async function run(h: Harness, opts: BenchOptions): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    h.skip('explorer', `no Chromium at ${CHROMIUM} (Debian package chromium)`);
    return;
  }
  const t0 = performance.now();
  buildRenderer();
  h.note(`renderer built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const sizes = opts.quick ? [100_000] : [100_000, 1_000_000];
  for (const points of sizes) {
    const reps = opts.quick || points > 100_000 ? 2 : 3;
    const runs: ScatterFigures[] = [];
    // A million points draw at well under one frame a second in software: fewer frames.
    const frames = points > 100_000 ? 30 : 120;
    for (let r = 0; r < reps; r++)
      runs.push(await measureScatter(points, { frames, timeoutMs: 600_000 }));
    const label = points.toLocaleString('en-GB');
    const params = {
      points,
      frames: runs[0]!.frames,
      renderer: runs[0]!.renderer,
      browser: 'Chromium headless, --disable-gpu',
    };
    h.figure(
      `scatter pan+zoom ${label} points`,
      stats(runs.map((x) => x.framesPerSecond)),
      'frames/s',
      params,
      points === 100_000
        ? {
            target: {
              op: '>=',
              value: 30,
              label: '100,000 points interactive (30 frames/s; software WebGL here)',
            },
          }
        : {},
    );
    h.figure(
      `scatter frame submit ${label} points (median)`,
      stats(runs.map((x) => x.medianSubmitMs)),
      'ms',
      params,
    );
    h.figure(
      `scatter frame submit ${label} points (p95)`,
      stats(runs.map((x) => x.p95SubmitMs)),
      'ms',
      params,
    );
    h.figure(`scatter upload ${label} points`, stats(runs.map((x) => x.setupMs)), 'ms', params);
    h.figure(`scatter hover pick ${label} points`, stats(runs.map((x) => x.pickMs)), 'ms', params);
    h.figure(`scatter lasso ${label} points`, stats(runs.map((x) => x.lassoMs)), 'ms', params);
  }
}
