/**
 * Where labels and splits come from at import.
 *
 * - `imagefolder`: `<root>/<class>/…`, or `<root>/<split>/<class>/…` when every
 *   top-level folder of the root is a split name (train, val, test; any case).
 *   Files directly in the root (or directly in a split folder) have no label.
 * - `csv:FILE`: rows `path,label[,split]`, paths relative to the imported
 *   folder (or absolute); an optional first row `path,label,split` is a header.
 *   Files the CSV does not name have no label.
 * - `none`: no labels; splits are set later.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, normalize } from 'node:path';

import { expected } from '../api/errors.ts';
import type { Split } from '../catalog/datasets.ts';
import { parseCsv } from './csv.ts';

const SPLIT_NAMES: Record<string, Split> = { train: 'train', val: 'val', test: 'test' };

export function splitName(folder: string): Split | undefined {
  return SPLIT_NAMES[folder.toLowerCase()];
}

/** True when every top-level folder holding files is named train, val or test. */
export function detectSplitLayout(rels: readonly string[]): boolean {
  const tops = new Set<string>();
  for (const rel of rels) {
    const slash = rel.indexOf('/');
    if (slash > 0) tops.add(rel.slice(0, slash));
  }
  return tops.size > 0 && [...tops].every((t) => splitName(t) !== undefined);
}

export interface FileLabel {
  label: string | null;
  split: Split | null;
}

export function labelFromFolders(rel: string, splitLayout: boolean): FileLabel {
  const parts = rel.split('/');
  if (splitLayout) {
    const split = splitName(parts[0]!) ?? null;
    return { split, label: parts.length >= 3 ? parts[1]! : null };
  }
  return { split: null, label: parts.length >= 2 ? parts[0]! : null };
}

export interface CsvLabels {
  file: string;
  rows: Map<string, FileLabel & { line: number }>;
}

function csvKey(path: string): string {
  return normalize(path).replace(/\\/g, '/').replace(/^\.\//, '');
}

/** Reads a label CSV; a bad row is an error naming the file, the line and the field. */
export function readLabelCsv(file: string): CsvLabels {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw expected(
      'csv_unreadable',
      code === 'ENOENT'
        ? `The label file ${file} does not exist. Check the path given after "csv:".`
        : `The label file ${file} cannot be read (${code ?? String(err)}). Check the path and its permissions.`,
    );
  }
  const rows = parseCsv(text);
  const out = new Map<string, FileLabel & { line: number }>();
  const bad = (line: number, what: string) =>
    expected('csv_invalid', `${file} line ${line}: ${what}. Fix the row and import again.`);
  rows.forEach(({ line, fields }, index) => {
    if (index === 0 && fields[0]?.trim().toLowerCase() === 'path') return;
    if (fields.length < 2 || fields.length > 3) {
      throw bad(line, `expected 2 or 3 fields (path,label[,split]), found ${fields.length}`);
    }
    const [path, label, split] = fields.map((f) => f.trim()) as [string, string, string?];
    if (path === '') throw bad(line, "the field 'path' is empty");
    if (label === '') throw bad(line, "the field 'label' is empty");
    let s: Split | null = null;
    if (split !== undefined && split !== '') {
      const known = splitName(split);
      if (known === undefined) {
        throw bad(line, `the field 'split' is ${JSON.stringify(split)}; use train, val or test`);
      }
      s = known;
    }
    const key = csvKey(path);
    const before = out.get(key);
    if (before !== undefined && (before.label !== label || before.split !== s)) {
      throw bad(
        line,
        `the field 'path' repeats line ${before.line} with a different label or split`,
      );
    }
    out.set(key, { label, split: s, line });
  });
  return { file, rows: out };
}

/** The CSV row of a file (by its relative path, else its absolute one), with the row's line. */
export function labelFromCsv(
  csv: CsvLabels,
  absPath: string,
  rel: string,
): (FileLabel & { line: number }) | undefined {
  const row =
    csv.rows.get(csvKey(rel)) ?? (isAbsolute(absPath) ? csv.rows.get(csvKey(absPath)) : undefined);
  return row === undefined ? undefined : { label: row.label, split: row.split, line: row.line };
}

/** The CSV's rows that name no file found, as `[path, line]`, in line order. */
export function unusedCsvRows(
  csv: CsvLabels,
  usedLines: ReadonlySet<number>,
): Array<[string, number]> {
  return [...csv.rows.entries()]
    .filter(([, row]) => !usedLines.has(row.line))
    .map(([path, row]): [string, number] => [path, row.line])
    .sort((a, b) => a[1] - b[1]);
}
