/**
 * The desktop window's security settings in one place, so a test can read
 * them: the renderer runs sandboxed with context isolation and no Node, loads
 * only from the app's own `app://studio` origin, and talks to the main process
 * over exactly the channels of the api contract.
 */
import { contentSecurityPolicy } from '../transports/csp.ts';

export const APP_SCHEME = 'app';
export const APP_HOST = 'studio';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY = `${APP_ORIGIN}/index.html`;

/** The only IPC channels: a call, a cancel, and the event stream (main → renderer). */
export const CHANNELS = {
  invoke: 'studio:invoke',
  cancel: 'studio:cancel',
  event: 'studio:event',
} as const;

export const DESKTOP_CSP = contentSecurityPolicy();

/** True for URLs of the app's own pages (`app://studio/...`), nothing else. */
export function isAppUrl(raw: string | undefined | null): boolean {
  if (typeof raw !== 'string') return false;
  try {
    const url = new URL(raw);
    return url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST && url.username === '';
  } catch {
    return false;
  }
}

/** What an IPC event tells us about who sent it (Electron's IpcMainInvokeEvent, reduced). */
export interface IpcSender {
  senderFrame?: { url: string; parent?: unknown } | null;
  sender?: { id: number };
}

/**
 * An IPC message is served only when it comes from the top frame of one of the
 * app's own windows, showing an app page. A frame from elsewhere (a page that
 * somehow loaded, an iframe) gets nothing.
 */
export function senderAllowed(event: IpcSender, windowIds: ReadonlySet<number>): boolean {
  const frame = event.senderFrame;
  if (frame === null || frame === undefined) return false;
  if (frame.parent !== null && frame.parent !== undefined) return false;
  if (event.sender === undefined || !windowIds.has(event.sender.id)) return false;
  return isAppUrl(frame.url);
}
