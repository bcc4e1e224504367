/**
 * Opening the catalog: a better-sqlite3 database in WAL mode with numbered,
 * forward-only migrations. A file that is not SQLite, is corrupt, or was written
 * by a newer studio is refused with a sentence and never touched.
 */
import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';

import { expected } from '../api/errors.ts';
import { MIGRATIONS } from './migrations/index.ts';

export type Db = Database.Database;

const SQLITE_HEADER = 'SQLite format 3\u0000';

/** The schema version this build of the studio writes. */
export const SCHEMA_VERSION =
  MIGRATIONS.length === 0 ? 0 : MIGRATIONS[MIGRATIONS.length - 1]!.version;

function checkHeader(path: string): void {
  if (!existsSync(path)) return;
  const stat = statSync(path);
  if (stat.isDirectory()) {
    throw expected(
      'catalog_not_file',
      `The catalog ${path} is a folder, not a file. Move that folder away (the studio then starts a new catalog), or open another workspace.`,
    );
  }
  const size = stat.size;
  if (size === 0) {
    throw expected(
      'catalog_empty',
      `The catalog ${path} is an empty file. Restore it from a backup, or move it away to start a new catalog in this workspace.`,
    );
  }
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(16);
  try {
    readSync(fd, buf, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (size < 100 || buf.toString('latin1') !== SQLITE_HEADER) {
    throw expected(
      'catalog_not_sqlite',
      `The catalog ${path} is not an SQLite database. Restore it from a backup, or open another workspace.`,
    );
  }
}

export interface OpenOptions {
  readonly?: boolean;
}

/** Opens (creating when missing) the catalog at `path` and brings its schema up to date. */
export function openCatalog(path: string, options: OpenOptions = {}): Db {
  checkHeader(path);
  const readonly = options.readonly === true;
  let db: Db;
  try {
    // `npm start` points the desktop app at a build of the module for Electron's ABI.
    const nativeBinding = process.env.LEJEPA_SQLITE_BINDING;
    db = new Database(path, {
      readonly,
      fileMustExist: readonly,
      timeout: 5000,
      ...(nativeBinding ? { nativeBinding } : {}),
    });
  } catch (err) {
    throw expected(
      'catalog_unreadable',
      `The catalog ${path} could not be opened (${(err as Error).message}). Check the folder's permissions, or open another workspace.`,
    );
  }
  try {
    // The version is checked before anything else: switching a newer studio's catalog
    // to WAL would already rewrite its header.
    checkVersion(db, path);
    if (!readonly) db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    verifyIntegrity(db, path);
    if (!readonly) migrate(db, path);
    else checkVersion(db, path);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function verifyIntegrity(db: Db, path: string): void {
  let result: string;
  try {
    result = String(db.pragma('quick_check', { simple: true }));
  } catch (err) {
    throw expected(
      'catalog_corrupt',
      `The catalog ${path} is damaged (${(err as Error).message}). Restore it from a backup; the studio will not overwrite it.`,
    );
  }
  if (result !== 'ok') {
    throw expected(
      'catalog_corrupt',
      `The catalog ${path} is damaged (${result}). Restore it from a backup; the studio will not overwrite it.`,
    );
  }
}

function checkVersion(db: Db, path: string): number {
  const current = Number(db.pragma('user_version', { simple: true }));
  if (current > SCHEMA_VERSION) {
    throw expected(
      'catalog_too_new',
      `The catalog ${path} was written by a newer version of LeJEPA Studio (schema ${current}, this version knows ${SCHEMA_VERSION}). Update the studio to open it.`,
    );
  }
  return current;
}

function migrate(db: Db, path: string): void {
  const current = checkVersion(db, path);
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}

/** Full `PRAGMA integrity_check`, for tests and the `doctor` command. */
export function integrityCheck(db: Db): string {
  return (db.pragma('integrity_check') as Array<{ integrity_check: string }>)
    .map((r) => r.integrity_check)
    .join('; ');
}
