import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { LogRecord } from '../../src-main/log.ts';
import { allocatorEnv, JOB_GLIBC_TUNABLES } from '../../src-main/compute/allocator-env.ts';
import { startJob } from '../../src-main/jobs/runner.ts';

const COUNT = new URL('./fixtures/count-job.ts', import.meta.url);

test('a job streams progress and logs, and returns its result as data', async () => {
  const seen: number[] = [];
  const logs: LogRecord[] = [];
  const job = startJob(
    { module: COUNT, input: { to: 5, delayMs: 1 } },
    { onProgress: (d) => seen.push((d as { i: number }).i), onLog: (r) => logs.push(r) },
  );
  const out = await job.done;
  assert.deepEqual(out, { status: 'completed', data: { last: 5, pid: job.pid } });
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assert.equal(logs[0]?.message, 'counting to 5');
  assert.notEqual(job.pid, process.pid);
});

test('an error thrown in the job arrives as error data', async () => {
  const out = await startJob({ module: COUNT, input: { to: 5, delayMs: 1, failAt: 3 } }).done;
  assert.equal(out.status, 'failed');
  if (out.status === 'failed') {
    assert.equal(out.error.code, 'count_failed');
    assert.equal(out.error.kind, 'expected');
  }
});

test('a child that dies is reported as crashed', async () => {
  const out = await startJob({ module: COUNT, input: { to: 50, delayMs: 1, dieAt: 4 } }).done;
  assert.deepEqual(out, { status: 'crashed', exitCode: null, signal: 'SIGKILL' });
});

for (const action of ['cancel', 'pause'] as const) {
  test(`${action} stops the job at its next safe point`, async () => {
    let sent = false;
    const job = startJob(
      { module: COUNT, input: { to: 10_000, delayMs: 2 } },
      {
        onProgress: (d) => {
          if ((d as { i: number }).i === 3 && !sent) {
            sent = true;
            job.control(action);
          }
        },
      },
    );
    const out = await job.done;
    assert.equal(out.status, action === 'cancel' ? 'cancelled' : 'paused');
    if (out.status === 'cancelled' || out.status === 'paused') {
      const last = (out.data as { last: number }).last;
      assert.ok(last >= 3 && last < 10_000, `stopped at ${last}`);
    }
  });
}

test('job processes start with the allocator settings, unless the user set their own', async () => {
  const saved = process.env.GLIBC_TUNABLES;
  const seen = async () => {
    const out = await startJob({
      module: COUNT,
      input: { to: 1, delayMs: 1, env: 'GLIBC_TUNABLES' },
    }).done;
    assert.equal(out.status, 'completed');
    return (out as { data: { env: string | null } }).data.env;
  };
  try {
    delete process.env.GLIBC_TUNABLES;
    assert.equal(await seen(), process.platform === 'linux' ? JOB_GLIBC_TUNABLES : null);
    process.env.GLIBC_TUNABLES = 'glibc.malloc.arena_max=2';
    assert.equal(await seen(), 'glibc.malloc.arena_max=2');
  } finally {
    if (saved === undefined) delete process.env.GLIBC_TUNABLES;
    else process.env.GLIBC_TUNABLES = saved;
  }
  assert.deepEqual(allocatorEnv({}, 'darwin'), {});
  assert.deepEqual(allocatorEnv({}, 'linux'), { GLIBC_TUNABLES: JOB_GLIBC_TUNABLES });
});
