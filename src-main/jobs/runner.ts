/**
 * Starts a job in a child process (`child_process.fork` through tsx) and turns
 * its messages into callbacks and one final outcome. A child that exits without
 * sending a result or an error (killed, out of memory, a native crash) is
 * reported as `crashed`, with its exit code or signal.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import type { ErrorData } from '../api/errors.ts';
import { allocatorEnv } from '../compute/allocator-env.ts';
import { writeRecord, type LogRecord } from '../log.ts';
import { isChildMessage, type ControlAction, type HostMessage, type JobEnd } from './protocol.ts';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

export type JobOutcome =
  | { status: JobEnd; data: unknown }
  | { status: 'failed'; error: ErrorData }
  | { status: 'crashed'; exitCode: number | null; signal: NodeJS.Signals | null };

export interface JobHandlers {
  onProgress?(data: unknown): void;
  onEvent?(name: string, data: unknown): void;
  /** Log records from the child; by default they go to the host's logger. */
  onLog?(record: LogRecord): void;
}

export interface JobHandle {
  /** The child's process id. */
  readonly pid: number;
  /** Settles once the child has exited. */
  readonly done: Promise<JobOutcome>;
  /** Asks the job to stop at its next safe point (it keeps a checkpoint). */
  control(action: ControlAction): void;
  /** Ends the child at once (SIGKILL): for a job that does not answer. */
  kill(): void;
}

export interface StartJobOptions {
  /** File URL or absolute path of the job module (exports `run`). */
  module: string | URL;
  input: unknown;
  /** Extra environment for the child (the parent's is inherited). */
  env?: Record<string, string>;
}

/** Forks a job process and starts `module` in it. */
export function startJob(options: StartJobOptions, handlers: JobHandlers = {}): JobHandle {
  const child: ChildProcess = fork(CHILD, [], {
    // Resolved here: a bare 'tsx' would be looked up from the current directory.
    execArgv: ['--import', import.meta.resolve('tsx')],
    // Allocator settings first, so that the user's environment and the caller's override them.
    env: { ...allocatorEnv(), ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  const moduleUrl =
    options.module instanceof URL
      ? options.module.href
      : options.module.startsWith('file:')
        ? options.module
        : new URL(`file://${options.module}`).href;

  let finished: JobOutcome | undefined;
  const send = (message: HostMessage) => {
    if (child.connected) child.send(message);
  };
  child.on('message', (raw: unknown) => {
    if (!isChildMessage(raw)) return;
    switch (raw.type) {
      case 'ready':
        send({ type: 'start', module: moduleUrl, input: options.input });
        break;
      case 'progress':
        handlers.onProgress?.(raw.data);
        break;
      case 'event':
        handlers.onEvent?.(raw.name, raw.data);
        break;
      case 'log':
        (handlers.onLog ?? writeRecord)(raw.record);
        break;
      case 'result':
        finished = { status: raw.end, data: raw.data };
        break;
      case 'error':
        finished = { status: 'failed', error: raw.error };
        break;
    }
  });

  const done = new Promise<JobOutcome>((resolve) => {
    child.on('error', (err) => {
      finished ??= {
        status: 'failed',
        error: {
          kind: 'bug',
          code: 'job_start_failed',
          message: 'The job process could not be started. The log has the details.',
          detail: err.stack ?? err.message,
        },
      };
    });
    child.on('exit', (exitCode, signal) => {
      resolve(finished ?? { status: 'crashed', exitCode, signal });
    });
  });

  return {
    pid: child.pid ?? -1,
    done,
    control: (action) => send({ type: 'control', action }),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
