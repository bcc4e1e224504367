import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { NO_VECTORS, sharedVectorsDir } from './helpers.ts';

const bin = fileURLToPath(new URL('../../bin/lejepa-studio.mjs', import.meta.url));
const dir = sharedVectorsDir();
const workspace = mkdtempSync(join(tmpdir(), 'lejepa-engine-cli-'));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args, '--workspace', workspace], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Row {
  name: string;
  pass: boolean;
  worst: { quantity: string; error: number; tolerance: number };
}

test(
  'check-vectors passes both shared files and reports the worst error of every case',
  { skip: dir === null ? NO_VECTORS : false },
  () => {
    for (const file of ['sigreg.json', 'lejepa_loss.json']) {
      const r = cli('check-vectors', join(dir!, file), '--backend', 'wasm', '--json');
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as {
        ok: boolean;
        result: { backend: string; pass: boolean; rows: Row[] };
      };
      const result = out.result ?? out;
      assert.equal(result.backend, 'wasm');
      assert.equal(result.pass, true);
      const cases = (JSON.parse(readFileSync(join(dir!, file), 'utf8')) as { cases: unknown[] })
        .cases;
      assert.equal(result.rows.length, cases.length);
      for (const row of result.rows) assert.ok(row.worst.error <= row.worst.tolerance, row.name);
    }
    const text = cli('check-vectors', join(dir!, 'sigreg.json'), '--backend', 'cpu');
    assert.equal(text.code, 0);
    assert.match(text.stderr, /backend cpu/);
    assert.match(text.stdout, /ok +huge_scale_1e3 +worst/);
    assert.match(text.stdout, /all 7 cases pass on cpu/);
  },
);

test(
  'check-vectors fails, naming the case, when a file has been tampered with',
  { skip: dir === null ? NO_VECTORS : false },
  () => {
    const data = JSON.parse(readFileSync(join(dir!, 'lejepa_loss.json'), 'utf8')) as {
      cases: { name: string; expected: { total: number; grad_total: number[][][] } }[];
    };
    const victim = data.cases[1]!;
    victim.expected.grad_total[0]![0]![0]! += 1e-2;
    const path = join(mkdtempSync(join(tmpdir(), 'lejepa-vectors-')), 'corrupted.json');
    writeFileSync(path, JSON.stringify(data));
    const r = cli('check-vectors', path, '--backend', 'cpu');
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`FAIL +${victim.name} +worst grad_total`));
    assert.match(r.stdout, /1 of 4 cases FAIL on cpu/);
  },
);

test('check-vectors explains a missing file, a file of another format and an unknown backend', () => {
  const missing = cli('check-vectors', join(workspace, 'nope.json'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not exist/);
  const other = join(workspace, 'other.json');
  writeFileSync(other, JSON.stringify({ hello: 'world' }));
  const bad = cli('check-vectors', other, '--backend', 'cpu');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /not a usable vector file/);
  const backend = cli('check-vectors', other, '--backend', 'cuda');
  assert.notEqual(backend.code, 0);
  assert.match(backend.stderr, /--backend must be one of/);
});

test('backends lists every backend in order with a reason for those missing', () => {
  const r = cli('backends', '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { result?: unknown };
  const list = (out.result ?? out) as { name: string; available: boolean; reason?: string }[];
  assert.deepEqual(
    list.map((b) => b.name),
    ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'],
  );
  assert.ok(list.find((b) => b.name === 'wasm')!.available);
  assert.ok(list.find((b) => b.name === 'cpu')!.available);
  for (const b of list) if (!b.available) assert.ok(b.reason && b.reason.length > 0, b.name);
});
