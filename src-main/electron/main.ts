// Entry of the desktop app (bundled to dist/electron/main.cjs by scripts/build-electron.mjs).
import * as electron from 'electron';
import { join } from 'node:path';

import { startDesktop } from './app.ts';

// In the bundle this file sits in dist/electron/, beside the preload and below the renderer build.
const here = __dirname;
startDesktop(electron, {
  rendererDir: join(here, '..', 'renderer'),
  preload: join(here, 'preload.cjs'),
  ...(process.env.LEJEPA_WORKSPACE ? { workspaceDir: process.env.LEJEPA_WORKSPACE } : {}),
});
