#!/usr/bin/env node
// Bundles the desktop app's main process and preload (TypeScript) into
// dist/electron/{main,preload}.cjs with esbuild. Native modules and the
// TensorFlow.js packages stay outside the bundle: they are loaded from
// node_modules (unpacked from the app archive, rebuilt for Electron at install).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const external = [
  'electron',
  'better-sqlite3',
  'sharp',
  'onnxruntime-node',
  '@tensorflow/*',
  'webgpu',
  'tsx',
  'bufferutil',
  'utf-8-validate',
];

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external,
  logLevel: 'warning',
  // Sources use import.meta.url; in a CommonJS bundle it becomes this file's URL.
  // dist/electron/ is two folders below the package root, like src-main/<area>/.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
};

await build({
  ...common,
  entryPoints: ['src-main/electron/main.ts'],
  outfile: 'dist/electron/main.cjs',
});
await build({
  ...common,
  entryPoints: ['src-main/electron/preload.ts'],
  outfile: 'dist/electron/preload.cjs',
  // The sandboxed preload may require only 'electron'; everything else is inlined.
  external: ['electron'],
  define: {},
  banner: {},
});
await build({
  ...common,
  entryPoints: ['src-main/electron/utility-child.ts'],
  outfile: 'dist/electron/utility-child.cjs',
});
console.error('built dist/electron/{main,preload,utility-child}.cjs');
