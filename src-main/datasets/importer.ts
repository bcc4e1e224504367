/**
 * Importing folders into a dataset. The process that owns the catalog runs
 * this; a child process (`import-worker.ts`) scans and decodes and sends
 * results back; this side writes them in batched transactions and publishes
 * `import.progress` events. Cancel = abort signal (the child is stopped; what
 * was committed stays).
 *
 * Resumable by construction: a file already in the catalog with the same path,
 * size and modification time is not read again, so re-running an import that
 * was killed only decodes what is left, and items are keyed by content hash,
 * so nothing is duplicated. The same check makes a re-scan of an unchanged
 * folder cheap.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { basename, resolve } from 'node:path';

import { cancelled, expected, fromErrorData } from '../api/errors.ts';
import type { ApiEvent } from '../api/events.ts';
import {
  findDatasetByName,
  finishImport,
  insertDataset,
  startImport,
  touchDataset,
  upsertRoot,
  type LabelMode,
  type RootRow,
} from '../catalog/datasets.ts';
import { addNearDuplicates, duplicateCounts, itemHashes } from '../catalog/items-duplicates.ts';
import { issueCounts, presentFileCount, presentItemCount } from '../catalog/items-issues.ts';
import {
  knownFiles,
  markPresence,
  refreshItemDerived,
  relabelFiles,
  writeOutcomes,
  type FileOutcomeRecord,
  type FileRecord,
} from '../catalog/items.ts';
import type { Workspace } from '../catalog/workspace.ts';
import { logger } from '../log.ts';
import { DEFAULT_MAX_PIXELS, withAdvice } from './decode.ts';
import { nearDuplicatePairs } from './dhash.ts';
import type { DecodeJob, FromWorker, ToWorker } from './import-protocol.ts';
import {
  detectSplitLayout,
  labelFromCsv,
  unusedCsvRows,
  labelFromFolders,
  readLabelCsv,
  type CsvLabels,
  type FileLabel,
} from './labels.ts';
import type { IgnoreReason, ScanResult } from './scan.ts';
import { THUMB_SIZE } from './thumbs.ts';

const log = logger('import');

export interface ImportOptions {
  paths: string[];
  labels: LabelMode;
  /** Required when `labels` is `csv`. */
  csv?: string;
  /** Dataset name; default: the first folder's name. An existing name adds to that dataset. */
  name?: string;
  maxPixels?: number;
  /** Decodes in flight at once in the child (sharp runs them on its thread pool). */
  concurrency?: number;
}

export interface ImportSummary {
  datasetId: number;
  name: string;
  importId: number;
  /**
   * Everything found in the folders that is not ignored: each regular file, plus
   * each entry the scan could not look at (a name that is not valid UTF-8, a
   * broken link, a folder that cannot be read: one each). Every one of them has
   * exactly one outcome, so `imported + skippedTotal === files` and
   * `decoded + unchanged + scanProblems === files`. Exact duplicates count once
   * per file (each file is an alias of the same item, and is in `imported`).
   */
  files: number;
  /** Files now usable as items (new, changed and unchanged ones; duplicates included). */
  imported: number;
  /** Files read and decoded by this run (new or changed since the last import). */
  decoded: number;
  /** Files skipped by the size + modification-time check (known and unchanged). */
  unchanged: number;
  /** Entries refused by the scan itself (not decoded); each is also in `skipped`. */
  scanProblems: number;
  warned: number;
  /** Files not imported, by code (scan-time and decode-time problems). */
  skipped: Record<string, number>;
  skippedTotal: number;
  ignored: Record<IgnoreReason, number>;
  ignoredTotal: number;
  items: number;
  exactDuplicates: number;
  labelConflicts: number;
  splitConflicts: number;
  nearDuplicates: number;
  missing: number;
  csvUnmatched: number;
  /** Rows of the label CSV that name no file found in the folders (a wrong path or prefix). */
  csvUnused: number;
  /** The first such row, `path (line N)`, to show what did not match. */
  csvUnusedExample: string | null;
  seconds: number;
  /** CPU time of this process and of the import child during the import (all threads). */
  cpuSeconds: number;
}

function checkFolder(path: string): string {
  const abs = resolve(path);
  let isDir: boolean;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    throw expected('folder_not_found', `The folder ${abs} does not exist. Check the path.`);
  }
  if (!isDir) throw expected('not_a_folder', `${abs} is a file, not a folder. Give a folder.`);
  return abs;
}

type Emit = (event: ApiEvent) => void;

/** A forked import child with a promise-based request/response on top of IPC. */
class WorkerLink {
  private readonly child: ChildProcess;
  private handler: ((m: FromWorker) => void) | undefined;
  private failure: ((err: Error) => void) | undefined;

