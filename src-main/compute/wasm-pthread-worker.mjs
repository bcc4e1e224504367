// Entry of one WASM pthread under Node's worker_threads (see wasm-threads.ts).
// tfjs-backend-wasm ships the Emscripten pthread script as a string meant for a Blob URL, which
// Node's Worker cannot open; this file runs that same script with the CommonJS names it reads.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const {
  wasmWorkerContents,
} = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');
// tfjs escapes the newlines inside the script's string literals the same way before use.
const script = wasmWorkerContents.replace(/\n/g, '\\n');
new Function('require', '__filename', script)(require, fileURLToPath(import.meta.url));
