#!/usr/bin/env node
// `npm start`: builds the renderer and the main-process bundle, then launches
// the desktop app. Electron 42 and later download their binary on first launch,
// not at install, so a missing binary is fetched once here. Where it cannot be
// had (an offline machine), this says so in one line and points to the
// browser mode instead.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
/**
 * better-sqlite3 is compiled for Node's ABI (the CLI, `serve` and the tests use
 * it); Electron needs its own build. A copy is rebuilt for this Electron version
 * under node_modules/.electron-native/ once, and the desktop app is pointed at it
 * (LEJEPA_SQLITE_BINDING), so node_modules keeps working under plain Node.
 * Packaged apps do not need this: electron-builder rebuilds their copy.
 * Returns the binding's path, or a sentence saying why there is none.
 */
async function electronSqliteBinding(electronVersion) {
  // Inside node_modules: ignored everywhere, and a fresh install starts it over.
  const dir = join(root, 'node_modules', '.electron-native', electronVersion);
  const pkg = join(dir, 'node_modules', 'better-sqlite3');
  const binding = join(pkg, 'build', 'Release', 'better_sqlite3.node');
  const marker = join(dir, 'built');
  if (existsSync(marker) && existsSync(binding)) return { binding };
  console.error(`Building the SQLite module for Electron ${electronVersion} (once)…`);
  try {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    // Without the Node build: a failed rebuild must not leave a module for the wrong ABI.
    cpSync(join(root, 'node_modules', 'better-sqlite3'), pkg, {
      recursive: true,
      filter: (src) => !src.startsWith(join(root, 'node_modules', 'better-sqlite3', 'build')),
    });
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        name: 'electron-native',
        private: true,
        dependencies: { 'better-sqlite3': '*' },
      }),
    );
    const { rebuild } = await import('@electron/rebuild');
    await rebuild({
      buildPath: dir,
      electronVersion,
      onlyModules: ['better-sqlite3'],
      force: true,
    });
  } catch (err) {
    return {
      why: String(err?.message ?? err)
        .split('\n')[0]
        .slice(0, 160),
    };
  }
  if (!existsSync(binding)) return { why: 'the rebuild wrote no module' };
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return { binding };
}

const electronVersion = JSON.parse(readFileSync(join(electronDir, 'package.json'), 'utf8')).version;
const sqlite = await electronSqliteBinding(electronVersion);
if (sqlite.binding === undefined) {
  console.error(
    `The SQLite module could not be built for Electron ${electronVersion} (${sqlite.why}); run \`npm run studio:web\` to use the studio in a browser instead.`,
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
const child = spawn(binary, ['.', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, LEJEPA_SQLITE_BINDING: sqlite.binding },
});
child.on('exit', (code) => process.exit(code ?? 0));