  constructor(signal: AbortSignal) {
    this.child = fork(new URL('./import-worker.ts', import.meta.url), [], {
      // tsx by its resolved location: a bare 'tsx' would be looked up from the current
      // directory, which is wherever the user ran the command from.
      execArgv: ['--import', import.meta.resolve('tsx')],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: FromWorker) => this.handler?.(m));
    this.child.on('exit', (code, sig) =>
      this.failure?.(
        signal.aborted
          ? cancelled('The import')
          : expected(
              'import_worker_died',
              `The import process stopped unexpectedly (${sig ?? `exit code ${code}`}). Run the import again; it resumes where it stopped.`,
            ),
      ),
    );
    signal.addEventListener('abort', () => this.child.kill('SIGTERM'), { once: true });
  }

  /** Sends `request`, passes every reply to `onMessage` until it returns a value. */
  run<T>(request: ToWorker, onMessage: (m: FromWorker) => T | undefined): Promise<T> {
    return new Promise<T>((resolvePromise, reject) => {
      this.failure = reject;
      this.handler = (m) => {
        try {
          if (m.type === 'error') throw fromErrorData(m.error);
          const done = onMessage(m);
          if (done !== undefined) resolvePromise(done);
        } catch (err) {
          reject(err as Error);
        }
      };
      this.child.send(request);
    });
  }

  close(): void {
    this.failure = undefined;
    if (this.child.connected) this.child.disconnect();
  }
}

