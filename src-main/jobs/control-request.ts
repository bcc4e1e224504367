/**
 * Stopping a run from another process. Only one process at a time holds a workspace
 * (workspace.lock), so `run cancel ID` typed in a second terminal cannot reach the job
 * host of a `train` running in the first one through the catalog. Instead it leaves a
 * request in the run's folder, `runs/<id>/control.request` (the word `cancel` or
 * `pause`), and the host of a running run looks for that file every second, removes it
 * and acts on it as on its own cancel or pause. Anything else in the file is ignored
 * with a warning; a request left over from before a run (re)starts is removed unread.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import type { ControlAction } from './protocol.ts';
import { writeFileAtomic } from './atomic-file.ts';

export const CONTROL_REQUEST = 'control.request';

/** How often a host looks for a request, in milliseconds. */
export const CONTROL_POLL_MS = 1000;

export function controlRequestPath(runDir: string): string {
  return join(runDir, CONTROL_REQUEST);
}

/** Leaves a cancel or pause request for the process that hosts the run. */
export function writeControlRequest(runDir: string, action: ControlAction): void {
  writeFileAtomic(controlRequestPath(runDir), Buffer.from(`${action}\n`));
}

/**
 * Takes the pending request of a run folder: removes the file and returns its action,
 * `null` when there is none, `'invalid'` when the file held something else.
 */
export function takeControlRequest(runDir: string): ControlAction | 'invalid' | null {
  const path = controlRequestPath(runDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  rmSync(path, { force: true });
  const word = text.trim();
  return word === 'cancel' || word === 'pause' ? word : 'invalid';
}

/** Removes a request that no running job was there to see. */
export function clearControlRequest(runDir: string): void {
  rmSync(controlRequestPath(runDir), { force: true });
}
