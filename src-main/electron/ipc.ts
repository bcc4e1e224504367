/**
 * The api over Electron IPC: `studio:invoke` runs a call through the studio
 * host (the same `callMethod` path as every transport), `studio:cancel` aborts
 * one by request id, and events are pushed on `studio:event`. A few desktop
 * methods (`desktop.*`) are answered here because only the main process can
 * do them (show a folder in the file manager, pick a folder to import).
 */
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';

import { expected } from '../api/errors.ts';
import type { Reply } from '../api/index.ts';
import type { StudioHost } from '../transports/studio-host.ts';
import { CHANNELS, senderAllowed, type IpcSender } from './security.ts';

export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcSender, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

export interface WebContentsLike {
  id: number;
  send(channel: string, ...args: unknown[]): void;
  isDestroyed(): boolean;
}

export interface DesktopActions {
  /** Shows `path` in the system file manager; only paths inside the workspace. */
  showInFolder(path: string): void;
  /** Asks the user for a folder with the system's picker; null when they cancel. */
  pickFolder(): Promise<string | null>;
}

/**
 * The real path of `path` when it lies inside the workspace, else null: `..` segments
 * and symlinks are resolved first, so neither can lead out of it.
 */
function insideWorkspace(path: unknown, root: string): string | null {
  if (typeof path !== 'string' || !isAbsolute(path)) return null;
  let real: string;
  let realRoot: string;
  try {
    real = realpathSync(resolve(path));
    realRoot = realpathSync(root);
  } catch {
    return null;
  }
  const rel = relative(realRoot, real);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel)) ? real : null;
}

const refused = (): Reply => ({
  ok: false,
  error: expected('forbidden', 'This window may not call the studio.').toData(),
});

export function registerIpc(
  ipcMain: IpcMainLike,
  host: StudioHost,
  windows: () => WebContentsLike[],
  desktop: DesktopActions,
): () => void {
  const ids = () => new Set(windows().map((w) => w.id));

  ipcMain.handle(CHANNELS.invoke, async (event, method, input, requestId) => {
    if (!senderAllowed(event, ids())) return refused();
    if (method === 'desktop.pickFolder') {
      return { ok: true, result: await desktop.pickFolder() } satisfies Reply;
    }
    if (method === 'desktop.showInFolder') {
      const path = insideWorkspace((input as { path?: unknown } | null)?.path, host.ws.root);
      if (path === null)
        return {
          ok: false,
          error: expected('forbidden', 'Only folders inside the workspace can be shown.').toData(),
        } satisfies Reply;
      desktop.showInFolder(path);
      return { ok: true, result: null } satisfies Reply;
    }
    return host.call(method, input, requestId);
  });
  ipcMain.handle(CHANNELS.cancel, (event, requestId) => {
    if (!senderAllowed(event, ids())) return false;
    return host.cancel(requestId);
  });
  const unsubscribe = host.onEvent((apiEvent) => {
    for (const contents of windows()) {
      if (!contents.isDestroyed()) contents.send(CHANNELS.event, apiEvent);
    }
  });
  return () => {
    unsubscribe();
    ipcMain.removeHandler(CHANNELS.invoke);
    ipcMain.removeHandler(CHANNELS.cancel);
  };
}
