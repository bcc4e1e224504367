/**
 * The command line's own surface: help and version flags, option checks, the
 * dataset version forms `train --dataset` takes, and errors that read as
 * sentences (JSON with `--json`, no internal names, no stack).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';

import { callMethod } from '../../src-main/api/index.ts';
import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import { importAndFreeze, REPO, runCli, tempDir, writeTinyFolder } from '../reliability/helpers.ts';

let folder: string;
before(async () => {
  folder = await writeTinyFolder({ train: 2, test: 1 });
});

test('-h, --version and `help train` answer; an unknown command gives a JSON error', async () => {
  const short = await runCli(['-h']);
  assert.equal(short.code, 0);
  assert.match(short.stderr, /^Usage: lejepa-studio COMMAND/);

  const version = await runCli(['--version']);
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), pkg.version);

  const help = await runCli(['help', 'train']);
  assert.equal(help.code, 0);
  assert.match(help.stderr, /^Usage: lejepa-studio train --dataset VERSION/);
  const trainH = await runCli(['train', '-h']);
  assert.match(trainH.stderr, /^Usage: lejepa-studio train /);
  assert.match(trainH.stderr, /--workspace V +workspace folder \(default: \$LEJEPA_WORKSPACE/);
  // The demo makes a temporary workspace unless given one, and its help says so.
  const demoH = await runCli(['demo', '--help']);
  assert.match(demoH.stderr, /--workspace V +workspace folder \(default: a new temporary folder/);
  assert.equal(demoH.stderr.match(/--workspace/g)?.length, 2, 'usage line and one option line');

  const unknown = await runCli(['trian', '--json']);
  assert.equal(unknown.code, 2);
  const reply = JSON.parse(unknown.stdout) as { ok: boolean; error: { code: string } };
  assert.equal(reply.ok, false);
  assert.equal(reply.error.code, 'unknown_command');
});

test('bad options and a catalog that is a folder are refused with sentences', async () => {
  const dir = tempDir('usage');
  const level = await runCli(['runs', '--log-level', 'bogus', '--workspace', dir]);
  assert.equal(level.code, 2);
  assert.match(level.stderr, /--log-level must be one of debug, info, warn, error, got "bogus"/);

  const detach = await runCli(['train', '--dataset', '1', '--detach', '--workspace', dir]);
  assert.equal(detach.code, 2);
  assert.match(detach.stderr, /Unknown option --detach/);

  const preset = await runCli(['train', '--dataset', '1', '--preset', 'bogus', '--workspace', dir]);
  assert.equal(preset.code, 2);
  assert.match(preset.stderr, /--preset must be quick, small or full, got "bogus"/);

  const limit = await runCli(['runs', '--limit', '0', '--workspace', dir]);
  assert.equal(limit.code, 1);
  assert.match(limit.stderr, /^error: limit: /m);
  assert.doesNotMatch(limit.stderr, /run\.list/);

  const broken = tempDir('usage-dir');
  mkdirSync(join(broken, 'catalog.sqlite'));
  const isDir = await runCli(['runs', '--workspace', broken, '--json']);
  assert.equal(isDir.code, 1);
  const reply = JSON.parse(isDir.stdout) as { error: { kind: string; message: string } };
  assert.equal(reply.error.kind, 'expected');
  assert.match(reply.error.message, /catalog\.sqlite is a folder, not a file/);
});

test('train --dataset takes v<id>, DATASET@n and DATASET like `dataset version show`', async () => {
  const dir = tempDir('refs');
  const ws = openWorkspace(dir);
  await importAndFreeze(ws, folder);
  const ctx = { ws, emit: () => {}, signal: new AbortController().signal };
  await callMethod(ctx, 'dataset.import', {
    paths: [folder],
    labels: 'imagefolder',
    name: 'other',
  });
  const frozen = await callMethod(ctx, 'dataset.version.create', { dataset: 'other' });
  assert.ok(frozen.ok);
  ws.close();

  // A batch above the 6 images stops each start after its version is resolved, naming it.
  const versionOf = async (ref: string) => {
    const r = await runCli(['train', '--dataset', ref, '--batch', '64', '--workspace', dir]);
    assert.equal(r.code, 1, r.stderr);
    return /training images of dataset version (\d+)/.exec(r.stderr)?.[1] ?? r.stderr;
  };
  assert.equal(await versionOf('other'), '2');
  assert.equal(await versionOf('other@1'), '2');
  assert.equal(await versionOf('tiny@1'), '1');
  assert.equal(await versionOf('v2'), '2');
  assert.equal(await versionOf('1'), '1');
  const missing = await runCli(['train', '--dataset', 'other@5', '--workspace', dir]);
  assert.match(missing.stderr, /There is no dataset version "other@5"/);
});
