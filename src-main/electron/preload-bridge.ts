/**
 * What the preload puts on `window.lejepaStudio`: three functions over the
 * contract's channels and nothing else (no ipcRenderer, no channel names chosen
 * by the page). Kept apart from preload.ts so a test can build it without Electron.
 */
import { CHANNELS } from './security.ts';

export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): void;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): void;
}

export interface StudioBridge {
  invoke(method: string, input: unknown, requestId?: string): Promise<unknown>;
  cancel(requestId: string): Promise<void>;
  onEvent(listener: (event: unknown) => void): () => void;
}

export function createBridge(ipc: IpcRendererLike): StudioBridge {
  return Object.freeze({
    invoke: (method: string, input: unknown, requestId?: string) =>
      ipc.invoke(CHANNELS.invoke, String(method), input, requestId),
    cancel: async (requestId: string) => {
      await ipc.invoke(CHANNELS.cancel, String(requestId));
    },
    onEvent(listener: (event: unknown) => void) {
      // The page's callback never receives Electron's event object (it carries `sender`).
      const wrapped = (_event: unknown, payload: unknown) => listener(payload);
      ipc.on(CHANNELS.event, wrapped);
      return () => ipc.removeListener(CHANNELS.event, wrapped);
    },
  });
}
