/**
 * The two ways in: `npm start` where no Electron binary can be had (one line,
 * pointing to the browser mode), and `lejepa-studio serve` with `--host` (a
 * warning) and `--open` (the browser gets the tokened URL, or a sentence says
 * there is none).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { ROOT } from './harness.ts';

const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), `lejepa-shell-${prefix}-`));

function start(env: Record<string, string>) {
  const clean = { ...process.env };
  delete clean.ELECTRON_OVERRIDE_DIST_PATH;
  delete clean.ELECTRON_SKIP_BINARY_DOWNLOAD;
  return spawnSync(process.execPath, ['scripts/start.mjs'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...clean, ...env },
  });
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

test('npm start without an Electron binary says so in one line and offers the browser mode', (t) => {
  if (existsSync(join(ROOT, 'node_modules/electron/path.txt'))) {
    t.skip('an Electron binary is installed here');
    return;
  }
  // The download goes to a closed local port and an empty cache, so it fails at once, offline or not.
  const failed = start({
    ELECTRON_MIRROR: 'http://127.0.0.1:9/',
    electron_config_cache: tmp('cache'),
  });
  assert.equal(failed.status, 1);
  assert.equal(failed.stdout, '');
  assert.equal(lines(failed.stderr).length, 1, failed.stderr);
  assert.match(failed.stderr, /Electron binary is not installed .*npm run studio:web/);

  const skipped = start({ ELECTRON_SKIP_BINARY_DOWNLOAD: '1' });
  assert.equal(skipped.status, 1);
  assert.deepEqual(lines(skipped.stderr), [
    'The Electron binary is not installed and could not be downloaded (ELECTRON_SKIP_BINARY_DOWNLOAD is set); run `npm run studio:web` to use the studio in a browser instead.',
  ]);
});

test('npm start with an empty ELECTRON_OVERRIDE_DIST_PATH names it in one line', () => {
  const dir = tmp('dist');
  const r = start({ ELECTRON_OVERRIDE_DIST_PATH: dir });
  assert.equal(r.status, 1);
  assert.equal(lines(r.stderr).length, 1, r.stderr);
  assert.ok(r.stderr.includes(dir) && r.stderr.includes('npm run studio:web'), r.stderr);
});

/** Starts `serve` with `args`; resolves with everything it printed once the URL is out, then stops it. */
async function serveOutput(args: string[], env: Record<string, string> = {}): Promise<string> {
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/lejepa-studio.mjs'),
      'serve',
      '--workspace',
      tmp('ws'),
      '--port',
      '0',
      ...args,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  let out = '';
  const collect = (chunk: Buffer) => (out += chunk.toString());
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 30_000);
      const check = () => {
        // --open reports after the URL line; give it that moment.
        if (/Open: \S+/.test(out))
          setTimeout(() => {
            clearTimeout(timer);
            resolve();
          }, 500);
        else child.stderr.once('data', check);
      };
      check();
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${out}`)));
    });
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  }
  return out;
}

test('serve binds loopback quietly; --host elsewhere warns before serving', async () => {
  const quiet = await serveOutput([]);
  assert.match(quiet, /Open: http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}/);
  assert.doesNotMatch(quiet, /warning/);

  const wide = await serveOutput(['--host', '0.0.0.0']);
  assert.match(wide, /warning: listening on 0\.0\.0\.0: anyone who can reach this address/);
  assert.ok(wide.indexOf('warning') < wide.indexOf('Open:'), wide);
});

test('serve --open hands the tokened URL to the browser, or says there is none', async () => {
  const bin = tmp('bin');
  const record = join(bin, 'opened.txt');
  writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\necho "$1" > '${record}'\n`);
  chmodSync(join(bin, 'xdg-open'), 0o755);
  const out = await serveOutput(['--open'], { PATH: bin });
  const url = /Open: (\S+)/.exec(out)![1]!;
  for (let i = 0; i < 50 && !existsSync(record); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(readFileSync(record, 'utf8').trim(), url);
  assert.doesNotMatch(out, /No browser/);

  const none = await serveOutput(['--open'], { PATH: tmp('empty') });
  assert.match(none, /No browser was found here; open the URL above by hand\./);
});
