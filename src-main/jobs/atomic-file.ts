/**
 * Writing a file so that a reader sees either the old complete file or the new
 * complete one, never a half: write a temporary file beside it, fsync it,
 * rename it over the target, fsync the folder. A crash (or a full disk) in
 * between leaves at most a `.tmp` file, which no reader takes for the real one.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

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
