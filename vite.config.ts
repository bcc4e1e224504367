// Builds the renderer (src-renderer/) into dist/renderer, served by `lejepa-studio serve`
// and loaded by the desktop app. Relative asset paths work under both.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./src-renderer', import.meta.url)),
  base: './',
  plugins: [svelte()],
  build: {
    outDir: fileURLToPath(new URL('./dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // One inline-free build: the CSP forbids inline scripts and styles.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      // The app, and a page that measures the embedding scatter (scripts/bench-scatter).
      input: {
        main: fileURLToPath(new URL('./src-renderer/index.html', import.meta.url)),
        scatter: fileURLToPath(new URL('./src-renderer/bench/scatter.html', import.meta.url)),
      },
    },
  },
});
