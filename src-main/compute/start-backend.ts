/**
 * The engine's `initBackend` with the WASM backend's threads under Node: processes that train
 * or embed (jobs, the CLI, benchmarks) call this instead of `initBackend` directly. When WASM
 * may be chosen, either ONNX Runtime takes its heavy kernels (ort-kernels.ts) or its threaded
 * build is started first (wasm-threads.ts); the returned info and its log line state the
 * threads each really runs with.
 */
import { readdirSync } from 'node:fs';
import os from 'node:os';

import {
  initBackend,
  type BackendInfo,
  type BackendName,
  type BackendOptions,
} from '../engine/backend.ts';
import { enableOrtKernels, whyUnavailable } from './ort-kernels.ts';
import { enableWasmThreads } from './wasm-threads.ts';

/** XNNPACK's pool in tfjs-backend-wasm 4.22 holds at most 8 threads. */
export const MAX_WASM_THREADS = 8;

/** One thread per logical core, within XNNPACK's limit. */
export function defaultWasmThreads(): number {
  const cores =
    typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(MAX_WASM_THREADS, cores));
}

/**
 * Backends not worth probing on this machine: on Linux without a GPU render node
 * (`/dev/dri/renderD*`), Dawn finds only a software adapter, which the automatic choice skips,
 * and loading it prints Vulkan warnings to the terminal. `--backend webgpu` still tries it.
 */
export function machineSkips(devDri = '/dev/dri'): Partial<Record<BackendName, string>> {
  if (process.platform !== 'linux') return {};
  let nodes: string[] = [];
  try {
    nodes = readdirSync(devDri).filter((n) => n.startsWith('renderD'));
  } catch {
    // No such folder: no GPU driver exposes a device here.
  }
  if (nodes.length > 0) return {};
  return {
    webgpu: `not tried: no GPU render node in ${devDri} (\`--backend webgpu\` still tries a software adapter)`,
  };
}

/**
 * `initBackend(options)`, with `options.threads` (default: every core) given to the kernels
 * that do the arithmetic, and WebGPU left untried in the automatic choice where
 * `machineSkips` says so.
 *
 * Where ONNX Runtime runs the WASM backend's heavy kernels (ort-kernels.ts), it gets the
 * threads and WASM stays single-threaded: what is left on WASM (element-wise kernels, small
 * products) runs on one thread either way, and ordinary WASM memory lets ONNX Runtime read and
 * write tensors in place, where the shared memory of threaded WASM costs two copies per call.
 * Otherwise XNNPACK gets the threads.
 */
export async function startBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const mayUseWasm = options.prefer === undefined || options.prefer === 'wasm';
  const wanted = options.threads ?? defaultWasmThreads();
  const ortFirst = mayUseWasm && whyUnavailable() === null;
  const wasm = mayUseWasm ? await enableWasmThreads(ortFirst ? 1 : wanted) : null;
  const info = await initBackend({ skip: machineSkips(), ...options });
  if (info.name !== 'wasm' || wasm === null) return info;

  const plural = (n: number) => (n === 1 ? '' : 's');
  const ort = enableOrtKernels(wanted);
  const head = `backend wasm, ${wasm.threads} thread${plural(wasm.threads)}`;
  const line =
    info.line.replace(/^backend wasm, \d+ threads?/, head) +
    (wasm.reason ? ` (${wasm.reason})` : '') +
    (ort.enabled
      ? `; convolutions, products, batch norm and transcendental functions by ONNX Runtime, ${ort.threads} thread${plural(ort.threads)}`
      : `; convolutions by XNNPACK (${ort.reason})`);
  return { ...info, threads: ort.enabled ? ort.threads : wasm.threads, line };
}
