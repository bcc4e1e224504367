/**
 * SIGKILL of the training process at random moments (24 times across one run,
 * a third of them in the middle of a checkpoint write, held open by the train
 * job's test pause), and SIGKILL of the host process (`lejepa-studio train`)
 * while its job runs, and of the server (`lejepa-studio serve`) while a run
 * started through its api trains. After every kill: the catalog passes `PRAGMA
 * integrity_check`, the run is marked interrupted, the newest complete
 * checkpoint decodes, no `.ljck` file on disk is a half, resume continues from
 * the checkpoint, and at most one checkpoint interval of steps is lost. The
 * temporary files of the killed writes are removed on resume.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import type { ApiEvent } from '../../src-main/api/events.ts';
import { integrityCheck, openCatalog } from '../../src-main/catalog/db.ts';
import {
  getRun,
  listCheckpoints,
  listMetrics,
  type CheckpointRow,
  type RunRow,
} from '../../src-main/catalog/runs.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';
import { decodeCheckpoint } from '../../src-main/engine/train/checkpoint.ts';
import {
  apiOf,
  BIN,
  importAndFreeze,
  REPO,
  runCli,
  sleep,
  tempDir,
  TINY_RUN,
  until,
  writeTinyFolder,
} from './helpers.ts';

const INTERVAL = 2;
const KILLS = 21;

let folder: string;
before(async () => {
  folder = await writeTinyFolder({ train: 12, test: 2 });
});

/** A deterministic generator for the kill moments (seeded, so a failure replays). */
function moments(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return s % n;
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every checkpoint file in the run's folder decodes: no half-written file looks valid. */
function assertFilesWhole(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.ljck')) continue;
    const c = decodeCheckpoint(new Uint8Array(readFileSync(join(dir, name))));
    assert.ok(name.includes(String(c.step).padStart(7, '0')), `${name} holds step ${c.step}`);
  }
}

function newestCheckpoint(ws: Workspace, id: number): CheckpointRow | undefined {
  return listCheckpoints(ws.db, id)
    .reverse()
    .find((c) => existsSync(c.path));
}

function checkAfterKill(ws: Workspace, id: number, lastStep: number, label: string): number {
  assert.equal(integrityCheck(ws.db), 'ok', `${label}: catalog intact`);
  const run = getRun(ws.db, id)!;
  assert.equal(run.status, 'interrupted', `${label}: ${run.status} ${run.message ?? ''}`);
  assertFilesWhole(ws.path('runs', String(id)));
  const newest = newestCheckpoint(ws, id);
  const from = newest?.step ?? 0;
  if (newest !== undefined) {
    const c = decodeCheckpoint(new Uint8Array(readFileSync(newest.path)));
    assert.equal(c.step, newest.step, `${label}: newest checkpoint loads`);
  }
  assert.ok(
    lastStep - from <= INTERVAL,
    `${label}: lost ${lastStep - from} steps (trained to ${lastStep}, checkpoint ${from})`,
  );
  return from;
}

