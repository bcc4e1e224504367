/**
 * A stand-in for the parts of Electron the desktop layer uses, recording what
 * the app asks of it. No Electron binary exists here; the real module is only
 * loaded by src-main/electron/main.ts.
 */
import { EventEmitter } from 'node:events';

import type { ElectronApi } from '../../src-main/electron/app.ts';

export class FakeWebContents extends EventEmitter {
  static nextId = 1;
  id = FakeWebContents.nextId++;
  sent: { channel: string; args: unknown[] }[] = [];
  openHandler: ((details: { url: string }) => { action: string }) | null = null;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: string }) {
    this.openHandler = handler;
  }
  send(channel: string, ...args: unknown[]) {
    this.sent.push({ channel, args });
  }
  isDestroyed() {
    return false;
  }
}

/** Emits like Electron: listeners get an event whose preventDefault is recorded. */
export function emitPreventable(target: EventEmitter, name: string, ...args: unknown[]): boolean {
  let prevented = false;
  target.emit(name, { preventDefault: () => (prevented = true) }, ...args);
  return prevented;
}

export function fakeElectron(
  options: { dialogResponse?: number; gotLock?: boolean; pickedFolder?: string | null } = {},
) {
  const handlers = new Map<string, (event: unknown, ...args: unknown[]) => unknown>();
  const windows: FakeWindow[] = [];
  const calls: string[] = [];
  let ready!: () => void;
  const whenReady = new Promise<void>((resolve) => (ready = resolve));

  class FakeWindow extends EventEmitter {
    webContents = new FakeWebContents();
    loaded: string | null = null;
    constructor(readonly options: { webPreferences: Record<string, unknown> }) {
      super();
      windows.push(this);
      app.emit('web-contents-created', {}, this.webContents);
    }
    loadURL(url: string) {
      this.loaded = url;
      return Promise.resolve();
    }
    show() {}
    focus() {}
    restore() {}
    isMinimized() {
      return false;
    }
    static getAllWindows() {
      return windows;
    }
  }

  const app = Object.assign(new EventEmitter(), {
    requestSingleInstanceLock: () => options.gotLock ?? true,
    whenReady: () => whenReady,
    quit: () => {
      calls.push('quit');
    },
  });
  const headerHooks: ((
    details: { responseHeaders: Record<string, string[]> },
    cb: (r: { responseHeaders: Record<string, string[]> }) => void,
  ) => void)[] = [];
  let permissionHandler: ((c: unknown, p: string, cb: (ok: boolean) => void) => void) | null = null;
  const schemes: unknown[] = [];
  let protocolHandler: ((req: { url: string }) => Promise<Response>) | null = null;
  const dialogMessages: string[] = [];

  const electron = {
    app,
    BrowserWindow: FakeWindow,
    ipcMain: {
      handle: (channel: string, fn: (event: unknown, ...args: unknown[]) => unknown) =>
        handlers.set(channel, fn),
      removeHandler: (channel: string) => handlers.delete(channel),
    },
    protocol: {
      registerSchemesAsPrivileged: (list: unknown[]) => schemes.push(...list),
      handle: (_scheme: string, fn: (req: { url: string }) => Promise<Response>) =>
        (protocolHandler = fn),
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (fn: typeof permissionHandler) => (permissionHandler = fn),
        webRequest: {
          onHeadersReceived: (fn: (typeof headerHooks)[number]) => headerHooks.push(fn),
        },
      },
    },
    dialog: {
      showMessageBox: async (opts: { message: string }) => {
        dialogMessages.push(opts.message);
        return { response: options.dialogResponse ?? 0 };
      },
      showOpenDialog: async (...args: unknown[]) => {
        const opts = args[args.length - 1] as { properties: string[] };
        calls.push(`pick ${opts.properties.join(',')}`);
        const picked = options.pickedFolder ?? null;
        return { canceled: picked === null, filePaths: picked === null ? [] : [picked] };
      },
    },
    shell: { showItemInFolder: (path: string) => calls.push(`show ${path}`) },
  };

  return {
    electron: electron as unknown as ElectronApi,
    app,
    windows,
    handlers,
    calls,
    schemes,
    dialogMessages,
    ready: async () => {
      ready();
      await whenReady;
      await new Promise((resolve) => setImmediate(resolve));
    },
    headers: (responseHeaders: Record<string, string[]>) => {
      let out: Record<string, string[]> = {};
      for (const hook of headerHooks) hook({ responseHeaders }, (r) => (out = r.responseHeaders));
      return out;
    },
    permission: (name: string) =>
      new Promise<boolean>((resolve) => permissionHandler!({}, name, resolve)),
    protocol: (url: string) => protocolHandler!({ url }),
  };
}
