/**
 * Jobs in Electron's utilityProcess. The job runner and the importer start
 * their workers with `child_process.fork`; in the desktop app that fork is
 * replaced (installUtilityFork) by one that starts a utility process instead, so
 * heavy work runs in a process Electron manages (crash reporting, no extra
 * Node binary), and a crash never takes the window down.
 *
 * Both sides keep the fork API their code already uses: the host gets a
 * ChildProcess-like object (`send`, `connected`, `kill`, `disconnect`,
 * `message`/`exit`/`error` events), and inside the utility process
 * `bridgeParentPort` gives `process.send`, `process.connected`, `message` and
 * `disconnect` on top of Electron's `process.parentPort`.
 */
import { EventEmitter } from 'node:events';
import { syncBuiltinESMExports } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The part of Electron's UtilityProcess used here. */
export interface UtilityProcessLike {
  pid: number | undefined;
  postMessage(message: unknown): void;
  kill(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  on(event: 'error', listener: (type: string, location: string) => void): unknown;
}

export interface UtilityForkApi {
  fork(
    modulePath: string,
    args: string[],
    options: {
      env?: NodeJS.ProcessEnv;
      execArgv?: string[];
      stdio?: 'inherit';
      serviceName?: string;
    },
  ): UtilityProcessLike;
}

/** Sent by the host to say "disconnect"; the bridge turns it into a `disconnect` event. */
const DISCONNECT = '__lejepa_studio_disconnect__';

/** A utility process dressed as the ChildProcess that fork() would have returned. */
export class UtilityChild extends EventEmitter {
  connected = true;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly #proc: UtilityProcessLike;
  #killedWith: NodeJS.Signals | null = null;

  constructor(proc: UtilityProcessLike) {
    super();
    this.#proc = proc;
    proc.on('message', (message) => this.emit('message', message));
    proc.on('error', (type, location) =>
      this.emit('error', new Error(`The job process failed (${type} at ${location}).`)),
    );
    proc.on('exit', (code) => {
      this.connected = false;
      // A utility process reports only a code; a kill we asked for is reported as its signal.
      if (this.#killedWith !== null) this.signalCode = this.#killedWith;
      else this.exitCode = code;
      this.emit('exit', this.exitCode, this.signalCode);
    });
  }

  get pid(): number | undefined {
    return this.#proc.pid;
  }

  send(message: unknown): boolean {
    if (!this.connected) return false;
    this.#proc.postMessage(message);
    return true;
  }

  disconnect(): void {
    if (!this.connected) return;
    this.#proc.postMessage(DISCONNECT);
    this.connected = false;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.#killedWith = signal;
    return this.#proc.kill();
  }
}

/**
 * Replaces `fork` on the `child_process` module object with one that starts
 * `bootstrap` (the bundled utility-child) in a utility process, which then loads
 * the requested module. Returns a function that puts the original back.
 */
export function installUtilityFork(
  childProcess: { fork: unknown },
  utility: UtilityForkApi,
  bootstrap: string,
): () => void {
  const original = childProcess.fork;
  childProcess.fork = (
    modulePath: string | URL,
    args: readonly string[] = [],
    options: { env?: NodeJS.ProcessEnv; execArgv?: string[] } = {},
  ) => {
    const path = modulePath instanceof URL ? fileURLToPath(modulePath) : String(modulePath);
    const proc = utility.fork(bootstrap, [path, ...args], {
      ...(options.env ? { env: options.env } : {}),
      ...(options.execArgv ? { execArgv: options.execArgv } : {}),
      stdio: 'inherit',
      serviceName: 'LeJEPA Studio job',
    });
    return new UtilityChild(proc);
  };
  // ES modules that imported `fork` by name see the replacement too.
  syncBuiltinESMExports();
  return () => {
    childProcess.fork = original;
    syncBuiltinESMExports();
  };
}

export interface ParentPortLike {
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
  postMessage(message: unknown): void;
}

/** Inside the utility process: the fork-style `process` API over `process.parentPort`. */
export function bridgeParentPort(proc: NodeJS.Process, port: ParentPortLike): void {
  let connected = true;
  Object.defineProperty(proc, 'connected', { get: () => connected, configurable: true });
  proc.send = ((message: unknown, ...rest: unknown[]) => {
    if (!connected) return false;
    port.postMessage(message);
    const callback = rest.find((r) => typeof r === 'function') as ((e: null) => void) | undefined;
    callback?.(null);
    return true;
  }) as NodeJS.Process['send'];
  proc.disconnect = () => {
    if (!connected) return;
    connected = false;
    (proc.emit.bind(proc) as (event: string) => boolean)('disconnect');
  };
  const emit = proc.emit.bind(proc) as (event: string, ...args: unknown[]) => boolean;
  port.on('message', (event) => {
    if (event.data === DISCONNECT) proc.disconnect!();
    else emit('message', event.data);
  });
}
