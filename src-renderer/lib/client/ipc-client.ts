/** Desktop mode: the preload bridge carries calls and events over Electron IPC. */
import type { ApiEvent } from '../api-types.ts';
import type { ConnectionState, DesktopBridge, Reply, StudioClient } from './types.ts';

export function createIpcClient(bridge: DesktopBridge): StudioClient {
  return {
    mode: 'desktop',
    async call<T>(method: string, input: unknown, requestId?: string): Promise<Reply<T>> {
      try {
        return (await bridge.invoke(method, input, requestId)) as Reply<T>;
      } catch {
        return {
          ok: false,
          error: {
            kind: 'bug',
            code: 'ipc_failed',
            message: 'The window lost its connection to the studio. Restart the app.',
          },
        };
      }
    },
    cancel: (requestId) => bridge.cancel(requestId),
    onEvent: (listener) => bridge.onEvent((event) => listener(event as ApiEvent)),
    onConnection(listener: (state: ConnectionState) => void) {
      listener('open');
      return () => {};
    },
    // The app's own protocol serves workspace thumbnails under the same path as browser mode.
    thumbUrl: (relPath) => `/api/thumbs/${relPath.split('/').map(encodeURIComponent).join('/')}`,
  };
}
