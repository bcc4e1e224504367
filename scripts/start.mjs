#!/usr/bin/env node
// `npm start`: builds the renderer and the main-process bundle, then launches
// the desktop app. Where no Electron binary was downloaded (offline installs),
// it says so in one line and points to the browser mode instead.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function electronBinary() {
  if (process.env.ELECTRON_OVERRIDE_DIST_PATH) {
    const dir = process.env.ELECTRON_OVERRIDE_DIST_PATH;
    const name = process.platform === 'win32' ? 'electron.exe' : 'electron';
    return existsSync(join(dir, name)) ? join(dir, name) : undefined;
  }
  const pkg = join(root, 'node_modules', 'electron');
  const pathFile = join(pkg, 'path.txt');
  if (!existsSync(pathFile)) return undefined;
  const binary = join(pkg, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : undefined;
}

const binary = electronBinary();
if (binary === undefined) {
  console.error(
    'The Electron binary is not installed here (it is downloaded on first install with internet); run `npm run studio:web` to use the studio in a browser instead.',
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
