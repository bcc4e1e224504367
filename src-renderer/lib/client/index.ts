import { createHttpClient } from './http-client.ts';
import { createIpcClient } from './ipc-client.ts';
import type { DesktopBridge, StudioClient } from './types.ts';

/** The desktop preload defines `window.lejepaStudio`; a browser has none. */
export function createClient(): StudioClient {
  const bridge = (window as unknown as { lejepaStudio?: DesktopBridge }).lejepaStudio;
  return bridge === undefined ? createHttpClient() : createIpcClient(bridge);
}

export type { Reply, StudioClient, ConnectionState } from './types.ts';
