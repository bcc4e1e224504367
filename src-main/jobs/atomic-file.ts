/**
 * Writing a file so that a reader sees either the old complete file or the new
 * complete one, never a half: write a temporary file beside it, fsync it,
 * rename it over the target, fsync the folder. A crash (or a full disk) in
 * between leaves at most a `.tmp` file, which no reader takes for the real one;
 * `removeStaleTemporaries` clears those once their writer is gone.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /**
   * Tests only: sleep this long once half the bytes are written, so that a test can
   * kill the process in the middle of a write.
   */
  pauseMidwayMs?: number;
}

export function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  options: AtomicWriteOptions = {},
): void {
  const tmp = `${path}.${process.pid}.tmp`;
  let fd = -1;
  try {
    fd = openSync(tmp, 'w');
    let offset = 0;
    const half = options.pauseMidwayMs === undefined ? -1 : bytes.length >> 1;
    while (offset < bytes.length) {
      const end = offset < half ? half : bytes.length;
      offset += writeSync(fd, bytes, offset, end - offset);
      if (offset === half)
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, options.pauseMidwayMs);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== -1) closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  try {
    const dir = openSync(dirname(path), 'r');
    fsyncSync(dir);
    closeSync(dir);
  } catch {
    // Some file systems refuse fsync on a folder; the rename itself is already atomic.
  }
}

/** `<target>.<pid>.tmp`: the temporary name `writeFileAtomic` gives, with the writer's pid. */
const TEMPORARY = /^(.+)\.(\d+)\.tmp$/;

function processAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files that writers killed mid-write left in `dir` (not
 * its sub-folders): only names of the form `<target>.<pid>.tmp` whose process is
 * gone, so a write still going on is never touched. A pid taken over by another
 * process keeps its file until a later sweep. Returns the names removed.
 */
export function removeStaleTemporaries(
  dir: string,
  isAlive: (pid: number) => boolean = processAlive,
): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMPORARY.exec(name);
    if (m === null || isAlive(Number(m[2]))) continue;
    try {
      rmSync(join(dir, name), { force: true });
      removed.push(name);
    } catch {
      // A file that cannot be removed now is tried again at the next sweep.
    }
  }
  return removed;
}
