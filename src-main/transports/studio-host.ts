/**
 * The process that hosts the api for a UI: it owns the open workspace, turns
 * each request into a `callMethod` with its own abort signal (so a request id
 * can be cancelled from the UI), and fans api events out to every listener.
 * The HTTP/WebSocket server and the Electron IPC bridge both sit on one of these.
 */
import { expected, toErrorData } from '../api/errors.ts';
import { ApiEvent } from '../api/events.ts';
import { callMethod, type Reply } from '../api/index.ts';
import type { ApiContext } from '../api/method.ts';
import type { Workspace } from '../catalog/workspace.ts';
import { logger } from '../log.ts';

const log = logger('host');

/** Request ids are chosen by the client; they only need to be unique among its open calls. */
const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Calls in flight at once; a client that opens more gets a sentence back, not a queue. */
export const MAX_CALLS_IN_FLIGHT = 64;

export interface StudioHost {
  readonly ws: Workspace;
  /** Runs one api call; never throws. `requestId` makes it cancellable with `cancel`. */
  call(method: unknown, input: unknown, requestId?: unknown): Promise<Reply>;
  /** Aborts the call with this id; false when no such call is running. */
  cancel(requestId: unknown): boolean;
  /** Subscribes to api events; returns the unsubscribe function. */
  onEvent(listener: (event: ApiEvent) => void): () => void;
  /** Publishes an event to every listener (also used by the api context). */
  emit(event: ApiEvent): void;
  /** Number of calls running now. */
  inFlight(): number;
  /** Aborts every running call and closes the workspace. */
  close(): void;
}

export function createStudioHost(ws: Workspace): StudioHost {
  const listeners = new Set<(event: ApiEvent) => void>();
  const running = new Map<string, AbortController>();
  let anonymous = 0;
  let closed = false;

  const emit = (event: ApiEvent): void => {
    // Events are checked here too: a malformed one would otherwise reach every client.
    const parsed = ApiEvent.safeParse(event);
    if (!parsed.success) {
      log.error(`dropped a malformed event: ${JSON.stringify(event).slice(0, 200)}`);
      return;
    }
    for (const listener of listeners) {
      try {
        listener(parsed.data);
      } catch (err) {
        log.error(`an event listener failed: ${String(err)}`);
      }
    }
  };

  return {
    ws,
    emit,
    inFlight: () => running.size,
    async call(method, input, requestId) {
      if (closed) {
        return { ok: false, error: expected('closing', 'The studio is shutting down.').toData() };
      }
      if (requestId !== undefined && (typeof requestId !== 'string' || !REQUEST_ID.test(requestId)))
        return {
          ok: false,
          error: expected(
            'invalid_request',
            'The request id must be 1 to 64 letters, digits or . _ : - characters.',
          ).toData(),
        };
      if (running.size >= MAX_CALLS_IN_FLIGHT)
        return {
          ok: false,
          error: expected(
            'busy',
            `The studio is already running ${MAX_CALLS_IN_FLIGHT} requests. Wait for some to finish and try again.`,
          ).toData(),
        };
      const id = requestId ?? `anon-${++anonymous}`;
      if (running.has(id))
        return {
          ok: false,
          error: expected(
            'invalid_request',
            `A request with id ${id} is already running.`,
          ).toData(),
        };
      const controller = new AbortController();
      running.set(id, controller);
      const ctx: ApiContext = { ws, emit, signal: controller.signal };
      try {
        return await callMethod(ctx, method, input);
      } catch (err) {
        return { ok: false, error: toErrorData(err) };
      } finally {
        running.delete(id);
      }
    },
    cancel(requestId) {
      if (typeof requestId !== 'string') return false;
      const controller = running.get(requestId);
      if (controller === undefined) return false;
      controller.abort();
      return true;
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const controller of running.values()) controller.abort();
      listeners.clear();
      ws.close();
    },
  };
}
