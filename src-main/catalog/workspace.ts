/**
 * A workspace is one folder: `catalog.sqlite` plus the files the catalog points
 * to (`thumbs/`, `cache/`, `runs/<id>/`, `embeddings/`, `exports/`, `studio.log`).
 * One process at a time writes it; a second one is refused while the first lives.
 */
import {
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

import { expected } from '../api/errors.ts';
import { setLogFile } from '../log.ts';
import { openCatalog, type Db } from './db.ts';

export const WORKSPACE_DIRS = ['thumbs', 'cache', 'runs', 'embeddings', 'exports', 'tmp'] as const;

export interface Workspace {
  root: string;
  db: Db;
  readonly: boolean;
  path(...parts: string[]): string;
  close(): void;
}

/** The default workspace: `$LEJEPA_WORKSPACE`, else the user's application-data folder. */
export function defaultWorkspaceDir(): string {
  if (process.env.LEJEPA_WORKSPACE) return resolve(process.env.LEJEPA_WORKSPACE);
  const base =
    process.platform === 'win32'
      ? (process.env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'))
      : process.platform === 'darwin'
        ? join(homedir(), 'Library', 'Application Support')
        : (process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'));
  return join(base, 'lejepa-studio', 'workspace');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `<root>/workspace.lock` for this process; a lock left by a dead process is taken over. */
function acquireLock(root: string): () => void {
  const lockPath = join(root, 'workspace.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lockPath, 'utf8').trim() === String(process.pid)) rmSync(lockPath);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number.parseInt(readFileSync(lockPath, 'utf8').trim(), 10);
      if (Number.isFinite(owner) && owner !== process.pid && pidAlive(owner)) {
        throw expected(
          'workspace_locked',
          `The workspace ${root} is in use by another studio process (pid ${owner}), and only one process at a time can change it. Wait for that process to finish, or stop it (Ctrl-C in its terminal, or close the app), then try again. Commands that only read, such as \`runs\` or \`datasets\`, work meanwhile.`,
        );
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw expected('workspace_locked', `Could not lock the workspace ${root}. Try again.`);
}

export interface OpenWorkspaceOptions {
  create?: boolean;
  readonly?: boolean;
}

/** Opens (and by default creates) the workspace folder and its catalog. */
export function openWorkspace(dir: string, options: OpenWorkspaceOptions = {}): Workspace {
  const root = resolve(dir);
  const readonly = options.readonly === true;
  if (!readonly && options.create !== false) {
    try {
      mkdirSync(root, { recursive: true });
      for (const d of WORKSPACE_DIRS) mkdirSync(join(root, d), { recursive: true });
    } catch (err) {
      throw expected(
        'workspace_unwritable',
        `The workspace folder ${root} cannot be created (${(err as Error).message}). Choose a folder you can write to.`,
      );
    }
  }
  const release = readonly ? () => {} : acquireLock(root);
  let db: Db;
  try {
    db = openCatalog(join(root, 'catalog.sqlite'), { readonly });
  } catch (err) {
    release();
    throw err;
  }
  if (!readonly) setLogFile(join(root, 'studio.log'));
  let closed = false;
  return {
    root,
    db,
    readonly,
    path: (...parts: string[]) => join(root, ...parts),
    close() {
      if (closed) return;
      closed = true;
      db.close();
      release();
      setLogFile(undefined);
    },
  };
}
