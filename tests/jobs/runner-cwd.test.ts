import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { startJob } from '../../src-main/jobs/runner.ts';

const COUNT = new URL('./fixtures/count-job.ts', import.meta.url);

// This file runs in its own process, so changing the directory affects no other test.
test('a job starts when the studio runs from a folder outside the repository', async () => {
  const elsewhere = mkdtempSync(join(tmpdir(), 'lejepa-cwd-'));
  const before = process.cwd();
  process.chdir(elsewhere);
  try {
    const job = startJob({ module: COUNT, input: { to: 2, delayMs: 1 } });
    const out = await job.done;
    assert.deepEqual(out, { status: 'completed', data: { last: 2, pid: job.pid } });
  } finally {
    process.chdir(before);
  }
});
