import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';

import { BACKEND_ORDER, initBackend, listBackends } from '../../src-main/engine/backend.ts';

test('listBackends names every backend once, in order, with a one-line reason when it is missing', async () => {
  const list = await listBackends();
  assert.deepEqual(
    list.map((b) => b.name),
    [...BACKEND_ORDER],
  );
  for (const b of list) {
    if (!b.available) assert.ok(b.reason && !b.reason.includes('\n'), `${b.name}: ${b.reason}`);
  }
  assert.ok(list.find((b) => b.name === 'cpu')!.available);
  assert.ok(list.find((b) => b.name === 'wasm')!.available);
});

test('the automatic choice is the first usable backend in order and says why it skipped the others', async () => {
  const list = await listBackends();
  const info = await initBackend();
  assert.equal(tf.getBackend(), info.name === 'tensorflow-gpu' ? 'tensorflow' : info.name);
  const index = BACKEND_ORDER.indexOf(info.name);
  for (const b of list.slice(0, index)) {
    const skip = info.skipped.find((s) => s.name === b.name);
    assert.ok(skip, `${b.name} comes first, so its skipping needs a reason`);
    if (b.name === 'webgpu' && b.available) assert.match(skip.reason, /software adapter|slower/);
  }
  // WebGPU on a software rasteriser is slower than WASM: never the automatic choice.
  const webgpu = list.find((b) => b.name === 'webgpu')!;
  if (webgpu.reason?.startsWith('software')) assert.notEqual(info.name, 'webgpu');
  assert.match(info.line, new RegExp(`^backend ${info.name}, ${info.threads} threads?`));
  for (const s of info.skipped) assert.ok(info.line.includes(s.name));
});

test('prefer forces a backend, and an unusable or unknown one fails with its reason', async () => {
  const cpu = await initBackend({ prefer: 'cpu' });
  assert.equal(cpu.name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.match(cpu.line, /forced/);
  const missing = (await listBackends()).find((b) => !b.available);
  if (missing)
    await assert.rejects(initBackend({ prefer: missing.name }), new RegExp(missing.name));
  await assert.rejects(initBackend({ prefer: 'cuda' as never }), /unknown backend/);
});