test(`SIGKILL of the train job ${KILLS} times (incl. mid-checkpoint): nothing lost beyond one interval`, async () => {
  const ws = openWorkspace(tempDir('kill'));
  const version = await importAndFreeze(ws, folder);
  const events: ApiEvent[] = [];
  const api = apiOf(ws, events);
  process.env.LEJEPA_TEST_FAULTS = JSON.stringify({ checkpointPauseMs: 300 });
  const rand = moments(20261204);
  const modes = { checkpoint: 0, afterStep: 0, startup: 0 };
  try {
    const started = await api.call<RunRow>('run.start', {
      datasetVersionId: version,
      preset: 'quick',
      config: { ...TINY_RUN, epochs: 10, checkpointEvery: INTERVAL },
    });
    const id = started.id;
    const runDir = ws.path('runs', String(id));
    let resumeFrom = 0;
    for (let k = 0; k < KILLS; k++) {
      const mode = (['checkpoint', 'afterStep', 'startup'] as const)[k % 3]!;
      const seen = events.length;
      const pid = await until(() => getRun(ws.db, id)!.pid ?? undefined, 60_000, 'the job');
      if (mode === 'checkpoint') {
        // Kill while a checkpoint's temporary file is half written.
        await until(
          () => (readdirSync(runDir).some((n) => n.endsWith(`.${pid}.tmp`)) ? true : undefined),
          60_000,
          'a checkpoint write',
          10,
        );
        await sleep(rand(150));
      } else if (mode === 'afterStep') {
        await until(
          () => (events.slice(seen).some((e) => e.type === 'run.metrics') ? true : undefined),
          60_000,
          'a step',
        );
        await sleep(rand(400));
      } else {
        await sleep(rand(600));
      }
      if (getRun(ws.db, id)!.status !== 'running') break;
      process.kill(pid, 'SIGKILL');
      modes[mode] += 1;
      await api.call('run.wait', { id });
      const lastStep = getRun(ws.db, id)!.step;
      const from = checkAfterKill(ws, id, lastStep, `kill ${k + 1} (${mode})`);
      const resumed = await api.call<RunRow>('run.resume', { id });
      assert.equal(resumed.step, from, 'resume starts at the newest checkpoint');
      assert.deepEqual(
        readdirSync(runDir).filter((n) => n.endsWith(`.${pid}.tmp`)),
        [],
        `kill ${k + 1}: the killed write's temporary file is removed on resume`,
      );
      assert.ok(from >= resumeFrom, 'never resumes behind an earlier resume point');
      resumeFrom = from;
    }
    delete process.env.LEJEPA_TEST_FAULTS;
    const done = await api.call<RunRow>('run.wait', { id });
    assert.equal(done.status, 'completed', done.message ?? '');
    assert.deepEqual(
      listMetrics(ws.db, id).map((m) => m.step),
      Array.from({ length: done.totalSteps! }, (_, i) => i + 1),
      'every step recorded exactly once after all the resumes',
    );
    assert.equal(integrityCheck(ws.db), 'ok');
    assertFilesWhole(runDir);
    assert.deepEqual(
      readdirSync(runDir).filter((n) => n.endsWith('.tmp')),
      [],
      'no temporary file left',
    );
    const total = modes.checkpoint + modes.afterStep + modes.startup;
    assert.ok(total >= 20, `killed ${total} times`);
    assert.ok(modes.checkpoint >= 6, 'several kills inside a checkpoint write');
    console.log(`# train-job kills: ${JSON.stringify(modes)}`);
  } finally {
    delete process.env.LEJEPA_TEST_FAULTS;
    ws.close();
  }
});

test('SIGKILL of the host process (`lejepa-studio train`) while its job runs, 3 times', async () => {
  const dir = tempDir('kill-host');
  const ws0 = openWorkspace(dir);
  const version = await importAndFreeze(ws0, folder);
  ws0.close();
  const config = JSON.stringify({ ...TINY_RUN, epochs: 6, checkpointEvery: INTERVAL });
  const rand = moments(7);
  let id: number | null = null;
  for (let k = 0; k < 3; k++) {
    const args =
      id === null
        ? ['train', '--dataset', String(version), '--preset', 'quick', '--config', config]
        : ['run', 'resume', String(id)];
    const target = 2 + rand(4);
    let jobPid = 0;
    const out = await runCli([...args, '--workspace', dir, '--json'], {
      onSpawn: (child) => {
        void (async () => {
          // Watch the catalog read-only until the run has trained a few steps, then kill.
          const run = await until(
            () => {
              if (!existsSync(join(dir, 'catalog.sqlite'))) return undefined;
              const db = openCatalog(join(dir, 'catalog.sqlite'), { readonly: true });
              try {
                const row = db
                  .prepare("SELECT id, pid, step FROM runs WHERE status = 'running'")
                  .get() as { id: number; pid: number; step: number } | undefined;
                return row !== undefined && row.step >= target + (k === 0 ? 0 : 2)
                  ? row
                  : undefined;
              } finally {
                db.close();
              }
            },
            120_000,
            'the hosted run',
            50,
          );
          id = run.id;
          jobPid = run.pid;
          child.kill('SIGKILL');
        })();
      },
    });
    assert.equal(out.signal, 'SIGKILL', out.stderr);
    // The orphaned job notices its host is gone and stops by itself.
    await until(() => (alive(jobPid) ? undefined : true), 30_000, 'the orphaned job to stop');
    const ws = openWorkspace(dir);
    try {
      const api = apiOf(ws);
      const listed = await api.call<RunRow[]>('run.list', {});
      assert.equal(listed[0]!.status, 'interrupted');
      const lastStep = listed[0]!.step;
      checkAfterKill(ws, id!, lastStep, `host kill ${k + 1}`);
    } finally {
      ws.close();
    }
  }
  const final = await runCli(['run', 'resume', String(id), '--workspace', dir, '--json']);
  assert.equal(final.code, 0, final.stderr);
  const done = JSON.parse(final.stdout) as { ok: boolean; result: RunRow };
  assert.equal(done.result.status, 'completed', final.stdout);
  const ws = openWorkspace(dir);
  assert.equal(integrityCheck(ws.db), 'ok');
  assert.deepEqual(
    listMetrics(ws.db, id!).map((m) => m.step),
    Array.from({ length: 18 }, (_, i) => i + 1),
  );
  assert.deepEqual(
    readdirSync(ws.path('runs', String(id))).filter((n) => n.endsWith('.tmp')),
    [],
    'no temporary file left',
  );
  ws.close();
});

