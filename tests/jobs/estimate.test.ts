import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { callMethod } from '../../src-main/api/index.ts';
import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import { importAndFreeze, writeTinyFolder } from './fixtures/tiny-dataset.ts';

interface Estimate {
  measuredSteps: number;
  msPerStep: number;
  stepsPerEpoch: number;
  secondsPerEpoch: number;
  imagesPerSec: number;
}

const TINY = {
  epochs: 1,
  warmupEpochs: 0,
  encoder: { kind: 'resnet', inChannels: 1, stem: 4, widths: [4, 8], depths: [1, 1] },
  projector: { hidden: 16, out: 8 },
  slices: 16,
};

test('the time estimate measures real steps, also when the schedule has a single step', async (t) => {
  const folder = await writeTinyFolder({ train: 12, test: 4 });
  const ws = openWorkspace(mkdtempSync(join(tmpdir(), 'lejepa-estimate-')));
  t.after(() => ws.close());
  const version = await importAndFreeze(ws, folder);
  const ctx = { ws, emit: () => {}, signal: new AbortController().signal };
  const estimate = async (config: object, steps: number): Promise<Estimate> => {
    const reply = await callMethod(ctx, 'run.estimate', {
      datasetVersionId: version,
      preset: 'quick',
      config,
      steps,
    });
    assert.ok(reply.ok, JSON.stringify(reply));
    return reply.result as Estimate;
  };

  // 36 training images at batch 12: three steps an epoch, the first one a warm-up.
  const several = await estimate({ ...TINY, batch: 12 }, 2);
  assert.equal(several.stepsPerEpoch, 3);
  assert.equal(several.measuredSteps, 2);
  assert.ok(several.msPerStep > 0);
  assert.ok(Math.abs(several.imagesPerSec - 12_000 / several.msPerStep) < 1e-6);

  // Batch 36: the whole schedule is one step, so that step is the measurement.
  const single = await estimate({ ...TINY, batch: 36 }, 3);
  assert.equal(single.stepsPerEpoch, 1);
  assert.equal(single.measuredSteps, 1);
  assert.ok(single.msPerStep > 0, `msPerStep ${single.msPerStep}`);
  assert.ok(single.imagesPerSec < 1e6, `imagesPerSec ${single.imagesPerSec}`);
  assert.ok(Math.abs(single.secondsPerEpoch - single.msPerStep / 1000) < 1e-9);
});
