import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import { importAndFreeze, writeTinyFolder } from '../jobs/fixtures/tiny-dataset.ts';

const BIN = new URL('../../bin/lejepa-studio.mjs', import.meta.url).pathname;

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  return { code: r.status, stderr: r.stderr, json: last ? JSON.parse(last) : null };
}

test('train, runs and run show work end to end from the command line with --json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lejepa-cli-'));
  const ws = openWorkspace(dir);
  const version = await importAndFreeze(ws, await writeTinyFolder({ train: 8, test: 2 }));
  ws.close();

  const spec = JSON.stringify({
    encoder: { kind: 'resnet', inChannels: 1, stem: 4, widths: [4, 8], depths: [1, 1] },
    projector: { hidden: 16, out: 8 },
    warmupEpochs: 0,
  });
  const trained = cli([
    'train',
    '--dataset',
    String(version),
    '--preset',
    'quick',
    '--epochs',
    '2',
    '--batch',
    '8',
    '--slices',
    '16',
    '--config',
    spec,
    '--workspace',
    dir,
    '--json',
  ]);
  assert.equal(trained.code, 0, trained.stderr);
  const run = trained.json.result;
  assert.equal(run.status, 'completed');
  assert.equal(run.step, 6);
  assert.equal(run.config.batch, 8);
  assert.match(trained.stderr, /run 1 started/);
  assert.match(trained.stderr, /step 6\/6/);

  const listed = cli(['runs', '--workspace', dir, '--json']);
  assert.equal(listed.code, 0);
  assert.deepEqual(
    listed.json.result.map((r: { id: number; status: string }) => [r.id, r.status]),
    [[1, 'completed']],
  );
  const shown = cli(['run', 'show', '1', '--workspace', dir, '--json']);
  assert.equal(shown.json.result.last.step, 6);
  assert.equal(shown.json.result.checkpoints.at(-1).reason, 'final');
  // The human text ends with the run's log, the backend line among it.
  const text = spawnSync(process.execPath, [BIN, 'run', 'show', '1', '--workspace', dir], {
    encoding: 'utf8',
  });
  assert.match(text.stdout + text.stderr, /log \(last \d+ lines?\):\n.*backend \w+/);

  const bad = cli(['train', '--dataset', String(version), '--lr', '-3', '--workspace', dir]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /lr: .*above 0/);
  const missing = cli(['run', 'resume', '99', '--workspace', dir]);
  assert.match(missing.stderr, /There is no run 99/);
});
