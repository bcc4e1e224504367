/**
 * Catalog queries the Runs and Compare views make: listing 1,000 runs, and loading 10 runs ×
 * 10,000 metric points for an overlaid comparison, on a real workspace in a temporary folder
 * through the catalog's own typed queries.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openWorkspace } from '../src-main/catalog/workspace.ts';
import { insertMetric, insertRun, listMetrics, listRuns } from '../src-main/catalog/runs.ts';
import type { BenchOptions, Harness } from './harness.ts';

const RUNS = 1000;
const COMPARED = 10;

export async function run(h: Harness, opts: BenchOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lejepa-bench-catalog-'));
  const ws = openWorkspace(dir);
  const points = opts.quick ? 2000 : 10_000;
  try {
    const ids: number[] = [];
    const insert = await h.repeat(
      () => {
        ws.db.transaction(() => {
          for (let i = 0; i < RUNS; i++) {
            const config = { preset: 'small', seed: i, lr: 1e-3, lambda: 0.05, slices: 256 };
            ids.push(
              insertRun(ws.db, {
                name: `run ${i}`,
                datasetVersionId: 1,
                config,
                configHash: `h${i}`,
              }),
            );
          }
        })();
      },
      { warmup: 0, reps: 1 },
    );
    h.figure(`insert ${RUNS} runs (one transaction)`, insert, 'ms', { runs: RUNS });

    const list = await h.repeat(() => void listRuns(ws.db, RUNS), { warmup: 2, reps: 10 });
    h.figure(`list ${RUNS} runs`, list, 'ms', { runs: RUNS });

    const fill = await h.repeat(
      () => {
        ws.db.transaction(() => {
          for (const id of ids.slice(0, COMPARED)) {
            for (let step = 1; step <= points; step++) {
              insertMetric(ws.db, id, {
                step,
                epoch: step / 500,
                lr: 1e-3,
                pred: 1 / step,
                sigreg: 0.5 + 1 / step,
                total: 0.6 / step,
                probeAcc: null,
                imagesPerSec: 100,
                msPerStep: 2500,
                liveTensors: 240,
                memoryMB: 900,
                gradNorm: 1,
              });
            }
          }
        })();
      },
      { warmup: 0, reps: 1 },
    );
    h.figure(`write ${COMPARED} × ${points} metric points`, fill, 'ms', { runs: COMPARED, points });

    const load = await h.repeat(
      () => {
        let n = 0;
        for (const id of ids.slice(0, COMPARED)) n += listMetrics(ws.db, id).length;
        if (n !== COMPARED * points)
          throw new Error(`loaded ${n} metric points, wrote ${COMPARED * points}`);
      },
      { warmup: 1, reps: opts.quick ? 3 : 7 },
    );
    h.figure(`load ${COMPARED} runs × ${points} metric points`, load, 'ms', {
      runs: COMPARED,
      points,
    });
  } finally {
    ws.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
