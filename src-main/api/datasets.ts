/**
 * `dataset.*`: import folders, read what was found, curate, freeze versions,
 * build tensor caches. Inputs are validated by the zod schemas below.
 */
import { readFileSync } from 'node:fs';

import { z } from 'zod';

import {
  datasetStats,
  lastImport,
  listDatasets,
  listRoots,
  type DatasetRow,
} from '../catalog/datasets.ts';
import type { Db } from '../catalog/db.ts';
import { duplicateCounts, exactDuplicates, nearDuplicates } from '../catalog/items-duplicates.ts';
import {
  excludeItems,
  itemsForPaths,
  itemsOfDataset,
  setLabels,
  setSplits,
  tagItems,
} from '../catalog/items-curation.ts';
import { listIssues } from '../catalog/items-issues.ts';
import { labelCounts, queryItems, tagCounts } from '../catalog/items-query.ts';
import { getItem, itemFiles } from '../catalog/items.ts';
import { createVersion, listVersions, versionItems } from '../catalog/versions.ts';
import { randomSplit, resolveDataset, resolveVersion, splitFromCsv } from '../datasets/curation.ts';
import { runImport } from '../datasets/importer.ts';
import { buildTensorCache } from '../datasets/tensor-cache.ts';
import { expected } from './errors.ts';
import { defineMethod, type MethodDef } from './method.ts';

const DatasetRef = z.union([z.number().int().positive(), z.string().min(1)]);
const SplitName = z.enum(['train', 'val', 'test']);
const Selection = {
  dataset: DatasetRef,
  items: z.array(z.number().int().positive()).optional(),
  paths: z.array(z.string().min(1)).optional(),
};

function selectItems(
  db: Db,
  dataset: DatasetRow,
  sel: { items?: number[] | undefined; paths?: string[] | undefined },
): number[] {
  if ((sel.items?.length ?? 0) === 0 && (sel.paths?.length ?? 0) === 0) {
    throw expected('no_items', 'Name the items to change (item ids or file paths).');
  }
  const ids = itemsOfDataset(db, dataset.id, sel.items ?? []);
  const foreign = (sel.items ?? []).filter((id) => !ids.includes(id));
  if (foreign.length > 0) {
    throw expected(
      'item_not_found',
      `Item ${foreign.slice(0, 5).join(', ')} is not in dataset "${dataset.name}".`,
    );
  }
  const byPath = itemsForPaths(db, dataset.id, sel.paths ?? []);
  if (byPath.unknown.length > 0) {
    throw expected(
      'item_not_found',
      `No file ${JSON.stringify(byPath.unknown[0])} in dataset "${dataset.name}"${byPath.unknown.length > 1 ? ` (and ${byPath.unknown.length - 1} more)` : ''}. Give paths as imported, absolute or relative to the imported folder.`,
    );
  }
  return [...new Set([...ids, ...byPath.ids])];
}

function datasetSummary(db: Db, d: DatasetRow) {
  return {
    id: d.id,
    name: d.name,
    labels: d.labels,
    createdAt: d.created_at,
    updatedAt: d.updated_at,
    ...datasetStats(db, d.id),
  };
}

