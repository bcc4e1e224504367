/**
 * Browser mode: calls are `POST /api/call` (the token travels in an HttpOnly
 * cookie set when the page was opened), events arrive on `/api/events` and
 * the socket reconnects with back-off when the server restarts.
 */
import type { ApiEvent } from '../api-types.ts';
import type { ConnectionState, Reply, StudioClient } from './types.ts';

const networkError = (what: string): Reply<never> => ({
  ok: false,
  error: {
    kind: 'expected',
    code: 'offline',
    message: `The studio server did not answer (${what}). Check that \`lejepa-studio serve\` is still running, then reload.`,
  },
});

export function createHttpClient(): StudioClient {
  const eventListeners = new Set<(event: ApiEvent) => void>();
  const connectionListeners = new Set<(state: ConnectionState) => void>();
  let state: ConnectionState = 'connecting';
  let retry = 500;

  const setState = (next: ConnectionState) => {
    state = next;
    connectionListeners.forEach((l) => l(next));
  };

  const connect = () => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/api/events`);
    socket.onopen = () => {
      retry = 500;
      setState('open');
    };
    socket.onmessage = (message) => {
      try {
        const event = JSON.parse(String(message.data)) as ApiEvent;
        eventListeners.forEach((l) => l(event));
      } catch {
        // The server only sends JSON; anything else is ignored.
      }
    };
    socket.onclose = () => {
      setState('closed');
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10_000);
    };
  };
  connect();

  return {
    mode: 'browser',
    async call<T>(method: string, input: unknown, requestId?: string): Promise<Reply<T>> {
      let response: Response;
      try {
        response = await fetch('/api/call', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          credentials: 'same-origin',
          body: JSON.stringify({ method, input, requestId }),
        });
      } catch (err) {
        return networkError(String(err));
      }
      try {
        return (await response.json()) as Reply<T>;
      } catch {
        return networkError(`status ${response.status}`);
      }
    },
    async cancel(requestId) {
      await fetch('/api/cancel', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ requestId }),
      }).catch(() => undefined);
    },
    onEvent(listener) {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
    onConnection(listener) {
      connectionListeners.add(listener);
      listener(state);
      return () => connectionListeners.delete(listener);
    },
    thumbUrl: (relPath) => `/api/thumbs/${relPath.split('/').map(encodeURIComponent).join('/')}`,
  };
}
