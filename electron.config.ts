/**
 * Packaging of the desktop app with electron-builder (`npm run dist`).
 *
 * - Linux: AppImage, deb, tar.gz; macOS: dmg; Windows: nsis installer.
 * - Native modules (better-sqlite3, sharp with its libvips, onnxruntime-node)
 *   are unpacked from the app archive: a `.node` file cannot be loaded from
 *   inside an asar. They are rebuilt for Electron's ABI when the package is
 *   built (`npmRebuild`), which needs Electron's headers, so a network or a
 *   local header cache on the build machine.
 * - The WASM backend's `.wasm` files are unpacked too: TensorFlow.js reads
 *   them with a file path, which an archive does not have.
 * - Job processes run the TypeScript sources through tsx, so `src-main/` ships
 *   as plain files beside the bundle.
 *
 * Environment: `ELECTRON_DIST` points at a local Electron folder instead of a
 * download (offline builds); `LEJEPA_DIST_NO_REBUILD=1` skips the native
 * rebuild (only for checking the packaging itself: such a package cannot load
 * its native modules under Electron).
 */
import type { Configuration } from 'electron-builder';
import { readFileSync } from 'node:fs';

const electronVersion = (
  JSON.parse(
    readFileSync(new URL('./node_modules/electron/package.json', import.meta.url), 'utf8'),
  ) as {
    version: string;
  }
).version;

const config: Configuration = {
  appId: 'org.lejepa.studio',
  productName: 'LeJEPA Studio',
  executableName: 'lejepa-studio',
  copyright: 'LeJEPA Studio contributors',
  electronVersion,
  ...(process.env.ELECTRON_DIST ? { electronDist: process.env.ELECTRON_DIST } : {}),
  npmRebuild: process.env.LEJEPA_DIST_NO_REBUILD !== '1',
  directories: { output: 'out/dist', buildResources: 'resources/build' },
  extraMetadata: { main: 'dist/electron/main.cjs' },
  files: [
    'package.json',
    'dist/electron/**',
    'dist/renderer/**',
    'src-main/**/*.ts',
    'resources/presets/**',
    '!**/*.map',
    '!**/*.{md,markdown}',
    '!**/{test,tests,__tests__}/**',
  ],
  extraResources: [{ from: 'resources/sample', to: 'sample', filter: ['**/*'] }],
  asar: true,
  asarUnpack: [
    'src-main/**',
    '**/node_modules/better-sqlite3/**',
    '**/node_modules/sharp/**',
    '**/node_modules/@img/**',
    '**/node_modules/onnxruntime-node/**',
    '**/node_modules/@tensorflow/tfjs-backend-wasm/**/*.wasm',
    '**/*.node',
  ],
  linux: {
    target: ['AppImage', 'deb', 'tar.gz'],
    category: 'Science',
    maintainer: 'LeJEPA Studio contributors <studio@lejepa.invalid>',
  },
  deb: { depends: ['libgtk-3-0', 'libnss3', 'libxss1', 'libasound2'] },
  mac: { target: ['dmg'], category: 'public.app-category.developer-tools' },
  win: { target: ['nsis'] },
  nsis: { oneClick: false, allowToChangeInstallationDirectory: true },
  publish: null,
};

export default config;
