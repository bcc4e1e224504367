import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Rng } from '../../src-main/engine/rng.ts';

test('the same seed gives the same stream; another seed another stream', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const xa = Array.from({ length: 100 }, () => a.uniform());
  assert.deepEqual(
    xa,
    Array.from({ length: 100 }, () => b.uniform()),
  );
  assert.notDeepEqual(
    xa,
    Array.from({ length: 100 }, () => c.uniform()),
  );
  // Seeds beyond 2^32 still count.
  assert.notEqual(new Rng(2 ** 32 + 1).uniform(), new Rng(1).uniform());
});

test('the saved state resumes the exact next draws, including a pending normal, through JSON', () => {
  const rng = new Rng(7);
  rng.normal(); // leaves the second value of a Box–Muller pair pending
  const saved = JSON.parse(JSON.stringify(rng.getState())) as ReturnType<Rng['getState']>;
  const next = [rng.normal(), rng.uniform(), rng.int(1000), ...rng.normalArray(5)];
  const resumed = Rng.fromState(saved);
  assert.deepEqual(
    [resumed.normal(), resumed.uniform(), resumed.int(1000), ...resumed.normalArray(5)],
    next,
  );
  assert.throws(
    () => Rng.fromState({ algorithm: 'xoshiro128**', s: [0, 0, 0, 0], spare: null }),
    /state/,
  );
  assert.throws(() => Rng.fromState({ nope: 1 } as never), /state/);
});

test('uniforms lie in [0, 1) with the right mean and variance; normals have mean 0 and variance 1', () => {
  const rng = new Rng(1);
  const n = 200_000;
  const u = rng.uniformArray(n);
  let s = 0;
  let s2 = 0;
  for (const v of u) {
    assert.ok(v >= 0 && v < 1);
    s += v;
    s2 += v * v;
  }
  assert.ok(Math.abs(s / n - 0.5) < 0.005);
  assert.ok(Math.abs(s2 / n - (s / n) ** 2 - 1 / 12) < 0.002);
  const z = rng.normalArray(n);
  let m = 0;
  let m2 = 0;
  let m4 = 0;
  for (const v of z) {
    m += v;
    m2 += v * v;
    m4 += v ** 4;
  }
  assert.ok(Math.abs(m / n) < 0.01);
  assert.ok(Math.abs(m2 / n - 1) < 0.015);
  assert.ok(Math.abs(m4 / n - 3) < 0.1, `fourth moment ${m4 / n}`);
});

test('int(n) covers 0..n-1 evenly and rejects bad bounds; shuffle permutes', () => {
  const rng = new Rng(3);
  const counts = new Array<number>(7).fill(0);
  for (let i = 0; i < 70_000; i++) counts[rng.int(7)]!++;
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `counts ${counts.join(' ')}`);
  assert.throws(() => rng.int(0), RangeError);
  assert.throws(() => rng.int(2.5), RangeError);
  const items = Array.from({ length: 50 }, (_, i) => i);
  const shuffled = rng.shuffle([...items]);
  assert.notDeepEqual(shuffled, items);
  assert.deepEqual(
    [...shuffled].sort((a, b) => a - b),
    items,
  );
});
