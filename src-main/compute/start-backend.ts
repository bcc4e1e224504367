/**
 * The engine's `initBackend` with multi-threaded WASM under Node: processes that train or embed
 * (jobs, the CLI, benchmarks) call this instead of `initBackend` directly. When WASM may be
 * chosen, its threaded build is started first (see wasm-threads.ts); the returned info and its
 * log line then state the threads XNNPACK really runs with.
 */
import { readdirSync } from 'node:fs';
import os from 'node:os';

import {
  initBackend,
  type BackendInfo,
  type BackendName,
  type BackendOptions,
} from '../engine/backend.ts';
import { enableOrtKernels } from './ort-kernels.ts';
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
 * `initBackend(options)`, with `options.threads` (default: every core) also applied to WASM,
 * and WebGPU left untried in the automatic choice where `machineSkips` says so.
 */
export async function startBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const mayUseWasm = options.prefer === undefined || options.prefer === 'wasm';
  const wasm = mayUseWasm ? await enableWasmThreads(options.threads ?? defaultWasmThreads()) : null;
  const info = await initBackend({ skip: machineSkips(), ...options });
  if (info.name !== 'wasm' || wasm === null) return info;

  const threads = wasm.threads;
  const plural = threads === 1 ? '' : 's';
  const ort = onnxRuntimeKernels(options.threads ?? defaultWasmThreads());
  const line =
    info.line.replace(/^backend wasm, \d+ threads?/, `backend wasm, ${threads} thread${plural}`) +
    (wasm.reason ? ` (${wasm.reason})` : '') +
    `; ${ort}`;
  return { ...info, threads, line };
}

/**
 * Puts the WASM backend's heavy kernels on ONNX Runtime (ort-kernels.ts) where it can;
 * returns the phrase for the log line.
 */
function onnxRuntimeKernels(threads: number): string {
  const ort = enableOrtKernels(threads);
  if (!ort.enabled) return `convolutions by XNNPACK (${ort.reason})`;
  return `convolutions and batch norm by ONNX Runtime, ${ort.threads} thread${ort.threads === 1 ? '' : 's'}`;
}
