import type { ApiEvent, ErrorData } from '../api-types.ts';

export type Reply<T> = { ok: true; result: T } | { ok: false; error: ErrorData };

export type ConnectionState = 'connecting' | 'open' | 'closed';

/**
 * How the renderer reaches the api: over HTTP + WebSocket in a browser, over
 * the preload bridge in the desktop app. Views and stores see only this.
 */
export interface StudioClient {
  readonly mode: 'browser' | 'desktop';
  /** One api call; never throws for an api error (it comes back as `ok: false`). */
  call<T>(method: string, input: unknown, requestId?: string): Promise<Reply<T>>;
  /** Asks the host to abort the call with this request id. */
  cancel(requestId: string): Promise<void>;
  onEvent(listener: (event: ApiEvent) => void): () => void;
  onConnection(listener: (state: ConnectionState) => void): () => void;
  /** URL of a thumbnail given its path inside the workspace's thumbs folder. */
  thumbUrl(relPath: string): string;
}

/** What the desktop app's preload puts on `window` (see src-main/electron/preload.ts). */
export interface DesktopBridge {
  invoke(method: string, input: unknown, requestId?: string): Promise<unknown>;
  cancel(requestId: string): Promise<void>;
  onEvent(listener: (event: unknown) => void): () => void;
}
