/**
 * Multi-threaded XNNPACK for the WASM backend under Node.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build, but never uses it in Node, for three
 * reasons this module works around:
 * 1. its multithreading flag is hard-wired to false when it sees Node: we set it;
 * 2. the Emscripten glue starts its pthreads with `new Worker(url)` where the url is a Blob URL
 *    (and hands each thread the main script as a Blob), which Node's worker_threads refuse:
 *    a small `Worker` subclass swaps the Blob URL for wasm-pthread-worker.mjs and the Blob for
 *    the package's own copy of the same glue file;
 * 3. the C++ side caps the thread count at half the logical cores (it assumes two hardware
 *    threads per core), which gives one thread on a 2-vCPU machine: while the module starts,
 *    os.cpus() reports enough cores for the requested count, then is restored.
 *
 * Call `enableWasmThreads(n)` before the first `initBackend`/`tf.setBackend('wasm')`; it
 * initialises the WASM backend itself. Results are the same as single-threaded XNNPACK up to
 * float summation order (tests/perf/wasm-threads.test.ts).
 */
import os from 'node:os';
import { createRequire } from 'node:module';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';

import * as tf from '@tensorflow/tfjs-core';
import { errorText } from '../engine/error-text.ts';

const require = createRequire(import.meta.url);
const PTHREAD_ENTRY = new URL('./wasm-pthread-worker.mjs', import.meta.url);
const GLUE = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';

export interface WasmThreads {
  /** Threads XNNPACK actually runs with (1 when threading could not be enabled). */
  threads: number;
  /** Why fewer threads than requested run, when that happens. */
  reason?: string;
}

/** Every pthread started, so that they can stop holding the process open once started. */
const pthreads = new Set<PthreadWorker>();
let started = false;

/** Starts pthreads from a file and gives them the glue as a file path instead of Blobs. */
class PthreadWorker extends NodeWorker {
  constructor(file: string | URL, options?: WorkerOptions) {
    const blob = typeof file === 'string' && file.startsWith('blob:');
    super(blob ? PTHREAD_ENTRY : file, options);
    if (blob) pthreads.add(this);
  }

  /**
   * XNNPACK's threads live as long as the process and the glue marks each one referenced,
   * which would keep Node from ever exiting. Work only runs while the main thread waits
   * for it, so once the pool has started the threads need not keep the process alive.
   */
  override ref(): void {
    if (!started || !pthreads.has(this)) super.ref();
  }

  override postMessage(message: unknown, transfer?: readonly Transferable[]): void {
    const m = message as { cmd?: string; urlOrBlob?: unknown } | null;
    if (m && m.cmd === 'load' && typeof m.urlOrBlob !== 'string') {
      message = { ...m, urlOrBlob: require.resolve(GLUE) };
    }
    super.postMessage(message, transfer as never);
  }
}

let installed = false;

/**
 * The glue assigns `global.Worker = worker_threads.Worker` when it starts; the accessor keeps
 * our subclass in place, which passes every non-Blob script straight to Node's Worker, so
 * other users of a global Worker are unaffected.
 */
function installWorker(): void {
  if (installed) return;
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    get: () => PthreadWorker,
    set: () => {},
  });
  installed = true;
}

/**
 * Initialises tfjs's WASM backend with `threads` XNNPACK threads (1 leaves it as shipped) and
 * reports how many it got. Safe to call when WASM threads are unavailable: it then initialises
 * nothing and says why, and the backend starts single-threaded as usual.
 */
export async function enableWasmThreads(threads: number): Promise<WasmThreads> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (tf.engine().registry.wasm !== undefined) {
    return { threads: wasm.getThreadsCount(), reason: 'the WASM backend was already initialised' };
  }
  if (!Number.isInteger(threads) || threads <= 1) return { threads: 1 };
  if (typeof SharedArrayBuffer !== 'function') {
    return { threads: 1, reason: 'this runtime has no SharedArrayBuffer' };
  }

  installWorker();
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  const previous = tf.engine().backendName;
  const cpus = os.cpus;
  os.cpus = () => {
    const real = cpus();
    const wanted = Math.max(real.length, 2 * threads);
    return Array.from({ length: wanted }, (_, i) => real[i % real.length]!);
  };
  let ok = false;
  let failure = '';
  try {
    ok = await tf.setBackend('wasm');
  } catch (err) {
    failure = errorText(err);
  } finally {
    os.cpus = cpus;
  }
  if (previous && previous !== 'wasm') await tf.setBackend(previous);
  if (!ok) {
    // Leave the flag as shipped so that a later initialisation starts the plain SIMD build.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasm.setThreadsCount(-1);
    return { threads: 1, reason: `threaded WASM did not start: ${failure || 'unknown reason'}` };
  }
  started = true;
  for (const w of pthreads) w.unref();
  const got = wasm.getThreadsCount();
  return got < threads
    ? { threads: got, reason: `XNNPACK started ${got} of ${threads} threads` }
    : { threads: got };
}
