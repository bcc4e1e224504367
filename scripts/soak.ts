#!/usr/bin/env -S node --import tsx
/**
 * The long soak: trains tiny real runs and kills them over and over for N
 * minutes, checking after every kill what the reliability suite checks once:
 * the catalog passes `PRAGMA integrity_check`, the run is marked interrupted,
 * every checkpoint file on disk decodes, the newest loads, at most one
 * checkpoint interval is lost, and the resumed run goes on (each finished run
 * must have every step recorded exactly once); after each resume no temporary
 * file of a killed checkpoint write is left. Kills alternate between the
 * train job (at random moments, inside checkpoint writes, during start-up)
 * and the host process (`lejepa-studio run resume` killed mid-run).
 *
 * Usage: node --import tsx scripts/soak.ts [--minutes 30] [--interval 2] [--seed 1]
 *        [--workspace DIR] [--json]
 * Not part of `npm test`. Prints a summary; exits 1 on the first broken invariant.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { callMethod } from '../src-main/api/index.ts';
import { integrityCheck } from '../src-main/catalog/db.ts';
import { getRun, listCheckpoints, listMetrics, type RunRow } from '../src-main/catalog/runs.ts';
import { openWorkspace, type Workspace } from '../src-main/catalog/workspace.ts';
import { decodeCheckpoint } from '../src-main/engine/train/checkpoint.ts';
import { importAndFreeze, writeTinyFolder } from '../tests/jobs/fixtures/tiny-dataset.ts';

const { values: opts } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    interval: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    workspace: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const MINUTES = Number(opts.minutes);
const INTERVAL = Number(opts.interval);
const BIN = join(import.meta.dirname, '..', 'bin', 'lejepa-studio.mjs');
const RUN_CONFIG = {
  batch: 12,
  epochs: 20,
  warmupEpochs: 0,
  checkpointEvery: INTERVAL,
  encoder: { kind: 'resnet', inChannels: 1, stem: 4, widths: [4, 8], depths: [1, 1] },
  projector: { hidden: 16, out: 8 },
  slices: 16,
  backend: 'cpu',
};

let s = Number(opts.seed) >>> 0 || 1;
const rand = (n: number) => {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  return (s >>> 0) % n;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

function fail(message: string): never {
  say(`BROKEN: ${message}`);
  process.exit(1);
}

function api(ws: Workspace) {
  const ctx = { ws, emit: () => {}, signal: new AbortController().signal };
  return async <T>(method: string, input: unknown): Promise<T> => {
    const r = await callMethod(ctx, method, input);
    if (!r.ok) fail(`${method}: ${r.error.code} ${r.error.message}`);
    return r.result as T;
  };
}

async function until<T>(check: () => T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The invariants after a kill; returns the step the run resumes from. */
function check(ws: Workspace, id: number, label: string): { from: number; lost: number } {
  if (integrityCheck(ws.db) !== 'ok') fail(`${label}: catalog integrity`);
  const run = getRun(ws.db, id)!;
  if (run.status !== 'interrupted') fail(`${label}: status ${run.status}`);
  const dir = ws.path('runs', String(id));
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.ljck'))) {
    try {
      decodeCheckpoint(new Uint8Array(readFileSync(join(dir, name))));
    } catch (err) {
      fail(`${label}: ${name} does not decode (${String(err)})`);
    }
  }
  const newest = listCheckpoints(ws.db, id)
    .reverse()
    .find((c) => existsSync(c.path));
  const from = newest?.step ?? 0;
  const lost = run.step - from;
  if (lost > INTERVAL) fail(`${label}: lost ${lost} steps (interval ${INTERVAL})`);
  return { from, lost };
}

const stats = {
  kills: { checkpoint: 0, afterStep: 0, startup: 0, host: 0 },
  runsCompleted: 0,
  maxStepsLost: 0,
  stepsLost: 0,
  minutes: MINUTES,
};

