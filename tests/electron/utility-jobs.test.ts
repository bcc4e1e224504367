import assert from 'node:assert/strict';
import childProcess from 'node:child_process';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';

import {
  bridgeParentPort,
  installUtilityFork,
  UtilityChild,
  type UtilityForkApi,
  type UtilityProcessLike,
} from '../../src-main/electron/utility-jobs.ts';

/** Electron's UtilityProcess, reduced to what the adapter uses, recording what it is sent. */
class FakeUtility extends EventEmitter implements UtilityProcessLike {
  pid = 4242;
  posted: unknown[] = [];
  killed = false;
  postMessage(message: unknown) {
    this.posted.push(message);
  }
  kill() {
    this.killed = true;
    setImmediate(() => this.emit('exit', 0));
    return true;
  }
}

function fakeApi() {
  const started: { modulePath: string; args: string[]; options: Record<string, unknown> }[] = [];
  const procs: FakeUtility[] = [];
  const api: UtilityForkApi = {
    fork(modulePath, args, options) {
      started.push({ modulePath, args, options });
      const p = new FakeUtility();
      procs.push(p);
      return p;
    },
  };
  return { api, started, procs };
}

test('fork starts the bootstrap in a utility process with the job module, env and execArgv', () => {
  const { api, started } = fakeApi();
  const target = { fork: childProcess.fork as unknown };
  const restore = installUtilityFork(target, api, '/app/dist/electron/utility-child.cjs');
  const fork = target.fork as typeof childProcess.fork;
  const child = fork(new URL('file:///app/src-main/jobs/child.ts'), ['x'], {
    env: { A: '1' },
    execArgv: ['--import', 'tsx'],
  }) as unknown as UtilityChild;
  assert.ok(child instanceof UtilityChild);
  assert.equal(child.pid, 4242);
  assert.deepEqual(started, [
    {
      modulePath: '/app/dist/electron/utility-child.cjs',
      args: ['/app/src-main/jobs/child.ts', 'x'],
      options: {
        env: { A: '1' },
        execArgv: ['--import', 'tsx'],
        stdio: 'inherit',
        serviceName: 'LeJEPA Studio job',
      },
    },
  ]);
  restore();
  assert.equal(target.fork, childProcess.fork);
});

test('the host side behaves like a ChildProcess: messages, disconnect, kill and exit', async () => {
  const proc = new FakeUtility();
  const child = new UtilityChild(proc);
  const got: unknown[] = [];
  child.on('message', (m) => got.push(m));
  proc.emit('message', { type: 'ready' });
  assert.deepEqual(got, [{ type: 'ready' }]);
  assert.equal(child.send({ type: 'start' }), true);
  child.disconnect();
  assert.equal(child.connected, false);
  assert.equal(child.send({ type: 'late' }), false);
  assert.equal(proc.posted.length, 2);
  const exited = new Promise<[number | null, string | null]>((resolve) =>
    child.once('exit', (code, signal) => resolve([code, signal])),
  );
  child.kill('SIGKILL');
  assert.deepEqual(await exited, [null, 'SIGKILL']);
  assert.equal(child.signalCode, 'SIGKILL');

  // A job that ends by itself reports its exit code, like fork.
  const proc2 = new FakeUtility();
  const third = new UtilityChild(proc2);
  const thirdCode = new Promise((resolve) => third.once('exit', (c, s) => resolve([c, s])));
  proc2.emit('exit', 3);
  assert.deepEqual(await thirdCode, [3, null]);
  assert.equal(third.exitCode, 3);
});

test('inside the utility process, the bridge gives the job process.send, message and disconnect', () => {
  const proc = new EventEmitter() as unknown as NodeJS.Process;
  const port = Object.assign(new EventEmitter(), {
    sent: [] as unknown[],
    postMessage(m: unknown) {
      this.sent.push(m);
    },
  });
  bridgeParentPort(proc, port as never);
  assert.equal(proc.connected, true);
  let acked = false;
  proc.send!({ type: 'progress' }, undefined, {}, () => (acked = true));
  assert.deepEqual(port.sent, [{ type: 'progress' }]);
  assert.ok(acked);
  const received: unknown[] = [];
  proc.on('message', (m) => received.push(m));
  port.emit('message', { data: { type: 'start' } });
  assert.deepEqual(received, [{ type: 'start' }]);
  let disconnected = false;
  proc.on('disconnect', () => (disconnected = true));
  // The host's disconnect arrives as a marker message and becomes the event the job listens to.
  const host = new FakeUtility();
  new UtilityChild(host).disconnect();
  port.emit('message', { data: host.posted[0] });
  assert.ok(disconnected);
  assert.equal(proc.connected, false);
  assert.equal(proc.send!({ type: 'late' }), false);
});
