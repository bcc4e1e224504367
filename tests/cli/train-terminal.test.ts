/**
 * `lejepa-studio train` as a terminal runs it: a Ctrl-C reaches the whole process
 * group (the CLI and its job), and other commands run beside it on the same
 * workspace while it holds the lock.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';

import { openCatalog } from '../../src-main/catalog/db.ts';
import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import {
  BIN,
  importAndFreeze,
  REPO,
  runCli,
  tempDir,
  TINY_RUN,
  until,
  writeTinyFolder,
} from '../reliability/helpers.ts';

let folder: string;
before(async () => {
  folder = await writeTinyFolder({ train: 12, test: 2 });
});

async function workspaceWithVersion(prefix: string): Promise<{ dir: string; version: number }> {
  const dir = tempDir(prefix);
  const ws = openWorkspace(dir);
  const version = await importAndFreeze(ws, folder);
  ws.close();
  return { dir, version };
}

/** Starts `train` in its own process group, as a shell starts a foreground command. */
function startTrain(dir: string, version: number) {
  const config = JSON.stringify({ ...TINY_RUN, epochs: 40, checkpointEvery: 1000 });
  const child = spawn(
    process.execPath,
    [BIN, 'train', '--dataset', String(version), '--preset', 'quick', '--config', config].concat([
      '--workspace',
      dir,
      '--json',
    ]),
    { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { child, exited, out: () => ({ stdout, stderr }) };
}

/** The step of run 1 once its job has trained at least `step` steps (read-only peek). */
function stepReached(dir: string, step: number): Promise<number> {
  return until(
    () => {
      if (!existsSync(join(dir, 'catalog.sqlite'))) return undefined;
      const db = openCatalog(join(dir, 'catalog.sqlite'), { readonly: true });
      try {
        const row = db.prepare('SELECT step FROM runs WHERE id = 1').get() as
          { step: number } | undefined;
        return row !== undefined && row.step >= step ? row.step : undefined;
      } finally {
        db.close();
      }
    },
    120_000,
    `run 1 at step ${step}`,
    50,
  );
}

test('Ctrl-C to the process group of `train` cancels the run with a checkpoint, exit 130', async () => {
  const { dir, version } = await workspaceWithVersion('sigint');
  const train = startTrain(dir, version);
  try {
    await stepReached(dir, 2);
    process.kill(-train.child.pid!, 'SIGINT');
    const code = await train.exited;
    const { stdout, stderr } = train.out();
    assert.equal(code, 130, stderr);
    const reply = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      ok: boolean;
      result: { status: string; step: number };
    };
    assert.equal(reply.result.status, 'cancelled', stderr);
    const ws = openWorkspace(dir, { readonly: true });
    try {
      const checkpoints = ws.db
        .prepare('SELECT step, reason, path FROM run_checkpoints WHERE run_id = 1')
        .all() as { step: number; reason: string; path: string }[];
      const last = checkpoints.at(-1);
      assert.equal(last?.reason, 'cancel', JSON.stringify(checkpoints));
      assert.equal(last.step, reply.result.step);
      assert.ok(existsSync(last.path));
    } finally {
      ws.close();
    }
  } finally {
    if (train.child.exitCode === null) process.kill(-train.child.pid!, 'SIGKILL');
  }
});

test('while `train` holds the workspace, `runs` reads it and `import` is refused with a sentence', async () => {
  const { dir, version } = await workspaceWithVersion('lock');
  const train = startTrain(dir, version);
  try {
    await stepReached(dir, 1);
    const listed = await runCli(['runs', '--workspace', dir, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const runs = (JSON.parse(listed.stdout) as { result: { id: number; status: string }[] }).result;
    assert.deepEqual(
      runs.map((r) => [r.id, r.status]),
      [[1, 'running']],
    );
    const shown = await runCli(['run', 'show', '1', '--workspace', dir, '--json']);
    assert.equal(shown.code, 0, shown.stderr);

    const imported = await runCli(['import', folder, '--workspace', dir]);
    assert.equal(imported.code, 1);
    assert.match(
      imported.stderr,
      new RegExp(
        `in use by another studio process \\(pid ${train.child.pid}\\).*Wait for that process to finish, or stop it`,
      ),
    );
    assert.doesNotMatch(imported.stderr, /read-only\./);
  } finally {
    process.kill(-train.child.pid!, 'SIGKILL');
    await train.exited;
  }
});

test('`run pause` typed in another terminal reaches the `train` holding the workspace; `run cancel` then ends the paused run', async () => {
  const { dir, version } = await workspaceWithVersion('remote');
  const train = startTrain(dir, version);
  try {
    await stepReached(dir, 1);
    const paused = await runCli(['run', 'pause', '1', '--workspace', dir, '--json']);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stderr, /pause requested from the process that trains it/);
    const result = (JSON.parse(paused.stdout) as { result: { status: string; step: number } })
      .result;
    assert.equal(result.status, 'paused', paused.stderr);
    assert.equal(await train.exited, 130, train.out().stderr);
    assert.ok(!existsSync(join(dir, 'runs', '1', 'control.request')), 'the request was taken');
    const ws = openWorkspace(dir, { readonly: true });
    try {
      const last = ws.db
        .prepare('SELECT step, reason FROM run_checkpoints WHERE run_id = 1 ORDER BY id DESC')
        .get() as { step: number; reason: string };
      assert.deepEqual(last, { step: result.step, reason: 'pause' });
    } finally {
      ws.close();
    }
    // The training process has ended: the workspace is free and the api handles it.
    const cancelled = await runCli(['run', 'cancel', '1', '--workspace', dir, '--json']);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    const shown = await runCli(['run', 'show', '1', '--workspace', dir, '--json']);
    const run = (JSON.parse(shown.stdout) as { result: { run: { status: string } } }).result.run;
    assert.equal(run.status, 'cancelled');
  } finally {
    if (train.child.exitCode === null) process.kill(-train.child.pid!, 'SIGKILL');
  }
});

test('`run cancel` of a run that is not running, while another process holds the workspace, says why nothing changed', async () => {
  const { dir, version } = await workspaceWithVersion('remote-idle');
  const first = startTrain(dir, version);
  await stepReached(dir, 1);
  process.kill(-first.child.pid!, 'SIGINT');
  assert.equal(await first.exited, 130);
  const second = startTrain(dir, version);
  try {
    // Run 2 holds the workspace; run 1 is cancelled.
    await until(
      () => {
        const db = openCatalog(join(dir, 'catalog.sqlite'), { readonly: true });
        try {
          const row = db.prepare('SELECT step FROM runs WHERE id = 2').get() as
            { step: number } | undefined;
          return row !== undefined && row.step >= 1 ? true : undefined;
        } finally {
          db.close();
        }
      },
      120_000,
      'run 2 at step 1',
      50,
    );
    const refused = await runCli(['run', 'cancel', '1', '--workspace', dir]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /Run 1 is not running \(it is cancelled\), and another studio process holds the workspace/,
    );
    assert.ok(!existsSync(join(dir, 'runs', '1', 'control.request')));
  } finally {
    process.kill(-second.child.pid!, 'SIGKILL');
    await second.exited;
  }
});
