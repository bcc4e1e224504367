import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import { createStudioHost } from '../../src-main/transports/studio-host.ts';

const host = () => createStudioHost(openWorkspace(mkdtempSync(join(tmpdir(), 'lejepa-host-'))));

test('a call with a request id can be cancelled while it runs, and only then', async () => {
  const h = host();
  const running = h.call('studio.backends', {}, 'probe-1');
  assert.equal(h.inFlight(), 1);
  // A second call may not reuse the id of one still running.
  const clash = await h.call('studio.info', {}, 'probe-1');
  assert.equal(clash.ok, false);
  assert.equal(clash.ok === false && clash.error.code, 'invalid_request');
  assert.equal(h.cancel('probe-1'), true);
  await running;
  assert.equal(h.inFlight(), 0);
  assert.equal(h.cancel('probe-1'), false);
  assert.equal(h.cancel(42), false);
  h.close();
});

test('malformed request ids are refused with a sentence', async () => {
  const h = host();
  for (const id of ['', 'a'.repeat(65), '../x', 'a b', 7, {}]) {
    const reply = await h.call('studio.info', {}, id);
    assert.equal(reply.ok, false, JSON.stringify(id));
    assert.match(reply.ok === false ? reply.error.message : '', /request id/);
  }
  h.close();
});

test('events reach every listener, malformed ones reach none, and closing refuses new calls', async () => {
  const h = host();
  const seen: string[] = [];
  const stop = h.onEvent((e) => seen.push(`a:${e.type}`));
  h.onEvent((e) => seen.push(`b:${e.type}`));
  h.emit({ type: 'run.status', runId: 1, status: 'running' });
  h.emit({ type: 'run.status', runId: 'x', status: 3 } as never);
  stop();
  h.emit({ type: 'job.progress', jobId: 'j', kind: 'embed', done: 1, total: 2 });
  assert.deepEqual(seen, ['a:run.status', 'b:run.status', 'b:job.progress']);
  h.close();
  const reply = await h.call('studio.info', {});
  assert.equal(reply.ok === false && reply.error.code, 'closing');
});
