import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  describeConfigIssues,
  presetConfig,
  PRESET_NAMES,
  RunConfigSchema,
} from '../../src-main/api/run-config.ts';

test('every preset is a valid configuration', () => {
  for (const name of PRESET_NAMES) {
    const parsed = RunConfigSchema.safeParse(presetConfig(name, 3));
    assert.ok(
      parsed.success,
      `${name}: ${parsed.success ? '' : describeConfigIssues(parsed.error)}`,
    );
  }
});

test('the small preset is the reference recipe', () => {
  const c = presetConfig('small', 1);
  assert.equal(c.encoder, 'resnet-small');
  assert.deepEqual(c.projector, { hidden: 512, out: 64 });
  assert.equal(c.views.globalViews, 2);
  assert.equal(c.views.localViews, 4);
  assert.equal(c.views.globalSize, 28);
  assert.equal(c.views.localSize, 14);
  assert.deepEqual(c.views.globalScale, [0.3, 1]);
  assert.deepEqual(c.views.localScale, [0.05, 0.3]);
  assert.deepEqual(c.views.jitter, {
    p: 0.8,
    brightness: 0.4,
    contrast: 0.4,
    saturation: 0,
    hue: 0,
  });
  assert.equal(c.lambda, 0.05);
  assert.equal(c.slices, 256);
  assert.equal(c.lr, 1e-3);
  assert.equal(c.weightDecay, 0.05);
  assert.equal(c.warmupEpochs, 1);
  assert.equal(c.batch, 256);
  assert.equal(c.seed, 0);
});

const small = presetConfig('small', 1);
const wrong: [string, Record<string, unknown>, RegExp][] = [
  ['lr', { lr: -1 }, /lr: .*above 0.*10/],
  ['lr', { lr: '0.1' }, /lr: /],
  ['batch', { batch: 1 }, /batch: .*2.*4096/],
  ['batch', { batch: 3.5 }, /batch: .*whole number/],
  ['epochs', { epochs: 0 }, /epochs: .*1.*10000/],
  ['lambda', { lambda: 2 }, /lambda: .*at most 1/],
  ['slices', { slices: 1e9 }, /slices: .*8192/],
  ['seed', { seed: -1 }, /seed: /],
  ['channels', { channels: 2 }, /channels: .*1 or 3/],
  ['backend', { backend: 'tpu' }, /backend: .*wasm/],
  ['warmupEpochs', { warmupEpochs: 9 }, /warmupEpochs: .*at most epochs/],
  [
    'views.globalScale',
    { views: { ...small.views, globalScale: [0.9, 0.2] } },
    /views.globalScale/,
  ],
  ['views.flip', { views: { ...small.views, flip: 1.5 } }, /views.flip: .*at most 1/],
  ['extra', { colour: 'blue' }, /colour/],
  ['missing', { lambda: undefined }, /lambda: /],
];

for (const [field, patch, pattern] of wrong) {
  test(`a wrong ${field} is refused with the field and its range`, () => {
    const parsed = RunConfigSchema.safeParse({ ...small, ...patch });
    assert.equal(parsed.success, false);
    if (!parsed.success) assert.match(describeConfigIssues(parsed.error), pattern);
  });
}
