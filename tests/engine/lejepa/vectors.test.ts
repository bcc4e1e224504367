import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';

import { initBackend } from '../../../src-main/engine/backend.ts';
import { checkVectorFile } from '../../../src-main/engine/lejepa/vectors.ts';
import { backendsHere, NO_VECTORS, sharedVectorsDir } from '../helpers.ts';

const dir = sharedVectorsDir();
const backends = await backendsHere();

for (const file of ['sigreg', 'lejepa_loss'] as const) {
  for (const backend of backends) {
    test(
      `every ${file} golden case passes on ${backend}, loss and gradient`,
      { skip: dir === null ? NO_VECTORS : false },
      async (t) => {
        await initBackend({ prefer: backend });
        const data = JSON.parse(readFileSync(`${dir}${file}.json`, 'utf8')) as { cases: unknown[] };
        const before = tf.memory().numTensors;
        const rows = await checkVectorFile(data);
        assert.equal(tf.memory().numTensors, before, 'the checks leave no tensor behind');
        assert.equal(rows.length, data.cases.length);
        const worst = new Map<string, number>();
        for (const row of rows) {
          for (const ch of row.checks) {
            assert.ok(
              ch.pass,
              `${backend} ${row.name} ${ch.quantity}: error ${ch.error} > ${ch.tolerance} (${ch.rule})`,
            );
            if (ch.rule.startsWith('1e-')) {
              worst.set(
                ch.quantity,
                Math.max(worst.get(ch.quantity) ?? 0, ch.error / ch.tolerance),
              );
            }
          }
        }
        // The special rules are applied where the README asks for them, not elsewhere.
        if (file === 'sigreg') {
          const rule = (name: string) =>
            rows.find((r) => r.name === name)?.checks.find((c) => c.quantity === 'grad')?.rule;
          assert.match(rule('huge_scale_1e3') ?? '', /saturated/);
          assert.equal(rule('collapse_all_zero'), 'exactly zero');
          assert.equal(rule('uniform_16_slices'), '1e-4·max|ref| + 1e-7');
        }
        const summary = [...worst].map(([q, r]) => `${q} ${r.toFixed(3)}`).join(', ');
        t.diagnostic(`${backend} ${file}: worst error/tolerance per quantity: ${summary}`);
      },
    );
  }
}

test(
  'a case whose expectation is wrong fails its check',
  { skip: dir === null ? NO_VECTORS : false },
  async () => {
    await initBackend({ prefer: 'cpu' });
    const data = JSON.parse(readFileSync(`${dir}sigreg.json`, 'utf8')) as {
      cases: { name: string; expected: { loss: number; grad: number[][] } }[];
    };
    const one = data.cases.find((c) => c.name === 'uniform_16_slices')!;
    one.expected.loss *= 1 + 1e-4;
    one.expected.grad[3]![2]! += 0.01;
    const [row] = await checkVectorFile({ kind: 'sigreg', cases: [one] });
    assert.equal(row!.pass, false);
    const failed = row!.checks.filter((c) => !c.pass).map((c) => c.quantity);
    assert.deepEqual(failed.sort(), ['grad', 'loss']);
  },
);
