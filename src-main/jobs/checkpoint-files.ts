/**
 * Where a run's checkpoint files are now. The catalog records the absolute path
 * each checkpoint was written to; when the workspace has been moved or renamed
 * since, the same file is in the run's folder of the workspace as opened. Every
 * reader of checkpoints (resume, evaluation, embeddings, exports) goes through
 * here, so they all find the same files. Nothing in the catalog is rewritten.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';

import { expected, type StudioError } from '../api/errors.ts';
import { listCheckpoints, type CheckpointRow } from '../catalog/runs.ts';
import type { Workspace } from '../catalog/workspace.ts';
import { isCheckpointFormatError } from '../engine/train/checkpoint.ts';

/** A checkpoint row whose `path` is where its file is now (or the recorded path when lost). */
export interface LocatedCheckpoint extends CheckpointRow {
  /** The path recorded in the catalog when the checkpoint was written. */
  recordedPath: string;
  /** Whether the file was found (at `path`). */
  onDisk: boolean;
}

/** The run's folder in the workspace as opened. */
export function runFolder(ws: Workspace, runId: number): string {
  return ws.path('runs', String(runId));
}

/**
 * A checkpoint's file: the recorded path when it is there, else the same name in
 * the run's folder of this workspace; null when neither exists.
 */
export function checkpointFile(ws: Workspace, runId: number, recorded: string): string | null {
  if (existsSync(recorded)) return recorded;
  const here = ws.path('runs', String(runId), basename(recorded));
  return existsSync(here) ? here : null;
}

/** Every checkpoint of a run (oldest first), located on disk. */
export function locateCheckpoints(ws: Workspace, runId: number): LocatedCheckpoint[] {
  return listCheckpoints(ws.db, runId).map((c) => {
    const found = checkpointFile(ws, runId, c.path);
    return { ...c, path: found ?? c.path, recordedPath: c.path, onDisk: found !== null };
  });
}

/** The checkpoints of a run whose file is on disk, oldest first, with their current paths. */
export function checkpointsOnDisk(ws: Workspace, runId: number): LocatedCheckpoint[] {
  return locateCheckpoints(ws, runId).filter((c) => c.onDisk);
}

/** Whether reading a checkpoint failed because its file is missing or not a checkpoint. */
export function isUnusableCheckpoint(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT' || isCheckpointFormatError(err);
}

/**
 * What a job reports when a checkpoint file is missing or not a checkpoint: a
 * `checkpoint_unusable` error naming the file, the reason and `advice`. Any other
 * error (out of memory, a bug) is thrown as it is.
 */
export function unusableCheckpoint(err: unknown, path: string, advice: string): StudioError {
  if (!isUnusableCheckpoint(err)) throw err;
  return expected(
    'checkpoint_unusable',
    `The checkpoint ${path} cannot be used: ${(err as Error).message}. ${advice}`,
  );
}