export const datasetMethods: MethodDef[] = [
  defineMethod({
    name: 'dataset.import',
    summary: 'Import (or re-scan) image folders into a dataset',
    writes: true,
    input: z.object({
      paths: z.array(z.string().min(1)).min(1),
      labels: z.enum(['imagefolder', 'csv', 'none']).default('imagefolder'),
      csv: z.string().min(1).optional(),
      name: z.string().min(1).max(200).optional(),
      maxPixels: z.number().int().positive().optional(),
    }),
    run: (ctx, input) => runImport(ctx.ws, input, ctx.emit, ctx.signal),
  }),
  defineMethod({
    name: 'dataset.list',
    summary: 'List datasets with their counts',
    writes: false,
    input: z.object({}),
    run: (ctx) => listDatasets(ctx.ws.db).map((d) => datasetSummary(ctx.ws.db, d)),
  }),
  defineMethod({
    name: 'dataset.show',
    summary: 'One dataset: folders, counts, classes, tags, duplicates, versions',
    writes: false,
    input: z.object({ dataset: DatasetRef }),
    run: (ctx, input) => {
      const db = ctx.ws.db;
      const d = resolveDataset(db, input.dataset);
      const last = lastImport(db, d.id);
      return {
        ...datasetSummary(db, d),
        roots: listRoots(db, d.id).map((r) => ({
          path: r.path,
          csv: r.csv_path,
          splitLayout: r.split_layout === 1,
        })),
        classes: labelCounts(db, d.id),
        tags: tagCounts(db, d.id),
        duplicates: duplicateCounts(db, d.id),
        lastImport:
          last === undefined
            ? null
            : {
                status: last.status,
                startedAt: last.started_at,
                finishedAt: last.finished_at,
                summary: last.summary === null ? null : (JSON.parse(last.summary) as unknown),
              },
        versions: listVersions(db, d.id),
      };
    },
  }),
  defineMethod({
    name: 'dataset.errors',
    summary: 'Files that were skipped or imported with a warning, with their codes',
    writes: false,
    input: z.object({
      dataset: DatasetRef,
      kind: z.enum(['skipped', 'warning']).optional(),
      code: z.string().optional(),
      offset: z.number().int().min(0).default(0),
      limit: z.number().int().min(1).max(10000).default(1000),
    }),
    run: (ctx, input) => {
      const d = resolveDataset(ctx.ws.db, input.dataset);
      return listIssues(ctx.ws.db, d.id, input);
    },
  }),
  defineMethod({
    name: 'dataset.duplicates',
    summary: 'Exact duplicates (with conflicts) and near duplicates for review',
    writes: false,
    input: z.object({
      dataset: DatasetRef,
      limit: z.number().int().min(1).max(10000).default(500),
    }),
    run: (ctx, input) => {
      const d = resolveDataset(ctx.ws.db, input.dataset);
      return {
        counts: duplicateCounts(ctx.ws.db, d.id),
        exact: exactDuplicates(ctx.ws.db, d.id, input.limit),
        near: nearDuplicates(ctx.ws.db, d.id, input.limit),
      };
    },
  }),
  defineMethod({
    name: 'dataset.items',
    summary: 'Items of a dataset, paged and filtered',
    writes: false,
    input: z.object({
      dataset: DatasetRef,
      label: z.string().nullable().optional(),
      split: z.enum(['train', 'val', 'test', 'none']).optional(),
      tag: z.string().optional(),
      excluded: z.boolean().optional(),
      duplicates: z.enum(['exact', 'near', 'conflict']).optional(),
      search: z.string().optional(),
      offset: z.number().int().min(0).default(0),
      limit: z.number().int().min(1).max(5000).default(200),
    }),
    run: (ctx, { dataset, offset, limit, ...filter }) => {
      const d = resolveDataset(ctx.ws.db, dataset);
      return queryItems(ctx.ws.db, d.id, filter, { offset, limit });
    },
  }),
  defineMethod({
    name: 'dataset.item',
    summary: 'One item with all its files (aliases)',
    writes: false,
    input: z.object({ item: z.number().int().positive() }),
    run: (ctx, input) => {
      const item = getItem(ctx.ws.db, input.item);
      if (item === undefined) throw expected('item_not_found', `There is no item ${input.item}.`);
      return { ...item, files: itemFiles(ctx.ws.db, item.id) };
    },
  }),
  defineMethod({
    name: 'dataset.thumbnail',
    summary: "An item's thumbnail (JPEG or PNG, base64)",
    writes: false,
    input: z.object({ item: z.number().int().positive() }),
    run: (ctx, input) => {
      const item = getItem(ctx.ws.db, input.item);
      if (item === undefined) throw expected('item_not_found', `There is no item ${input.item}.`);
      const path = ctx.ws.path(item.thumb);
      let data: Buffer;
      try {
        data = readFileSync(path);
      } catch {
        throw expected(
          'thumbnail_missing',
          `The thumbnail ${path} is missing. Import the dataset's folder again to recreate it.`,
        );
      }
      const mime = item.thumb.endsWith('.png') ? 'image/png' : 'image/jpeg';
      return { item: item.id, mime, path, data: data.toString('base64') };
    },
  }),
  defineMethod({
    name: 'dataset.tag',
    summary: 'Add (or remove) a tag on items',
    writes: true,
    input: z.object({
      ...Selection,
      tag: z.string().min(1).max(100),
      remove: z.boolean().default(false),
    }),
    run: (ctx, input) => {
      const d = resolveDataset(ctx.ws.db, input.dataset);
      const ids = selectItems(ctx.ws.db, d, input);
      return { changed: tagItems(ctx.ws.db, d.id, ids, input.tag, input.remove) };
    },
  }),
  defineMethod({
    name: 'dataset.exclude',
    summary: 'Exclude items from future versions (or include them again)',
    writes: true,
    input: z.object({
      ...Selection,
      exclude: z.boolean().default(true),
      reason: z.string().max(500).optional(),
    }),
    run: (ctx, input) => {
      const d = resolveDataset(ctx.ws.db, input.dataset);
      const ids = selectItems(ctx.ws.db, d, input);
      return { changed: excludeItems(ctx.ws.db, ids, input.exclude, input.reason ?? null) };
    },
  }),
  defineMethod({
    name: 'dataset.label',
    summary: 'Set the label of items by hand (null removes it)',
    writes: true,
    input: z.object({ ...Selection, label: z.string().min(1).max(200).nullable() }),
    run: (ctx, input) => {
      const d = resolveDataset(ctx.ws.db, input.dataset);
      return { changed: setLabels(ctx.ws.db, selectItems(ctx.ws.db, d, input), input.label) };
    },
  }),
  defineMethod({
    name: 'dataset.split.set',
    summary: 'Set the split of items by hand (null returns them to the imported split)',
    writes: true,
    input: z.object({ ...Selection, split: SplitName.nullable() }),
    run: (ctx, input) => {
      const d = resolveDataset(ctx.ws.db, input.dataset);
      const ids = selectItems(ctx.ws.db, d, input);
      return {
        changed: setSplits(
          ctx.ws.db,
          ids.map((id) => ({ id, split: input.split })),
        ),
      };
    },
  }),
  defineMethod({
    name: 'dataset.split.csv',
    summary: 'Set splits from a CSV file (path,split)',
    writes: true,
    input: z.object({ dataset: DatasetRef, file: z.string().min(1) }),
    run: (ctx, input) => {
      const d = resolveDataset(ctx.ws.db, input.dataset);
      return splitFromCsv(ctx.ws.db, d.id, input.file);
    },
  }),
  defineMethod({
    name: 'dataset.split.random',
    summary: 'Split at random by ratio, stratified by label, from a seed',
    writes: true,
    input: z.object({
      dataset: DatasetRef,
      train: z.number().min(0).default(0.8),
      val: z.number().min(0).default(0.1),
      test: z.number().min(0).default(0.1),
      seed: z
        .number()
        .int()
        .min(0)
        .max(2 ** 32 - 1)
        .default(0),
      onlyUnassigned: z.boolean().default(false),
    }),
    run: (ctx, input) => {
      const d = resolveDataset(ctx.ws.db, input.dataset);
      return randomSplit(ctx.ws.db, d.id, input, input.seed, input.onlyUnassigned);
    },
  }),
  defineMethod({
    name: 'dataset.version.create',
    summary: 'Freeze the dataset as an immutable version',
    writes: true,
    input: z.object({
      dataset: DatasetRef,
      name: z.string().max(200).optional(),
      note: z.string().max(2000).optional(),
    }),
    run: (ctx, input) => {
      const d = resolveDataset(ctx.ws.db, input.dataset);
      const result = createVersion(ctx.ws.db, d.id, input);
      if (result.version.itemCount === 0) {
        throw expected(
          'dataset_empty',
          `Dataset "${d.name}" has no usable items to freeze. Import a folder first.`,
        );
      }
      return result;
    },
  }),
  defineMethod({
    name: 'dataset.version.list',
    summary: 'Versions of a dataset (or of all datasets)',
    writes: false,
    input: z.object({ dataset: DatasetRef.optional() }),
    run: (ctx, input) =>
      listVersions(
        ctx.ws.db,
        input.dataset === undefined ? undefined : resolveDataset(ctx.ws.db, input.dataset).id,
      ),
  }),
  defineMethod({
    name: 'dataset.version.show',
    summary: 'One version, with its items (paged)',
    writes: false,
    input: z.object({
      version: z.union([z.number().int().positive(), z.string().min(1)]),
      offset: z.number().int().min(0).default(0),
      limit: z.number().int().min(0).max(100000).default(0),
    }),
    run: (ctx, input) => {
      const version = resolveVersion(ctx.ws.db, input.version);
      const items =
        input.limit === 0
          ? []
          : versionItems(ctx.ws.db, version.id).slice(input.offset, input.offset + input.limit);
      return { ...version, items };
    },
  }),
  defineMethod({
    name: 'dataset.cache.build',
    summary: 'Build (or reuse) the tensor cache of a version at a size and channel count',
    writes: true,
    input: z.object({
      version: z.union([z.number().int().positive(), z.string().min(1)]),
      size: z.number().int().min(8).max(1024),
      channels: z.union([z.literal(1), z.literal(3)]),
    }),
    run: (ctx, input) => {
      const version = resolveVersion(ctx.ws.db, input.version);
      const jobId = `cache-v${version.id}-${input.size}x${input.channels}`;
      return buildTensorCache(
        ctx.ws,
        version.id,
        { size: input.size, channels: input.channels },
        (done, total) =>
          ctx.emit({ type: 'job.progress', jobId, kind: 'tensor-cache', done, total }),
        ctx.signal,
      );
    },
  }),
];