/** POST /api/call on a running `lejepa-studio serve`. */
function callServer(port: number, token: string, method: string, input: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/call',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'x-studio-token': token },
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ method, input }));
  });
}

test('SIGKILL of the server process (`lejepa-studio serve`) while a run it started trains', async () => {
  const dir = tempDir('kill-serve');
  const ws0 = openWorkspace(dir);
  const version = await importAndFreeze(ws0, folder);
  ws0.close();
  const server = spawn(process.execPath, [BIN, 'serve', '--workspace', dir, '--port', '0'], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  server.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    const url = new URL(
      await until(() => /Open: (http:\/\/\S+)/.exec(stderr)?.[1], 60_000, 'the server URL', 50),
    );
    const port = Number(url.port);
    const token = url.searchParams.get('token')!;
    const started = JSON.parse(
      await callServer(port, token, 'run.start', {
        datasetVersionId: version,
        preset: 'quick',
        config: { ...TINY_RUN, epochs: 3, checkpointEvery: INTERVAL },
      }),
    ) as { ok: boolean; result: RunRow };
    assert.ok(started.ok, JSON.stringify(started));
    const id = started.result.id;
    const running = await until(
      () => {
        const db = openCatalog(join(dir, 'catalog.sqlite'), { readonly: true });
        try {
          const row = db.prepare('SELECT pid, step FROM runs WHERE id = ?').get(id) as
            { pid: number | null; step: number } | undefined;
          return row !== undefined && row.pid !== null && row.step >= 3 ? row : undefined;
        } finally {
          db.close();
        }
      },
      120_000,
      'the served run',
      50,
    );
    server.kill('SIGKILL');
    await until(
      () => (server.exitCode !== null || server.signalCode !== null ? true : undefined),
      10_000,
      'the server to die',
    );
    await until(() => (alive(running.pid!) ? undefined : true), 30_000, 'the orphaned job to stop');
    const ws = openWorkspace(dir);
    try {
      const api = apiOf(ws);
      const listed = await api.call<RunRow[]>('run.list', {});
      const from = checkAfterKill(ws, id, listed[0]!.step, 'server kill');
      const resumed = await api.call<RunRow>('run.resume', { id });
      assert.equal(resumed.step, from);
      const done = await api.call<RunRow>('run.wait', { id });
      assert.equal(done.status, 'completed', done.message ?? '');
      assert.deepEqual(
        listMetrics(ws.db, id).map((m) => m.step),
        Array.from({ length: done.totalSteps! }, (_, i) => i + 1),
      );
      assert.equal(integrityCheck(ws.db), 'ok');
    } finally {
      ws.close();
    }
  } finally {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  }
});

after(() => delete process.env.LEJEPA_TEST_FAULTS);
