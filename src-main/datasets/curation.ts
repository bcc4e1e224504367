/**
 * Curation that needs more than one query: finding a dataset or version from
 * what the user typed, splitting at random (seeded, stratified by label) and
 * splitting from a CSV.
 */
import { readFileSync } from 'node:fs';

import { expected } from '../api/errors.ts';
import { findDatasetByName, getDataset, type DatasetRow, type Split } from '../catalog/datasets.ts';
import type { Db } from '../catalog/db.ts';
import { itemsForPaths, setSplits, splittableItems } from '../catalog/items-curation.ts';
import { findVersion, getVersion, listVersions, type Version } from '../catalog/versions.ts';
import { Rng } from '../engine/rng.ts';
import { parseCsv } from './csv.ts';
import { splitName } from './labels.ts';

/** A dataset by id (number or digits) or by name. */
export function resolveDataset(db: Db, ref: string | number): DatasetRow {
  const byId =
    typeof ref === 'number' || /^\d+$/.test(ref) ? getDataset(db, Number(ref)) : undefined;
  const found = byId ?? (typeof ref === 'string' ? findDatasetByName(db, ref) : undefined);
  if (found === undefined) {
    throw expected(
      'dataset_not_found',
      `There is no dataset ${JSON.stringify(String(ref))}. Run \`lejepa-studio datasets\` to see them.`,
    );
  }
  return found;
}

/**
 * A version from `v<id>` (global version id), `<dataset>@<number>`, or
 * `<dataset>` (its newest version). A plain number is a version id.
 */
export function resolveVersion(db: Db, ref: string | number): Version {
  const text = String(ref);
  let version: Version | undefined;
  const byId = /^v?(\d+)$/.exec(text);
  const at = /^(.*)@(\d+)$/.exec(text);
  if (byId !== null && typeof ref === 'number') version = getVersion(db, Number(byId[1]));
  else if (byId !== null && text.startsWith('v')) version = getVersion(db, Number(byId[1]));
  else if (at !== null) version = findVersion(db, resolveDataset(db, at[1]!).id, Number(at[2]));
  else if (byId !== null) version = getVersion(db, Number(byId[1]));
  else version = listVersions(db, resolveDataset(db, text).id).at(-1);
  if (version === undefined) {
    throw expected(
      'version_not_found',
      `There is no dataset version ${JSON.stringify(text)}. Run \`lejepa-studio dataset version list DATASET\`, or freeze one with \`dataset version create\`.`,
    );
  }
  return version;
}

export interface SplitRatios {
  train: number;
  val: number;
  test: number;
}

/**
 * Assigns splits at random with the given ratios, separately inside each label
 * (stratified), drawing from a seeded generator: the same seed and the same
 * items give the same splits. Excluded and missing items are left alone.
 */
export function randomSplit(
  db: Db,
  datasetId: number,
  ratios: SplitRatios,
  seed: number,
  onlyUnassigned = false,
): Record<Split, number> {
  const sum = ratios.train + ratios.val + ratios.test;
  if (!(sum > 0) || [ratios.train, ratios.val, ratios.test].some((r) => r < 0)) {
    throw expected('invalid_ratios', 'Split ratios must be zero or more, and not all zero.');
  }
  const groups = new Map<string, number[]>();
  for (const it of splittableItems(db, datasetId, onlyUnassigned)) {
    const key = it.label ?? '\u0000';
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [it.id]);
    else list.push(it.id);
  }
  const rng = new Rng(seed);
  const counts: Record<Split, number> = { train: 0, val: 0, test: 0 };
  const rows: Array<{ id: number; split: Split }> = [];
  for (const key of [...groups.keys()].sort()) {
    const ids = rng.shuffle(groups.get(key)!);
    const nVal = Math.round((ids.length * ratios.val) / sum);
    const nTest = Math.round((ids.length * ratios.test) / sum);
    ids.forEach((id, i) => {
      const split: Split = i < nVal ? 'val' : i < nVal + nTest ? 'test' : 'train';
      counts[split]++;
      rows.push({ id, split });
    });
  }
  setSplits(db, rows);
  return counts;
}

/** Sets splits from a CSV `path,split` (or `path,label,split`: the last field is the split). */
export function splitFromCsv(
  db: Db,
  datasetId: number,
  file: string,
): { updated: number; unknown: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw expected(
      'csv_unreadable',
      `The split file ${file} cannot be read (${(err as Error).message}).`,
    );
  }
  const rows: Array<{ path: string; split: Split }> = [];
  parseCsv(text).forEach(({ line, fields }, index) => {
    if (index === 0 && fields[0]?.trim().toLowerCase() === 'path') return;
    if (fields.length < 2) {
      throw expected(
        'csv_invalid',
        `${file} line ${line}: expected path,split; found ${fields.length} field.`,
      );
    }
    const raw = fields[fields.length - 1]!.trim();
    const split = splitName(raw);
    if (split === undefined) {
      throw expected(
        'csv_invalid',
        `${file} line ${line}: the field 'split' is ${JSON.stringify(raw)}; use train, val or test.`,
      );
    }
    rows.push({ path: fields[0]!.trim(), split });
  });
  const { ids, unknown } = itemsForPaths(
    db,
    datasetId,
    rows.map((r) => r.path),
  );
  const bySplit = new Map(rows.map((r) => [r.path, r.split]));
  const unknownSet = new Set(unknown);
  const known = rows.filter((r) => !unknownSet.has(r.path));
  const updated = setSplits(
    db,
    ids.map((id, i) => ({ id, split: bySplit.get(known[i]!.path)! })),
  );
  return { updated, unknown };
}
