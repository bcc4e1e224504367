// Entry of the desktop app (bundled to dist/electron/main.cjs by scripts/build-electron.mjs).
import * as electron from 'electron';
// The module object itself (not a named import): its fork is replaced below.
import childProcess from 'node:child_process';
import { join } from 'node:path';

import { startDesktop } from './app.ts';
import { installUtilityFork } from './utility-jobs.ts';

// In the bundle this file sits in dist/electron/, beside the preload and below the renderer build.
const here = __dirname;
// Jobs (training, import, embedding, export) run in Electron utility processes.
installUtilityFork(childProcess, electron.utilityProcess, join(here, 'utility-child.cjs'));
startDesktop(electron, {
  rendererDir: join(here, '..', 'renderer'),
  preload: join(here, 'preload.cjs'),
  ...(process.env.LEJEPA_WORKSPACE ? { workspaceDir: process.env.LEJEPA_WORKSPACE } : {}),
});
