/**
 * Chooses the TensorFlow.js compute backend (DESIGN.md §3): native TensorFlow with CUDA, native
 * TensorFlow on the CPU, WebGPU through Dawn, WASM (XNNPACK), then the plain JavaScript CPU
 * backend. The native packages are optional dependencies whose install needs the internet, so
 * each candidate is tried and, when it does not load, skipped with a one-line reason.
 */
import * as tf from '@tensorflow/tfjs-core';
import './kernels/gradients.ts';
import { registerWasmKernels } from './kernels/wasm-kernels.ts';
import { benchBackend } from './kernels/probe.ts';
import { firstLine } from './error-text.ts';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export const BACKEND_ORDER: readonly BackendName[] = [
  'tensorflow-gpu',
  'tensorflow',
  'webgpu',
  'wasm',
  'cpu',
];

export interface BackendInfo {
  name: BackendName;
  threads: number;
  skipped: { name: BackendName; reason: string }[];
  /** The one log line: which backend, how many threads, why the others were skipped. */
  line: string;
}

export interface BackendOptions {
  /** Use this backend or fail with its reason. */
  prefer?: BackendName;
  /** Threads for the native TensorFlow backends (the others use one JavaScript thread). */
  threads?: number;
  /**
   * Backends the automatic choice leaves untried, each with the reason shown in the log line.
   * The caller knows the machine (the engine reads no files): a WebGPU probe on a machine
   * without a GPU device loads Dawn, whose native warnings reach the terminal, only to find a
   * software adapter that is skipped anyway. Ignored for `prefer`.
   */
  skip?: Partial<Record<BackendName, string>>;
}

/** The name each backend registers with tf.registerBackend. */
const TF_NAME: Record<BackendName, string> = {
  'tensorflow-gpu': 'tensorflow',
  tensorflow: 'tensorflow',
  webgpu: 'webgpu',
  wasm: 'wasm',
  cpu: 'cpu',
};

interface Loaded {
  ok: boolean;
  reason?: string;
  /** A software rasteriser or similar: works, but slower than WASM. */
  slow?: string;
}

const loaded = new Map<BackendName, Promise<Loaded>>();
let requestedThreads: number | undefined;

/**
 * Initialises a backend and makes it current. With `prefer`, only that one is tried (an error
 * names why it cannot be used); otherwise the first that loads in BACKEND_ORDER, except that
 * WebGPU on a software adapter is skipped and WebGPU on real hardware must beat WASM on a
 * short measured workload.
 */
export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const skipped: { name: BackendName; reason: string }[] = [];
  requestedThreads = options.threads;
  // Production mode: no debug assertions, and no console banners from tfjs (the studio says
  // which backend it uses in its own log line).
  tf.enableProdMode();
  const candidates = options.prefer ? [options.prefer] : BACKEND_ORDER;
  if (options.prefer && !BACKEND_ORDER.includes(options.prefer)) {
    throw new RangeError(
      `unknown backend "${String(options.prefer)}": use one of ${BACKEND_ORDER.join(', ')}`,
    );
  }

  let chosen: BackendName | null = null;
  for (const name of candidates) {
    const untried = options.prefer ? undefined : options.skip?.[name];
    if (untried !== undefined) {
      skipped.push({ name, reason: untried });
      continue;
    }
    const status = await load(name);
    if (!status.ok) {
      skipped.push({ name, reason: status.reason ?? 'did not load' });
      continue;
    }
    if (!options.prefer && name === 'webgpu') {
      if (status.slow) {
        skipped.push({ name, reason: `${status.slow}; slower than wasm` });
        continue;
      }
      const verdict = await webgpuBeatsWasm();
      if (verdict) {
        skipped.push({ name, reason: verdict });
        continue;
      }
    }
    chosen = name;
    break;
  }
  if (chosen === null) {
    const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
    throw new Error(`no TensorFlow.js backend could be initialised (${why})`);
  }

  await activate(chosen);
  const threads = await threadsOf(chosen, options.threads);
  for (const name of BACKEND_ORDER.slice(BACKEND_ORDER.indexOf(chosen) + 1)) {
    if (!options.prefer) skipped.push({ name, reason: `lower in the order than ${chosen}` });
  }
  const why = skipped.length
    ? `; skipped ${skipped.map((s) => `${s.name} (${s.reason})`).join(', ')}`
    : '';
  const line = `backend ${chosen}, ${threads} thread${threads === 1 ? '' : 's'}${options.prefer ? ' (forced)' : ''}${why}`;
  return { name: chosen, threads, skipped, line };
}