/** Runs an import; resolves with its summary, rejects with a StudioError (or cancelled). */
export async function runImport(
  ws: Workspace,
  options: ImportOptions,
  emit: Emit,
  signal: AbortSignal,
): Promise<ImportSummary> {
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const roots = options.paths.map(checkFolder);
  if (roots.length === 0) throw expected('no_folder', 'Give at least one folder to import.');
  let csv: CsvLabels | undefined;
  if (options.labels === 'csv') {
    if (options.csv === undefined) {
      throw expected('csv_missing', 'With --labels csv:FILE, give the CSV file after "csv:".');
    }
    csv = readLabelCsv(resolve(options.csv));
  }
  const name = options.name ?? basename(roots[0]!);
  const db = ws.db;
  const dataset = findDatasetByName(db, name) ?? insertDataset(db, name, options.labels);
  touchDataset(db, dataset.id, options.labels);
  const importId = startImport(db, dataset.id);
  const progress = (
    phase: 'scan' | 'decode' | 'duplicates' | 'done',
    done: number,
    total: number | null,
    imported: number,
    skipped: number,
  ) =>
    emit({ type: 'import.progress', datasetId: dataset.id, phase, done, total, imported, skipped });

  const link = new WorkerLink(signal);
  try {
    if (signal.aborted) throw cancelled('The import');

    // Phase 1: scan every root in the child, while this process reads what the
    // catalog already knows of the dataset's files.
    progress('scan', 0, null, 0, 0);
    let childCpu = 0;
    const scanning = link.run({ type: 'scan', roots, skip: [ws.root] }, (m) => {
      if (m.type === 'scan-progress') progress('scan', m.found, null, 0, 0);
      if (m.type !== 'scanned') return undefined;
      childCpu = m.cpuSeconds;
      return m.results;
    });
    let known: ReturnType<typeof knownFiles>;
    try {
      known = knownFiles(db, dataset.id);
    } catch (err) {
      scanning.catch(() => {}); // the error below is the one to report
      throw err;
    }
    const scans = await scanning;

    // Phase 2: decide, file by file, what needs decoding; write scan-time problems.
    const rootRows: RootRow[] = [];
    const seen = new Set<string>();
    const jobs: DecodeJob[] = [];
    const pending = new Map<number, FileRecord>();
    const relabel: Array<{ path: string } & FileLabel> = [];
    const scanProblems: FileOutcomeRecord[] = [];
    const ignored: Record<IgnoreReason, number> = {
      os_debris: 0,
      hidden: 0,
      symlink_loop: 0,
      not_a_file: 0,
      notes: 0,
      workspace: 0,
    };
    let csvUnmatched = 0;
    const csvUsed = new Set<number>();
    scans.forEach((scan: ScanResult, r) => {
      const splitLayout =
        options.labels === 'imagefolder' && detectSplitLayout(scan.files.map((f) => f.rel));
      const root = upsertRoot(db, dataset.id, roots[r]!, csv?.file ?? null, splitLayout);
      rootRows.push(root);
      for (const [k, v] of Object.entries(scan.ignored)) ignored[k as IgnoreReason] += v;
      for (const p of scan.problems) {
        seen.add(p.path);
        scanProblems.push({
          file: {
            rootId: root.id,
            path: p.path,
            rel: p.rel,
            size: -1,
            mtimeMs: 0,
            label: null,
            split: null,
          },
          issues: [{ kind: 'skipped', code: p.code, message: withAdvice(p.code, p.message) }],
        });
      }
      for (const f of scan.files) {
        let lab: FileLabel = { label: null, split: null };
        if (options.labels === 'imagefolder') lab = labelFromFolders(f.rel, splitLayout);
        else if (csv !== undefined) {
          const row = labelFromCsv(csv, f.path, f.rel);
          if (row === undefined) csvUnmatched++;
          else {
            lab = { label: row.label, split: row.split };
            csvUsed.add(row.line);
          }
        }
        seen.add(f.path);
        const before = known.get(f.path);
        if (before !== undefined && before.size === f.size && before.mtimeMs === f.mtimeMs) {
          if (
            before.label !== undefined &&
            (before.label !== lab.label || before.split !== lab.split)
          ) {
            relabel.push({ path: f.path, ...lab });
          }
          continue;
        }
        const key = jobs.length;
        jobs.push({ key, path: f.path, size: f.size });
        pending.set(key, {
          rootId: root.id,
          path: f.path,
          rel: f.rel,
          size: f.size,
          mtimeMs: f.mtimeMs,
          ...lab,
        });
      }
    });
    writeOutcomes(db, dataset.id, scanProblems);
    relabelFiles(db, dataset.id, relabel);
    const unchanged = seen.size - scanProblems.length - jobs.length;

    // Phase 3: decode what is new or changed; commit each batch as it arrives.
    let decoded = 0;
    let ok = 0;
    let failed = 0;
    progress('decode', 0, jobs.length, 0, 0);
    if (jobs.length > 0) {
      await link.run(
        {
          type: 'decode',
          jobs,
          options: {
            workspace: ws.root,
            maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
            thumbSize: THUMB_SIZE,
          },
          concurrency: options.concurrency ?? 6,
        },
        (m) => {
          if (m.type === 'decode-done') {
            childCpu = m.cpuSeconds;
            return true;
          }
          if (m.type !== 'decoded') return undefined;
          const batch: FileOutcomeRecord[] = m.results.map((res) => {
            const file = pending.get(res.key)!;
            if (!res.ok) {
              failed++;
              const message = withAdvice(res.code, res.message);
              return { file, issues: [{ kind: 'skipped', code: res.code, message }] };
            }
            ok++;
            const { warnings, ...item } = res.facts;
            return {
              file,
              item,
              issues: warnings.map((w) => ({ kind: 'warning' as const, ...w })),
            };
          });
          writeOutcomes(db, dataset.id, batch);
          decoded += batch.length;
          progress('decode', decoded, jobs.length, ok, failed);
          return undefined;
        },
      );
    }
    link.close();

    // Phase 4: presence, derived labels and conflicts, near duplicates.
    progress('duplicates', 0, null, ok, failed);
    const rootIds = rootRows.map((r) => r.id);
    const { missing, changed } = markPresence(db, dataset.id, rootIds, seen, known);
    // Labels, splits and conflict flags derive from the present files: nothing to redo
    // when no file was written, relabelled, skipped or changed presence (an unchanged
    // re-scan).
    if (decoded + changed + relabel.length + scanProblems.length > 0)
      refreshItemDerived(db, dataset.id);
    // Near-duplicate pairs only change when new items arrived (a missing item's pairs are
    // hidden by the queries), so an unchanged re-scan skips the search.
    const items = ok > 0 ? itemHashes(db, dataset.id) : undefined;
    if (items !== undefined) addNearDuplicates(db, dataset.id, nearDuplicatePairs(items));
    const dups = duplicateCounts(db, dataset.id);
    const issues = issueCounts(db, dataset.id, rootIds);
    const summary: ImportSummary = {
      datasetId: dataset.id,
      name: dataset.name,
      importId,
      files: seen.size,
      imported: presentFileCount(db, dataset.id, rootIds),
      decoded,
      unchanged,
      scanProblems: scanProblems.length,
      warned: issues.warned,
      skipped: issues.skipped,
      skippedTotal: Object.values(issues.skipped).reduce((a, b) => a + b, 0),
      ignored,
      ignoredTotal: Object.values(ignored).reduce((a, b) => a + b, 0),
      items: items?.length ?? presentItemCount(db, dataset.id),
      exactDuplicates: dups.exact,
      labelConflicts: dups.labelConflicts,
      splitConflicts: dups.splitConflicts,
      nearDuplicates: dups.near,
      missing,
      csvUnmatched,
      ...(() => {
        const unused = csv === undefined ? [] : unusedCsvRows(csv, csvUsed);
        const first = unused[0];
        return {
          csvUnused: unused.length,
          csvUnusedExample: first === undefined ? null : `${first[0]} (line ${first[1]})`,
        };
      })(),
      seconds: (performance.now() - started) / 1000,
      cpuSeconds: (() => {
        const cpu = process.cpuUsage(cpuStart);
        return (cpu.user + cpu.system) / 1e6 + childCpu;
      })(),
    };
    finishImport(db, importId, 'done', summary);
    touchDataset(db, dataset.id);
    progress('done', decoded, jobs.length, ok, failed);
    log.info(
      `imported ${summary.imported} files into "${dataset.name}" (${decoded} decoded, ${unchanged} unchanged, ${summary.skippedTotal} skipped) in ${summary.seconds.toFixed(1)} s`,
    );
    return summary;
  } catch (err) {
    link.close();
    const status = signal.aborted ? 'cancelled' : 'failed';
    finishImport(db, importId, status, { error: (err as Error).message });
    throw signal.aborted ? cancelled('The import') : err;
  }
}
