#!/usr/bin/env node
// `npm run dist [-- electron-builder options]`: builds the renderer and the
// main-process bundle, then packages the app with electron.config.ts.
// Without options it builds the targets of the current platform.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const steps = [
  ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'warn'],
  ['scripts/build-electron.mjs'],
  [
    'node_modules/electron-builder/cli.js',
    '--config',
    'electron.config.ts',
    ...process.argv.slice(2),
  ],
];
for (const step of steps) {
  const r = spawnSync(process.execPath, step, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
