import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const scan = (input: string) =>
  spawnSync(process.execPath, ['scripts/electron-scan.mjs', input], { encoding: 'utf8' });

test('the security scan finds no HIGH issue in the desktop layer', () => {
  const result = scan('src-main/electron');
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /src-main\/electron: \d+ checks/);
  assert.match(result.stdout, /no HIGH findings/);
});

test('the scan fails on a window that disables isolation (its report is read, not its exit code)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lejepa-scan-'));
  writeFileSync(
    join(dir, 'main.js'),
    `const { BrowserWindow } = require('electron');
new BrowserWindow({ webPreferences: { contextIsolation: false, nodeIntegration: true, sandbox: false } });
`,
  );
  const result = scan(dir);
  assert.equal(result.status, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /HIGH\s+\S+\s+CONTEXT_ISOLATION_JS_CHECK/);
});
