/**
 * The automatic backend choice leaves WebGPU untried on a machine without a GPU
 * render node, so Dawn's native warnings never reach the terminal; the reason is
 * in the one-line backend report. Forcing WebGPU is covered by backend.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { machineSkips } from '../../src-main/compute/start-backend.ts';
import { initBackend } from '../../src-main/engine/backend.ts';
import { runCli, tempDir } from '../reliability/helpers.ts';

const linux = process.platform === 'linux';

test('machineSkips leaves WebGPU out only where no render node exists', { skip: !linux }, () => {
  const dri = tempDir('dri');
  assert.match(machineSkips(dri).webgpu ?? '', /no GPU render node in .*--backend webgpu/);
  assert.match(machineSkips(join(dri, 'absent')).webgpu ?? '', /no GPU render node/);
  mkdirSync(dri, { recursive: true });
  writeFileSync(join(dri, 'renderD128'), '');
  assert.deepEqual(machineSkips(dri), {});
});

test('an automatic choice with WebGPU skipped never loads Dawn and says why', async () => {
  const info = await initBackend({ skip: { webgpu: 'not tried: no GPU here' } });
  assert.notEqual(info.name, 'webgpu');
  assert.deepEqual(
    info.skipped.find((s) => s.name === 'webgpu'),
    { name: 'webgpu', reason: 'not tried: no GPU here' },
  );
  assert.match(info.line, /webgpu \(not tried: no GPU here\)/);
  const nav = globalThis.navigator as { gpu?: unknown } | undefined;
  assert.equal(nav?.gpu, undefined, 'Dawn was not installed as navigator.gpu');
});

test(
  '`backends` prints no Dawn warnings on a machine without a GPU render node',
  { skip: machineSkips().webgpu === undefined },
  async () => {
    const out = await runCli(['backends']);
    assert.equal(out.code, 0, out.stderr);
    assert.doesNotMatch(out.stderr, /Vulkan|artificially reduced/);
    assert.match(out.stdout, /no +webgpu +not tried: no GPU render node/);
  },
);
