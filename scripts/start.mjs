#!/usr/bin/env node
// `npm start`: builds the renderer and the main-process bundle, then launches
// the desktop app. Electron 42 and later download their binary on first launch,
// not at install, so a missing binary is fetched once here. Where it cannot be
// had (an offline machine), this says so in one line and points to the
// browser mode instead.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const electronDir = join(root, 'node_modules', 'electron');
/** The download gives up after this long (a stalled network must not hang `npm start`). */
const DOWNLOAD_LIMIT_MS = 10 * 60_000;

function electronBinary() {
  if (process.env.ELECTRON_OVERRIDE_DIST_PATH) {
    const dir = process.env.ELECTRON_OVERRIDE_DIST_PATH;
    const name = process.platform === 'win32' ? 'electron.exe' : 'electron';
    return existsSync(join(dir, name)) ? join(dir, name) : undefined;
  }
  const pathFile = join(electronDir, 'path.txt');
  if (!existsSync(pathFile)) return undefined;
  const binary = join(electronDir, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : undefined;
}

/** Runs Electron's own installer once; returns null on success, else why it failed. */
function download() {
  const installer = join(electronDir, 'install.js');
  if (!existsSync(installer)) return 'the electron package is not installed';
  if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) return 'ELECTRON_SKIP_BINARY_DOWNLOAD is set';
  // Say what is happening only when it takes a while (a failure offline is quick).
  const note = setTimeout(
    () => console.error('Downloading the Electron binary (once, on first launch)…'),
    2000,
  );
  const r = spawnSync(process.execPath, [installer], {
    cwd: electronDir,
    encoding: 'utf8',
    timeout: DOWNLOAD_LIMIT_MS,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  clearTimeout(note);
  if (r.status === 0) return null;
  if (r.error) return r.error.code === 'ETIMEDOUT' ? 'the download timed out' : r.error.message;
  const text = `${r.stderr}`;
  if (/fetch failed|ENOTFOUND|ECONNREFUSED|EAI_AGAIN|ETIMEDOUT/.test(text))
    return 'no connection to its download site';
  const first = text.split('\n').find((l) => l.trim() !== '') ?? `exit code ${r.status}`;
  return first.trim().replace(/\.$/, '').slice(0, 160);
}

let binary = electronBinary();
if (binary === undefined && !process.env.ELECTRON_OVERRIDE_DIST_PATH) {
  const why = download();
  binary = why === null ? electronBinary() : undefined;
  if (binary === undefined) {
    console.error(
      `The Electron binary is not installed and could not be downloaded (${why ?? 'no binary after the download'}); run \`npm run studio:web\` to use the studio in a browser instead.`,
    );
    process.exit(1);
  }
}
if (binary === undefined) {
  console.error(
    `No Electron binary in ELECTRON_OVERRIDE_DIST_PATH (${process.env.ELECTRON_OVERRIDE_DIST_PATH}); run \`npm run studio:web\` to use the studio in a browser instead.`,
  );
  process.exit(1);
}
for (const step of [
  ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'warn'],
  ['scripts/build-electron.mjs'],
]) {
  const r = spawnSync(process.execPath, step, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const child = spawn(binary, ['.', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 0));
