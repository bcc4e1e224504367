import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { rankWorkspaceRuns } from '../../src-main/api/evaluation.ts';
import { beginEmbedding, finishEmbedding } from '../../src-main/catalog/embeddings.ts';
import { saveEvaluation } from '../../src-main/catalog/evaluation.ts';
import { insertMetric, insertRun } from '../../src-main/catalog/runs.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';
import { importAndFreeze, writeTinyFolder } from '../jobs/fixtures/tiny-dataset.ts';

let ws: Workspace;
let version: number;

before(async () => {
  const folder = await writeTinyFolder({ train: 2, test: 1 });
  ws = openWorkspace(mkdtempSync(join(tmpdir(), 'lejepa-rank-')));
  version = await importAndFreeze(ws, folder);
});

after(() => ws.close());

/**
 * A finished run in the catalog: 20 steps whose last 10 have total loss `loss`
 * (the first 10 are far higher, so only the tail counts), and optionally a
 * linear-probe accuracy recorded on an embedding of its checkpoint.
 */
function run(name: string, lambda: number, loss: number, probe: number | null): number {
  const id = insertRun(ws.db, {
    name,
    datasetVersionId: version,
    config: { lambda },
    configHash: name,
  });
  for (let step = 1; step <= 20; step++) {
    const total = step <= 10 ? 5 + step : loss;
    insertMetric(ws.db, id, {
      step,
      epoch: step / 20,
      lr: 1e-3,
      pred: total / 2,
      sigreg: total / 2,
      total,
      probeAcc: null,
      imagesPerSec: 1,
      msPerStep: 1,
      liveTensors: 0,
      memoryMB: 0,
      gradNorm: 1,
    });
  }
  if (probe !== null) {
    const lineage = {
      versionId: version,
      runId: id,
      checkpointStep: 20,
      head: 'backbone' as const,
      imageSize: 28,
      channels: 1,
    };
    const e = beginEmbedding(ws.db, lineage, `${name}-lineage`);
    finishEmbedding(ws.db, e.id, { path: `x${id}`, count: 1, dim: 1, backend: 'cpu', seconds: 0 });
    saveEvaluation(ws.db, {
      embeddingId: e.id,
      kind: 'linear_probe',
      paramsKey: '{}',
      params: {},
      score: probe,
      result: {},
      seconds: 0,
    });
  }
  return id;
}

test('runs are ranked by their final loss / λ^0.4 and compared with probe accuracy by rank', () => {
  // Scaled losses: C 0.6/0.1^0.4 = 1.507, A 0.5/0.05^0.4 = 1.657, D 1.823, B 0.4/0.02^0.4 = 1.913.
  const a = run('A', 0.05, 0.5, 0.75);
  const b = run('B', 0.02, 0.4, 0.6);
  const c = run('C', 0.1, 0.6, 0.8);
  const d = run('D', 0.05, 0.55, 0.7);
  const e = run('E', 0.05, 0.45, null);
  const r = rankWorkspaceRuns(ws, 10);

  assert.deepEqual(
    r.runs.map((x) => x.runId),
    [e, c, a, d, b],
  );
  assert.deepEqual(
    r.runs.map((x) => x.rank),
    [1, 2, 3, 4, 5],
  );
  const byId = new Map(r.runs.map((x) => [x.runId, x]));
  assert.ok(Math.abs(byId.get(a)!.loss - 0.5) < 1e-6, 'the mean of the last 10 steps');
  assert.ok(Math.abs(byId.get(c)!.scaledLoss - 0.6 / Math.pow(0.1, 0.4)) < 1e-6);
  assert.equal(byId.get(e)!.probeAccuracy, null);
  assert.equal(byId.get(b)!.probeAccuracy, 0.6);

  // Only the four evaluated runs count. The scaled loss orders them exactly as their
  // accuracy does (ρ = −1). The plain loss ranks B, A, D, C against accuracy ranks
  // 1, 3, 2, 4: ρ = 1 − 6·2/60 = +0.8, lower loss going with lower accuracy across λ.
  assert.equal(r.agreement.runsWithAccuracy, 4);
  assert.ok(
    Math.abs(r.agreement.spearmanScaledLoss - -1) < 1e-12,
    `${r.agreement.spearmanScaledLoss}`,
  );
  assert.ok(Math.abs(r.agreement.spearmanLoss - 0.8) < 1e-12, `${r.agreement.spearmanLoss}`);
});
