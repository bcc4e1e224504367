/**
 * The desktop app's main process, given the Electron module (main.ts passes the
 * real one; tests pass a fake): one instance, one workspace host, one window
 * locked down as security.ts says, and a close that asks before stopping a
 * training.
 */
import type * as Electron from 'electron';

import { openWorkspace } from '../catalog/workspace.ts';
import { defaultWorkspaceDir } from '../catalog/workspace.ts';
import { logger } from '../log.ts';
import { createStudioHost, type StudioHost } from '../transports/studio-host.ts';
import { appProtocolHandler } from './app-protocol.ts';
import { registerIpc } from './ipc.ts';
import { APP_ENTRY, APP_SCHEME, DESKTOP_CSP, isAppUrl } from './security.ts';
import { prepareShutdown, type RunningRun } from './shutdown.ts';

const log = logger('desktop');

export type ElectronApi = Pick<
  typeof Electron,
  'app' | 'BrowserWindow' | 'ipcMain' | 'protocol' | 'session' | 'dialog' | 'shell'
>;

export interface DesktopOptions {
  rendererDir: string;
  preload: string;
  workspaceDir?: string;
}

export interface Desktop {
  host: StudioHost | null;
  window: Electron.BrowserWindow | null;
}

/** Every web contents the app creates: no navigation away, no new windows, no webviews. */
function lockDown(contents: Electron.WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

export function startDesktop(electron: ElectronApi, options: DesktopOptions): Desktop {
  const { app, BrowserWindow, ipcMain, protocol, session, dialog, shell } = electron;
  const state: Desktop = { host: null, window: null };

  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return state;
  }
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
  app.on('web-contents-created', (_event, contents) => lockDown(contents));
  app.on('second-instance', () => {
    if (state.window === null) return;
    if (state.window.isMinimized()) state.window.restore();
    state.window.focus();
  });

  const confirmStop = async (runs: RunningRun[]): Promise<boolean> => {
    const names = runs.map((r) => r.name).join(', ');
    const answer = await dialog.showMessageBox({
      type: 'question',
      buttons: ['Stop and keep a checkpoint', 'Keep training'],
      defaultId: 1,
      cancelId: 1,
      message: `Training is running (${names}).`,
      detail:
        'Closing the studio stops it. Each run keeps a checkpoint and can be resumed later from the Runs view.',
    });
    return answer.response === 0;
  };

  let quitting = false;
  /** The shutdown check in progress: a second close or quit meanwhile asks nothing more. */
  let asking: Promise<void> | null = null;
  const requestQuit = (host: StudioHost) => {
    asking ??= prepareShutdown(host, { confirmStop })
      .catch((err: unknown) => {
        // The check itself failed: quit anyway; a run still going is recovered on the next start.
        log.error(`shutdown check failed: ${String(err)}`);
        return true;
      })
      .then((ok) => {
        if (!ok) return;
        quitting = true;
        app.quit();
      })
      .finally(() => {
        asking = null;
      });
  };
  const createWindow = () => {
    const win = new BrowserWindow({
      width: 1360,
      height: 880,
      title: 'LeJEPA Studio',
      show: false,
      // Spelled out here (not built elsewhere) so the security scan can read it.
      webPreferences: {
        preload: options.preload,
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        experimentalFeatures: false,
        webviewTag: false,
        navigateOnDragDrop: false,
        spellcheck: false,
        safeDialogs: true,
        disableBlinkFeatures: 'Auxclick',
      },
    });
    state.window = win;
    win.once('ready-to-show', () => win.show());
    win.on('close', (event) => {
      if (quitting || state.host === null) return;
      event.preventDefault();
      requestQuit(state.host);
    });
    win.on('closed', () => {
      state.window = null;
    });
    void win.loadURL(APP_ENTRY);
  };

  void app.whenReady().then(() => {
    const host = createStudioHost(openWorkspace(options.workspaceDir ?? defaultWorkspaceDir()));
    state.host = host;
    log.info(`desktop app on workspace ${host.ws.root}`);
    const ses = session.defaultSession;
    ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
    ses.webRequest.onHeadersReceived((details, callback) => {
      callback({
        responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [DESKTOP_CSP] },
      });
    });
    protocol.handle(
      APP_SCHEME,
      appProtocolHandler(options.rendererDir, () => host.ws.path('thumbs')),
    );
    registerIpc(ipcMain, host, () => BrowserWindow.getAllWindows().map((w) => w.webContents), {
      showInFolder: (path) => shell.showItemInFolder(path),
      pickFolder: async () => {
        const options: Electron.OpenDialogOptions = {
          title: 'Choose a folder of images',
          properties: ['openDirectory'],
        };
        const answer =
          state.window === null
            ? await dialog.showOpenDialog(options)
            : await dialog.showOpenDialog(state.window, options);
        return answer.canceled ? null : (answer.filePaths[0] ?? null);
      },
    });
    createWindow();
  });

  app.on('before-quit', (event) => {
    if (quitting || state.host === null) return;
    event.preventDefault();
    requestQuit(state.host);
  });
  app.on('will-quit', () => {
    state.host?.close();
    state.host = null;
  });
  app.on('window-all-closed', () => app.quit());
  return state;
}
