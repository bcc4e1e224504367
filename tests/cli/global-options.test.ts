import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { hoistGlobalOptions } from '../../src-main/cli.ts';
import { runCli, tempDir } from '../reliability/helpers.ts';

test('global options before the command are moved after it, the rest left alone', () => {
  assert.deepEqual(hoistGlobalOptions(['--workspace', 'W', '--json', 'run', 'show', '3']), [
    'run',
    'show',
    '3',
    '--workspace',
    'W',
    '--json',
  ]);
  assert.deepEqual(hoistGlobalOptions(['--workspace=W', '--log-level', 'warn', 'runs']), [
    'runs',
    '--workspace=W',
    '--log-level',
    'warn',
  ]);
  // Not global, or after the command: unchanged.
  assert.deepEqual(hoistGlobalOptions(['--epochs', '3', 'train']), ['--epochs', '3', 'train']);
  assert.deepEqual(hoistGlobalOptions(['runs', '--workspace', 'W']), ['runs', '--workspace', 'W']);
  assert.deepEqual(hoistGlobalOptions(['--help']), ['--help']);
});

test('`lejepa-studio --workspace DIR --json runs` uses that workspace', async () => {
  const dir = join(tempDir('global'), 'ws');
  const r = await runCli(['--workspace', dir, '--json', 'runs']);
  assert.equal(r.code, 0, r.stderr);
  const reply = JSON.parse(r.stdout) as { ok: boolean; result: unknown[] };
  assert.equal(reply.ok, true);
  assert.deepEqual(reply.result, []);
  const again = await runCli(['--workspace', dir, 'datasets', '--json']);
  assert.equal(again.code, 0, again.stderr);
});
