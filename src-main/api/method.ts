/**
 * The shape of one api method: a name, a zod schema for its input, and a handler.
 * Every transport (CLI, Electron IPC, HTTP/WebSocket) calls methods through
 * `callMethod` in `index.ts`, so validation happens in one place.
 */
import type { z } from 'zod';

import type { Workspace } from '../catalog/workspace.ts';
import type { ApiEvent } from './events.ts';

export interface ApiContext {
  /** The open workspace. */
  ws: Workspace;
  /** Publishes an event to whoever listens (CLI progress bar, UI, WebSocket clients). */
  emit(event: ApiEvent): void;
  /** Aborted when the caller cancels the request. */
  signal: AbortSignal;
}

export interface MethodDef<I extends z.ZodType = z.ZodType, O = unknown> {
  name: string;
  summary: string;
  input: I;
  /** Methods that only read may run on a read-only workspace. */
  writes: boolean;
  run(ctx: ApiContext, input: z.infer<I>): Promise<O> | O;
}

export function defineMethod<I extends z.ZodType, O>(def: MethodDef<I, O>): MethodDef<I, O> {
  return def;
}
