/**
 * Recursive scan of an image folder. Runs inside the import child process, so
 * it uses synchronous file-system calls (the fastest way to stat many files).
 *
 * What is not looked at, and counted as ignored (never an error, never a class):
 * OS debris, files or folders (`._*`, `.DS_Store`, `Thumbs.db`, `desktop.ini`,
 * macOS `Icon\r` and `__MACOSX`, Synology `@eaDir`, `$RECYCLE.BIN`,
 * `System Volume Information`, `lost+found`); hidden files and folders (names
 * starting with a dot); symlinks that lead back into a folder already being
 * scanned (loops) or already scanned (repeats); things that are neither files
 * nor folders (sockets, pipes, devices); the studio's own workspace folder when
 * it lies inside a scanned folder (its thumbnails and catalog are not images of
 * the dataset); and the notes that travel with image folders, recognised by
 * name: README, LICENSE, NOTICE, COPYING, CHANGELOG and files ending in .txt,
 * .md, .csv, .tsv, .json, .yaml, .yml, .xml, .html, .py, .ipynb, .log. Any other
 * file that is not an image, whatever its name, is reported as `not_an_image`.
 * Names that are not valid UTF-8 and folders that cannot be read are reported
 * as problems with a code.
 */
import { readdirSync, statSync, type Dirent, type Stats } from 'node:fs';
import { join } from 'node:path';

export type IgnoreReason =
  'os_debris' | 'hidden' | 'symlink_loop' | 'not_a_file' | 'notes' | 'workspace';

export interface ScanEntry {
  path: string;
  /** Path relative to the root, with `/` separators. */
  rel: string;
  size: number;
  mtimeMs: number;
}

export interface ScanProblem {
  path: string;
  rel: string;
  code: 'unreadable_name' | 'permission_denied' | 'read_error';
  message: string;
}

export interface ScanResult {
  files: ScanEntry[];
  problems: ScanProblem[];
  ignored: Record<IgnoreReason, number>;
}

const OS_DEBRIS = new Set([
  '.ds_store',
  'thumbs.db',
  'desktop.ini',
  'ehthumbs.db',
  // macOS: a folder's custom icon ("Icon" + carriage return), zip resource forks.
  'icon\r',
  '__macosx',
  // Synology NAS thumbnails (real JPEGs: imported, they would be near-copies of each photo).
  '@eadir',
  // Windows and ext4 volume folders, seen when a whole drive is imported.
  '$recycle.bin',
  'system volume information',
  'lost+found',
]);
const utf8 = new TextDecoder('utf-8', { fatal: true });

const NOTE_NAMES = /^(readme|license|licence|notice|copying|changelog)(\.[^.]*)?$/i;
const NOTE_EXTENSIONS = /\.(txt|md|csv|tsv|json|ya?ml|xml|html?|py|ipynb|log)$/i;

export function isOsDebris(name: string): boolean {
  return name.startsWith('._') || OS_DEBRIS.has(name.toLowerCase());
}

export function isNotesFile(name: string): boolean {
  return NOTE_NAMES.test(name) || NOTE_EXTENSIONS.test(name);
}

function decodeName(raw: Buffer): string | undefined {
  try {
    return utf8.decode(raw);
  } catch {
    return undefined;
  }
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** The device:inode key of a folder, or undefined when it does not exist. */
function folderKey(path: string): string | undefined {
  try {
    const s = statSync(path);
    return s.isDirectory() ? `${s.dev}:${s.ino}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Scans `root` recursively; `onProgress` is called now and then with the number
 * of files found. Folders in `skip` (the workspace) are not entered, and counted.
 */
export function scanFolder(
  root: string,
  onProgress?: (found: number) => void,
  skip: readonly string[] = [],
): ScanResult {
  const result: ScanResult = {
    files: [],
    problems: [],
    ignored: { os_debris: 0, hidden: 0, symlink_loop: 0, not_a_file: 0, notes: 0, workspace: 0 },
  };
  const skipped = new Set(skip.map(folderKey).filter((k) => k !== undefined));
  const visited = new Set<string>();
  const rootStat = statSync(root);
  visited.add(`${rootStat.dev}:${rootStat.ino}`);
  const problem = (path: string, rel: string, code: ScanProblem['code'], message: string) =>
    result.problems.push({ path, rel, code, message });

  const walk = (dir: string, relDir: string) => {
    let entries: Dirent<Buffer>[];
    try {
      entries = readdirSync(dir, { withFileTypes: true, encoding: 'buffer' });
    } catch (err) {
      const code = errnoCode(err);
      const denied = code === 'EACCES' || code === 'EPERM';
      problem(
        dir,
        relDir,
        denied ? 'permission_denied' : 'read_error',
        denied
          ? 'The folder cannot be read (permission denied); its files were not imported.'
          : `The folder cannot be read (${code ?? String(err)}).`,
      );
      return;
    }
    entries.sort((a, b) => Buffer.compare(a.name, b.name));
    for (const entry of entries) {
      const name = decodeName(entry.name);
      if (name === undefined) {
        // Keep a readable form of the name for the report; the file itself is not used.
        const shown = entry.name.toString('utf8');
        problem(
          join(dir, shown),
          relDir === '' ? shown : `${relDir}/${shown}`,
          'unreadable_name',
          'The name is not valid UTF-8, so the file cannot be referred to reliably.',
        );
        continue;
      }
      const path = join(dir, name);
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      if (isOsDebris(name)) {
        result.ignored.os_debris++;
        continue;
      }
      if (name.startsWith('.')) {
        result.ignored.hidden++;
        continue;
      }
      let stat: Stats;
      try {
        stat = statSync(path);
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ELOOP') {
          result.ignored.symlink_loop++;
          continue;
        }
        const denied = code === 'EACCES' || code === 'EPERM';
        problem(
          path,
          rel,
          denied ? 'permission_denied' : 'read_error',
          code === 'ENOENT'
            ? 'The link points to nothing (broken symlink).'
            : denied
              ? 'The file cannot be read (permission denied).'
              : `The file cannot be read (${code ?? String(err)}).`,
        );
        continue;
      }
      if (stat.isDirectory()) {
        const key = `${stat.dev}:${stat.ino}`;
        if (skipped.has(key)) {
          result.ignored.workspace++;
          continue;
        }
        if (visited.has(key)) {
          result.ignored.symlink_loop++;
          continue;
        }
        visited.add(key);
        walk(path, rel);
      } else if (stat.isFile() && isNotesFile(name)) {
        result.ignored.notes++;
      } else if (stat.isFile()) {
        result.files.push({ path, rel, size: stat.size, mtimeMs: stat.mtimeMs });
        if (onProgress !== undefined && result.files.length % 2000 === 0) {
          onProgress(result.files.length);
        }
      } else {
        result.ignored.not_a_file++;
      }
    }
  };
  walk(root, '');
  return result;
}
