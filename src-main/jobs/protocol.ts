/**
 * Messages between the host (the process that serves the api and owns the
 * catalog) and a job's child process. Tagged unions, sent over the fork IPC
 * channel; errors travel as data (`ErrorData`), never as thrown objects.
 */
import type { ErrorData } from '../api/errors.ts';
import type { LogRecord } from '../log.ts';

export type ControlAction = 'cancel' | 'pause';

/** Host → child. */
export type HostMessage =
  { type: 'start'; module: string; input: unknown } | { type: 'control'; action: ControlAction };

/** How a job ended, as the child reports it. */
export type JobEnd = 'completed' | 'cancelled' | 'paused';

/** Child → host. */
export type ChildMessage =
  | { type: 'ready'; pid: number }
  | { type: 'progress'; data: unknown }
  | { type: 'event'; name: string; data: unknown }
  | { type: 'log'; record: LogRecord }
  | { type: 'result'; end: JobEnd; data: unknown }
  | { type: 'error'; error: ErrorData };

export function isChildMessage(value: unknown): value is ChildMessage {
  if (typeof value !== 'object' || value === null) return false;
  const t = (value as { type?: unknown }).type;
  return (
    t === 'ready' ||
    t === 'progress' ||
    t === 'event' ||
    t === 'log' ||
    t === 'result' ||
    t === 'error'
  );
}

/** What a job module sees of its process. */
export interface JobContext {
  /** Sends one progress record to the host. */
  progress(data: unknown): void;
  /** Sends a named event (e.g. a checkpoint was written) to the host. */
  event(name: string, data: unknown): void;
  /** The action the host asked for, once it has (checked between steps). */
  requested(): ControlAction | null;
  /** Aborted on cancel (not on pause): for waits that can stop at any time. */
  signal: AbortSignal;
}

/** A job module exports `run`; what it returns is sent as the result. */
export interface JobModule {
  run(ctx: JobContext, input: unknown): Promise<{ end: JobEnd; data: unknown }>;
}
