/**
 * Ctrl-C to `lejepa-studio serve` while a run it started trains: the server
 * pauses the run with a checkpoint, records it, then closes the catalog.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';

import { openCatalog } from '../../src-main/catalog/db.ts';
import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import {
  BIN,
  importAndFreeze,
  REPO,
  tempDir,
  TINY_RUN,
  until,
  writeTinyFolder,
} from '../reliability/helpers.ts';

function post(url: URL, method: string, input: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: Number(url.port),
        path: '/api/call',
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'x-studio-token': url.searchParams.get('token')!,
        },
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

test('Ctrl-C to `serve` pauses its training run with a recorded checkpoint, then stops', async () => {
  const dir = tempDir('serve-stop');
  const ws0 = openWorkspace(dir);
  const version = await importAndFreeze(ws0, await writeTinyFolder({ train: 12, test: 2 }));
  ws0.close();
  const server = spawn(process.execPath, [BIN, 'serve', '--workspace', dir, '--port', '0'], {
    cwd: REPO,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  server.stdout.on('data', (d: Buffer) => (output += d.toString()));
  server.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => server.on('close', (c) => resolve(c)));
  try {
    const url = new URL(
      await until(() => /Open: (http:\/\/\S+)/.exec(output)?.[1], 60_000, 'the server URL', 50),
    );
    const started = JSON.parse(
      await post(url, 'run.start', {
        datasetVersionId: version,
        preset: 'quick',
        config: { ...TINY_RUN, epochs: 40, checkpointEvery: 1000 },
      }),
    ) as { ok: boolean };
    assert.ok(started.ok, JSON.stringify(started));
    await until(
      () => {
        const db = openCatalog(join(dir, 'catalog.sqlite'), { readonly: true });
        try {
          const row = db.prepare('SELECT step FROM runs WHERE id = 1').get() as { step: number };
          return row.step >= 2 ? true : undefined;
        } finally {
          db.close();
        }
      },
      120_000,
      'the served run to train',
      50,
    );
    // A terminal's Ctrl-C: the whole process group, server and job alike.
    process.kill(-server.pid!, 'SIGINT');
    // Bounded: a server that leaves its job training would never exit.
    const code = await Promise.race([
      exited,
      new Promise((r) => setTimeout(() => r('still running'), 90_000).unref()),
    ]);
    assert.equal(code, 0, output);
    assert.doesNotMatch(output, /TypeError|database connection is not open/);
    assert.match(output, /Paused run 1 with a checkpoint/);

    const ws = openWorkspace(dir, { readonly: true });
    try {
      const run = ws.db.prepare('SELECT status, step FROM runs WHERE id = 1').get() as {
        status: string;
        step: number;
      };
      assert.equal(run.status, 'paused');
      const recorded = ws.db
        .prepare('SELECT step, reason, path FROM run_checkpoints WHERE run_id = 1 ORDER BY step')
        .all() as { step: number; reason: string; path: string }[];
      assert.deepEqual(
        recorded.map((c) => [c.step, c.reason]),
        [[run.step, 'pause']],
      );
      assert.ok(existsSync(recorded[0]!.path));
      const onDisk = readdirSync(ws.path('runs', '1')).filter((n) => n.endsWith('.ljck'));
      assert.equal(onDisk.length, 1, onDisk.join(', '));
    } finally {
      ws.close();
    }
  } finally {
    if (server.exitCode === null && server.signalCode === null)
      process.kill(-server.pid!, 'SIGKILL');
  }
});
