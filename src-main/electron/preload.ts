// Runs in the sandboxed preload of the studio window: exposes the api bridge only.
import { contextBridge, ipcRenderer } from 'electron';

import { createBridge } from './preload-bridge.ts';

contextBridge.exposeInMainWorld('lejepaStudio', createBridge(ipcRenderer));