/**
 * What this machine offers: every backend in order, with the reason when it does not load.
 * Those in `skip` are not loaded; they are listed unavailable with the reason given.
 */
export async function listBackends(
  skip: Partial<Record<BackendName, string>> = {},
): Promise<{ name: BackendName; available: boolean; reason?: string }[]> {
  const previous = tf.getBackend();
  const out: { name: BackendName; available: boolean; reason?: string }[] = [];
  for (const name of BACKEND_ORDER) {
    const untried = skip[name];
    if (untried !== undefined) {
      out.push({ name, available: false, reason: untried });
      continue;
    }
    const status = await load(name);
    const reason = status.ok ? status.slow : status.reason;
    out.push(
      reason === undefined
        ? { name, available: status.ok }
        : { name, available: status.ok, reason },
    );
  }
  if (previous) await tf.setBackend(previous);
  return out;
}

async function activate(name: BackendName): Promise<void> {
  const ok = await tf.setBackend(TF_NAME[name]);
  if (!ok) throw new Error(`backend ${name} loaded but failed to initialise`);
  await tf.ready();
}

function load(name: BackendName): Promise<Loaded> {
  let p = loaded.get(name);
  if (!p) {
    p = loadOnce(name).catch((err: unknown) => ({ ok: false, reason: oneLine(err) }));
    loaded.set(name, p);
  }
  return p;
}

async function loadOnce(name: BackendName): Promise<Loaded> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      // Both register the same backend name; the other one must not be already registered.
      const other = name === 'tensorflow-gpu' ? 'tensorflow' : 'tensorflow-gpu';
      const otherLoaded = await loaded.get(other);
      if (otherLoaded?.ok)
        return { ok: false, reason: `${other} already provides the native backend` };
      // libtensorflow reads its thread counts from the environment when it loads.
      const env = processEnv();
      if (env && requestedThreads !== undefined) {
        env.TF_NUM_INTRAOP_THREADS ??= String(requestedThreads);
        env.TF_NUM_INTEROP_THREADS ??= '1';
      }
      const missing = await importOptional(pkg);
      if (missing) return { ok: false, reason: missing };
      return initialises(name);
    }
    case 'webgpu': {
      const problem = await installWebgpu();
      if (problem.reason) return { ok: false, reason: problem.reason };
      const status = await initialises(name);
      return problem.slow && status.ok ? { ok: true, slow: problem.slow } : status;
    }
    case 'wasm': {
      await import('@tensorflow/tfjs-backend-wasm');
      registerWasmKernels();
      return initialises(name);
    }
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return initialises(name);
  }
}

async function initialises(name: BackendName): Promise<Loaded> {
  const previous = tf.getBackend();
  try {
    const ok = await tf.setBackend(TF_NAME[name]);
    return ok ? { ok: true } : { ok: false, reason: 'failed to initialise' };
  } finally {
    if (previous && previous !== TF_NAME[name]) await tf.setBackend(previous);
  }
}

/** Imports an optional package; returns a one-line reason when it cannot be had. */
async function importOptional(pkg: string): Promise<string | null> {
  try {
    await import(/* optional */ pkg);
    return null;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      if (String((err as Error).message).includes(pkg)) {
        return `${pkg} not installed (optional; its install downloads libtensorflow)`;
      }
    }
    return `${pkg} failed to load: ${oneLine(err)}`;
  }
}