async function main(): Promise<void> {
  const dir = opts.workspace ?? mkdtempSync(join(tmpdir(), 'lejepa-soak-'));
  say(`soak for ${MINUTES} min in ${dir}`);
  let ws = openWorkspace(dir);
  const version = await importAndFreeze(ws, await writeTinyFolder({ train: 12, test: 2 }));
  process.env.LEJEPA_TEST_FAULTS = JSON.stringify({ checkpointPauseMs: 200 });
  const end = Date.now() + MINUTES * 60_000;
  let call = api(ws);
  let id = (
    await call<RunRow>('run.start', {
      datasetVersionId: version,
      preset: 'quick',
      config: RUN_CONFIG,
    })
  ).id;
  let cycle = 0;
  while (Date.now() < end) {
    cycle += 1;
    const mode = (['checkpoint', 'afterStep', 'startup', 'host'] as const)[rand(4)]!;
    if (getRun(ws.db, id)!.status === 'completed') {
      const steps = listMetrics(ws.db, id).map((m) => m.step);
      if (steps.some((st, i) => st !== i + 1)) fail(`run ${id}: steps not recorded exactly once`);
      stats.runsCompleted += 1;
      id = (
        await call<RunRow>('run.start', {
          datasetVersionId: version,
          preset: 'quick',
          config: RUN_CONFIG,
        })
      ).id;
      continue;
    }
    if (mode === 'host') {
      // Hand the workspace to a `lejepa-studio run resume` process and kill that process.
      await call('run.pause', { id });
      await call('run.wait', { id });
      ws.close();
      const child = spawn(
        process.execPath,
        [BIN, 'run', 'resume', String(id), '--workspace', dir],
        {
          stdio: 'ignore',
          env: { ...process.env },
        },
      );
      await sleep(3000 + rand(4000));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      ws = openWorkspace(dir);
      call = api(ws);
      // The orphaned job stops once it sees its host gone; wait for that before resuming.
      const orphan = getRun(ws.db, id)!.pid;
      if (orphan !== null)
        await until(() => (alive(orphan) ? undefined : true), 60_000, 'the orphan');
      await call('run.list', {});
      const status = getRun(ws.db, id)!.status;
      if (status === 'completed') continue;
      if (status === 'paused') {
        // Killed before the resume started the job: nothing to check.
        await call('run.resume', { id });
        continue;
      }
    } else {
      const pid = await until(() => getRun(ws.db, id)!.pid ?? undefined, 120_000, 'the job');
      const dirOf = ws.path('runs', String(id));
      const before = getRun(ws.db, id)!.step;
      if (mode === 'checkpoint') {
        await until(
          () => (readdirSync(dirOf).some((n) => n.endsWith(`.${pid}.tmp`)) ? true : undefined),
          120_000,
          'a checkpoint write',
        );
        await sleep(rand(150));
      } else if (mode === 'afterStep') {
        // Let the run get ahead by a random number of steps, so that runs also finish.
        const target = before + 1 + rand(3 * INTERVAL);
        await until(
          () => {
            const r = getRun(ws.db, id)!;
            return r.step >= target || r.status !== 'running' ? true : undefined;
          },
          300_000,
          'steps',
        );
        await sleep(rand(500));
      } else {
        await sleep(rand(1500));
      }
      if (getRun(ws.db, id)!.status !== 'running') continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        continue;
      }
      await call('run.wait', { id });
    }
    stats.kills[mode] += 1;
    const { lost } = check(ws, id, `cycle ${cycle} (${mode})`);
    stats.maxStepsLost = Math.max(stats.maxStepsLost, lost);
    stats.stepsLost += lost;
    await call('run.resume', { id });
    // Resume removes the temporary files of the writes that were killed.
    const leftover = readdirSync(ws.path('runs', String(id))).filter((n) => {
      const m = /\.(\d+)\.tmp$/.exec(n);
      return m !== null && !alive(Number(m[1]));
    });
    if (leftover.length > 0) fail(`cycle ${cycle}: killed writes left ${leftover.join(', ')}`);
    if (cycle % 10 === 0) say(JSON.stringify(stats));
  }
  delete process.env.LEJEPA_TEST_FAULTS;
  if (getRun(ws.db, id)!.status === 'running') {
    await call('run.cancel', { id });
    await call('run.wait', { id });
  }
  if (integrityCheck(ws.db) !== 'ok') fail('catalog integrity at the end');
  ws.close();
  const out = JSON.stringify(stats);
  if (opts.json) process.stdout.write(`${out}\n`);
  say(`held: ${out}`);
}

await main();