/**
 * Makes WebGPU reachable for tfjs in Node: Dawn's `webgpu` package provides `navigator.gpu`,
 * which must exist before tfjs-backend-webgpu is imported. Dawn is asked for a full-featured
 * adapter first and then for a 'compatibility' one on OpenGL (Mesa's llvmpipe on machines
 * without a GPU), which tfjs accepts for the ops the engine uses.
 */
async function installWebgpu(): Promise<{ reason?: string; slow?: string }> {
  const env = processEnv();
  if (env && env.EGL_PLATFORM === undefined) env.EGL_PLATFORM = 'surfaceless';

  let dawn: { create(options: string[]): GPU; globals: object };
  try {
    dawn = (await import(/* optional */ 'webgpu')) as typeof dawn;
  } catch (err) {
    return { reason: `the webgpu package (Dawn) did not load: ${oneLine(err)}` };
  }
  Object.assign(globalThis, dawn.globals);

  const tries: { options: string[]; level?: string }[] = [
    { options: [] },
    { options: [], level: 'compatibility' },
    { options: ['backend=opengl'], level: 'compatibility' },
  ];
  for (const attempt of tries) {
    const gpu = dawn.create(attempt.options);
    const request = (o?: GPURequestAdapterOptions) =>
      gpu.requestAdapter({ ...o, ...(attempt.level ? { featureLevel: attempt.level } : {}) });
    const adapter = await request({ powerPreference: 'high-performance' });
    if (!adapter) continue;
    const shim = {
      requestAdapter: request,
      getPreferredCanvasFormat: () => 'rgba8unorm',
      wgslLanguageFeatures: gpu.wgslLanguageFeatures,
    };
    Object.defineProperty(globalThis, 'navigator', {
      value: { ...(globalThis.navigator ?? {}), gpu: shim },
      configurable: true,
      writable: true,
    });
    await import('@tensorflow/tfjs-backend-webgpu');
    const info = adapter.info as GPUAdapterInfo | undefined;
    const described = [info?.vendor, info?.architecture, info?.device, info?.description]
      .filter((s) => s)
      .join(' ');
    const software =
      /llvmpipe|lavapipe|swiftshader|softpipe|software/i.test(described) ||
      attempt.options.includes('backend=opengl') ||
      (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
    const rasteriser = /llvmpipe|lavapipe|swiftshader|softpipe/i.exec(described)?.[0];
    return software ? { slow: `software adapter (${rasteriser ?? 'OpenGL compatibility'})` } : {};
  }
  return { reason: 'no WebGPU adapter (no GPU driver that Dawn can use)' };
}

/** Null when WebGPU is faster than WASM on a short probe; else the reason to skip it. */
async function webgpuBeatsWasm(): Promise<string | null> {
  const wasm = await load('wasm');
  if (!wasm.ok) return null;
  await activate('webgpu');
  const gpuMs = await benchBackend();
  await activate('wasm');
  const wasmMs = await benchBackend();
  return gpuMs < wasmMs
    ? null
    : `measured slower than wasm (${gpuMs.toFixed(0)} vs ${wasmMs.toFixed(0)} ms on a probe step)`;
}

async function threadsOf(name: BackendName, requested?: number): Promise<number> {
  if (name === 'tensorflow' || name === 'tensorflow-gpu') {
    const nav = globalThis.navigator as { hardwareConcurrency?: number } | undefined;
    return requested ?? nav?.hardwareConcurrency ?? 1;
  }
  if (name === 'wasm') {
    // tfjs 4.22 runs WASM single-threaded under Node unless its threaded build was started
    // before the backend (the job runner can do that); the backend knows what it got.
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    return Math.max(1, wasm.getThreadsCount());
  }
  // webgpu and cpu drive one JavaScript thread.
  return 1;
}

/** Node's environment when there is one (the engine also runs where `process` does not exist). */
function processEnv(): Record<string, string | undefined> | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
}

function oneLine(err: unknown): string {
  return firstLine(err, 200);
}
