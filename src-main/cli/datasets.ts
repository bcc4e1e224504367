/**
 * Dataset commands: `import`, `datasets`, `dataset show|errors|duplicates|items|
 * tag|exclude|split|version|cache|fashion-mnist-export`. Each calls `dataset.*`
 * api methods and prints a readable table (or the result object with --json).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { expected } from '../api/errors.ts';
import type { ImportSummary } from '../datasets/importer.ts';
import { exportFashionMnist } from '../datasets/fashion-mnist.ts';
import { countsText, textTable } from '../datasets/text-table.ts';
import { numberOption, type ParsedArgs } from './args.ts';
import type { CliCommand } from './command.ts';

type Row = Record<string, unknown>;

function need(args: ParsedArgs, index: number, what: string, usage: string): string {
  const v = args.positionals[index];
  if (v === undefined)
    throw expected('invalid_option', `Missing ${what}. Usage: lejepa-studio ${usage}`);
  return v;
}

/** Item ids (digits) and file paths from positionals; paths on disk become absolute. */
function selection(values: string[]): { items: number[]; paths: string[] } {
  const items: number[] = [];
  const paths: string[] = [];
  for (const v of values) {
    if (/^\d+$/.test(v)) items.push(Number(v));
    else paths.push(existsSync(v) ? resolve(v) : v);
  }
  return { items, paths };
}

/** Progress on stderr (with or without --json: stdout only ever carries the result). */
function progressPrinter(): (line: string) => void {
  let last = 0;
  return (line) => {
    const now = Date.now();
    if (process.stderr.isTTY) process.stderr.write(`\r${line}\u001b[K`);
    else if (now - last > 2000) {
      process.stderr.write(line + '\n');
      last = now;
    }
  };
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
const items = (n: number) => count(n, 'item');

/** A dataset name as one shell word (quoted when it has spaces or other special characters). */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function importText(s: ImportSummary, workspace: string): string {
  const ignored = countsText(s.ignored);
  return [
    `Dataset "${s.name}" (id ${s.datasetId}): ${items(s.items)} from ${count(s.imported, 'file')}`,
    `Workspace: ${resolve(workspace)}`,
    textTable(
      ['outcome', 'files', 'detail'],
      [
        ['imported', s.imported, `${s.decoded} new or changed, ${s.unchanged} unchanged`],
        ['warned', s.warned, 'imported with a warning (see `dataset errors --warnings`)'],
        ['skipped', s.skippedTotal, countsText(s.skipped)],
        ['ignored', s.ignoredTotal, ignored],
      ],
    ),
    `Duplicates: ${items(s.exactDuplicates)} with exact copies (${s.labelConflicts} with different labels, ${s.splitConflicts} across train and val/test), ${count(s.nearDuplicates, 'near-duplicate pair')} to review.` +
      (s.missing > 0 ? `\n${s.missing} files known before are missing now.` : '') +
      (s.csvUnmatched > 0 ? `\n${s.csvUnmatched} files are not named in the CSV (no label).` : '') +
      (s.csvUnused > 0
        ? `\n${s.csvUnused} rows of the CSV name no file found, e.g. ${s.csvUnusedExample}. Paths in the CSV are relative to the imported folder (or absolute).`
        : ''),
    `Took ${s.seconds.toFixed(1)} s.`,
    ...(s.skippedTotal > 0
      ? [
          `Each skipped file, with why and what to do: lejepa-studio dataset errors ${shellWord(s.name)}`,
        ]
      : []),
    ...(s.warned > 0
      ? [
          `Files imported with a warning: lejepa-studio dataset errors ${shellWord(s.name)} --warnings`,
        ]
      : []),
  ].join('\n');
}

const importCommand: CliCommand = {
  name: 'import',
  usage:
    'import PATH... [--labels imagefolder|csv:FILE|none] [--name NAME] [--strict] [--max-pixels N]',
  summary: 'Import image folders into a dataset (or re-scan them)',
  options: {
    labels: {
      type: 'string',
      help: 'imagefolder (default), csv:FILE (path,label[,split]) or none',
    },
    name: { type: 'string', help: "dataset name (default: the first folder's name)" },
    strict: { type: 'boolean', help: 'exit with status 1 when any file was skipped' },
    'max-pixels': { type: 'string', help: 'pixel limit per image (default 100000000)' },
  },
  async run(ctx, args) {
    if (args.positionals.length === 0) {
      throw expected('invalid_option', 'Give at least one folder: lejepa-studio import PATH...');
    }
    const raw = typeof args.options.labels === 'string' ? args.options.labels : 'imagefolder';
    let labels: 'imagefolder' | 'csv' | 'none';
    let csv: string | undefined;
    if (raw.startsWith('csv:')) {
      labels = 'csv';
      csv = resolve(raw.slice(4));
    } else if (raw === 'imagefolder' || raw === 'none') labels = raw;
    else {
      throw expected(
        'invalid_option',
        `--labels must be imagefolder, csv:FILE or none, got ${JSON.stringify(raw)}.`,
      );
    }
    const show = progressPrinter();
    ctx.onEvent((e) => {
      if (e.type !== 'import.progress') return;
      if (e.phase === 'scan') show(e.done === 0 ? 'scanning…' : `scanning… ${e.done} files found`);
      else if (e.phase === 'decode')
        show(`importing ${e.done}/${e.total ?? '?'} (${e.skipped} skipped)`);
      else if (e.phase === 'duplicates') show('looking for duplicates…');
    });
    const summary = await ctx.call<ImportSummary>('dataset.import', {
      paths: args.positionals.map((p) => resolve(p)),
      labels,
      csv,
      name: typeof args.options.name === 'string' ? args.options.name : undefined,
      maxPixels: numberOption(args, 'max-pixels'),
    });
    if (process.stderr.isTTY) process.stderr.write('\r\u001b[K');
    const strictFail = args.options.strict === true && summary.skippedTotal > 0;
    return {
      result: summary,
      text:
        importText(summary, ctx.workspaceDir) +
        (strictFail ? `\n--strict: ${summary.skippedTotal} files were skipped.` : ''),
      exitCode: strictFail ? 1 : 0,
    };
  },
};

const listCommand: CliCommand = {
  name: 'datasets',
  usage: 'datasets',
  summary: 'List datasets',
  async run(ctx) {
    const list = await ctx.call<Row[]>('dataset.list', {});
    if (list.length === 0)
      return {
        result: list,
        text: 'No datasets yet. Import one with `lejepa-studio import PATH`.',
      };
    return {
      result: list,
      text: textTable(
        ['id', 'name', 'labels', 'items', 'files', 'classes', 'excluded', 'skipped', 'versions'],
        list.map((d) => [
          d.id,
          d.name,
          d.labels,
          d.items,
          d.files,
          d.classes,
          d.excluded,
          d.skipped,
          d.versions,
        ]),
      ),
    };
  },
};

const showCommand: CliCommand = {
  name: 'dataset show',
  usage: 'dataset show DATASET',
  summary: 'Show a dataset: folders, classes and splits, duplicates, versions',
  async run(ctx, args) {
    const d = await ctx.call<
      Row & { roots: Row[]; classes: Row[]; tags: Row[]; versions: Row[]; duplicates: Row }
    >('dataset.show', { dataset: need(args, 0, 'the dataset', this.usage) });
    const dup = d.duplicates;
    const text = [
      `Dataset ${d.id} "${d.name}" (labels: ${d.labels})`,
      `${d.items} items in ${d.files} files; ${d.excluded} excluded, ${d.missing} missing, ${d.skipped} files skipped, ${d.warnings} with warnings`,
      '',
      'Folders:',
      ...d.roots.map(
        (r) =>
          `  ${r.path}${r.splitLayout === true ? '  (train/val/test layout)' : ''}${r.csv ? `  labels from ${r.csv}` : ''}`,
      ),
      '',
      textTable(
        ['class', 'train', 'val', 'test', 'unassigned'],
        d.classes.map((c) => [c.label ?? '(no label)', c.train, c.val, c.test, c.none]),
      ),
      '',
      `Duplicates: ${dup.exact} exact (${dup.labelConflicts} label conflicts, ${dup.splitConflicts} split conflicts), ${dup.near} near pairs`,
      d.tags.length > 0
        ? `Tags: ${d.tags.map((t) => `${t.name} (${t.items})`).join(', ')}`
        : 'Tags: none',
      d.versions.length > 0
        ? `Versions: ${d.versions.map((v) => `${v.number} (id ${v.id}, ${v.itemCount} items)`).join(', ')}`
        : 'Versions: none (freeze one with `dataset version create`)',
    ].join('\n');
    return { result: d, text };
  },
};

const errorsCommand: CliCommand = {
  name: 'dataset errors',
  usage: 'dataset errors DATASET [--code CODE] [--warnings] [--limit N]',
  summary: 'Files that were skipped (with their codes) or imported with a warning',
  options: {
    code: { type: 'string', help: 'only this code (e.g. truncated)' },
    warnings: { type: 'boolean', help: 'show warnings instead of skipped files' },
    limit: { type: 'string', help: 'at most N rows (default 1000)' },
  },
  async run(ctx, args) {
    const r = await ctx.call<{ total: number; rows: Row[] }>('dataset.errors', {
      dataset: need(args, 0, 'the dataset', this.usage),
      kind: args.options.warnings === true ? 'warning' : 'skipped',
      code: args.options.code,
      limit: numberOption(args, 'limit'),
    });
    const text =
      r.total === 0
        ? args.options.warnings === true
          ? 'No warnings.'
          : 'No files were skipped.'
        : textTable(
            ['code', 'path', 'reason'],
            r.rows.map((x) => [x.code, x.path, x.message]),
          ) + (r.total > r.rows.length ? `\n… ${r.total - r.rows.length} more (use --limit)` : '');
    return { result: r, text };
  },
};

const duplicatesCommand: CliCommand = {
  name: 'dataset duplicates',
  usage: 'dataset duplicates DATASET [--limit N]',
  summary: 'Exact duplicates (one item, several files) and near duplicates to review',
  options: { limit: { type: 'string', help: 'at most N of each kind (default 500)' } },
  async run(ctx, args) {
    const r = await ctx.call<{ exact: Row[]; near: Row[] }>('dataset.duplicates', {
      dataset: need(args, 0, 'the dataset', this.usage),
      limit: numberOption(args, 'limit'),
    });
    const exact = r.exact.flatMap((e) =>
      (e.files as Row[]).map((f, i) => [
        i === 0 ? e.itemId : '',
        i === 0
          ? [e.labelConflict ? 'labels differ' : '', e.splitConflict ? 'train and val/test' : '']
              .filter(Boolean)
              .join(', ') || 'same'
          : '',
        f.label,
        f.split,
        f.path,
      ]),
    );
    const near = r.near.map((n) => {
      const a = n.a as Row;
      const b = n.b as Row;
      return [n.distance, a.id, a.path, b.id, b.path];
    });
    const text = [
      `Exact duplicates: ${r.exact.length}`,
      exact.length > 0 ? textTable(['item', 'flag', 'label', 'split', 'file'], exact) : '',
      `Near duplicates (dHash distance ≤ 4): ${r.near.length}`,
      near.length > 0 ? textTable(['bits', 'item', 'file', 'item', 'file'], near) : '',
    ]
      .filter((l) => l !== '')
      .join('\n');
    return { result: r, text };
  },
};

const itemsCommand: CliCommand = {
  name: 'dataset items',
  usage:
    'dataset items DATASET [--label L] [--split S|none] [--tag T] [--excluded] [--limit N] [--offset N]',
  summary: 'List items of a dataset',
  options: {
    label: { type: 'string', help: 'only this label' },
    split: { type: 'string', help: 'train, val, test or none' },
    tag: { type: 'string', help: 'only items with this tag' },
    excluded: { type: 'boolean', help: 'only excluded items' },
    search: { type: 'string', help: 'only files whose relative path contains this' },
    limit: { type: 'string', help: 'page size (default 200)' },
    offset: { type: 'string', help: 'skip this many' },
  },
  async run(ctx, args) {
    const r = await ctx.call<{ total: number; items: Row[] }>('dataset.items', {
      dataset: need(args, 0, 'the dataset', this.usage),
      label: args.options.label,
      split: args.options.split,
      tag: args.options.tag,
      excluded: args.options.excluded === true ? true : undefined,
      search: args.options.search,
      limit: numberOption(args, 'limit'),
      offset: numberOption(args, 'offset'),
    });
    const text =
      textTable(
        ['item', 'label', 'split', 'size', 'files', 'tags', 'path'],
        r.items.map((i) => [
          i.id,
          i.label,
          i.split,
          `${i.width}×${i.height}`,
          i.files,
          (i.tags as string[]).join(',') + (i.excluded === true ? ' (excluded)' : ''),
          i.path,
        ]),
      ) + `\n${r.items.length} of ${r.total}`;
    return { result: r, text };
  },
};

const tagCommand: CliCommand = {
  name: 'dataset tag',
  usage: 'dataset tag DATASET TAG ITEM|PATH... [--remove]',
  summary: 'Tag items (by id or file path)',
  options: { remove: { type: 'boolean', help: 'remove the tag instead' } },
  async run(ctx, args) {
    const r = await ctx.call<{ changed: number }>('dataset.tag', {
      dataset: need(args, 0, 'the dataset', this.usage),
      tag: need(args, 1, 'the tag', this.usage),
      remove: args.options.remove === true,
      ...selection(args.positionals.slice(2)),
    });
    return {
      result: r,
      text: `${items(r.changed)} ${args.options.remove === true ? 'untagged' : 'tagged'}.`,
    };
  },
};

const excludeCommand: CliCommand = {
  name: 'dataset exclude',
  usage: 'dataset exclude DATASET ITEM|PATH... [--reason TEXT] [--include]',
  summary: 'Exclude items from future versions (or include them again)',
  options: {
    reason: { type: 'string', help: 'why (kept with the item)' },
    include: { type: 'boolean', help: 'include the items again' },
  },
  async run(ctx, args) {
    const include = args.options.include === true;
    const r = await ctx.call<{ changed: number }>('dataset.exclude', {
      dataset: need(args, 0, 'the dataset', this.usage),
      exclude: !include,
      reason: args.options.reason,
      ...selection(args.positionals.slice(1)),
    });
    return { result: r, text: `${items(r.changed)} ${include ? 'included' : 'excluded'}.` };
  },
};

function parseRatios(text: string): { train: number; val: number; test: number } {
  const parts = text.split(',').map(Number);
  if (parts.length < 2 || parts.length > 3 || parts.some((n) => !Number.isFinite(n) || n < 0)) {
    throw expected(
      'invalid_option',
      `--random takes train,val[,test] ratios such as 0.8,0.1,0.1; got ${JSON.stringify(text)}.`,
    );
  }
  return { train: parts[0]!, val: parts[1]!, test: parts[2] ?? 0 };
}

const splitCommand: CliCommand = {
  name: 'dataset split',
  usage:
    'dataset split DATASET (train|val|test|none ITEM|PATH... | --csv FILE | --random TRAIN,VAL[,TEST] [--seed N] [--only-unassigned])',
  summary: 'Set splits by hand, from a CSV, or at random (stratified by label, seeded)',
  options: {
    csv: { type: 'string', help: 'CSV with path,split rows' },
    random: { type: 'string', help: 'ratios train,val[,test], e.g. 0.8,0.1,0.1' },
    seed: { type: 'string', help: 'random seed (default 0)' },
    'only-unassigned': { type: 'boolean', help: 'with --random: leave items that have a split' },
  },
  async run(ctx, args) {
    const dataset = need(args, 0, 'the dataset', this.usage);
    if (typeof args.options.csv === 'string') {
      const r = await ctx.call<{ updated: number; unknown: string[] }>('dataset.split.csv', {
        dataset,
        file: resolve(args.options.csv),
      });
      return {
        result: r,
        text: `${items(r.updated)} updated.${r.unknown.length > 0 ? ` ${r.unknown.length} paths in the CSV are not in the dataset, e.g. ${r.unknown[0]}.` : ''}`,
      };
    }
    if (typeof args.options.random === 'string') {
      const r = await ctx.call<Record<string, number>>('dataset.split.random', {
        dataset,
        ...parseRatios(args.options.random),
        seed: numberOption(args, 'seed'),
        onlyUnassigned: args.options['only-unassigned'] === true,
      });
      return { result: r, text: `Split: ${countsText(r)}.` };
    }
    const split = need(args, 1, 'the split (train, val, test or none)', this.usage);
    if (!['train', 'val', 'test', 'none'].includes(split)) {
      throw expected(
        'invalid_option',
        `The split must be train, val, test or none, got ${JSON.stringify(split)}.`,
      );
    }
    const r = await ctx.call<{ changed: number }>('dataset.split.set', {
      dataset,
      split: split === 'none' ? null : split,
      ...selection(args.positionals.slice(2)),
    });
    return { result: r, text: `${items(r.changed)} set to ${split}.` };
  },
};

function versionLine(v: Row): unknown[] {
  const s = v.splitCounts as Record<string, number>;
  return [
    v.id,
    v.number,
    v.name,
    v.itemCount,
    (v.classes as string[]).length,
    `${s.train}/${s.val}/${s.test}`,
    String(v.contentHash).slice(0, 16),
    v.createdAt,
  ];
}
const VERSION_HEAD = [
  'id',
  'number',
  'name',
  'items',
  'classes',
  'train/val/test',
  'hash',
  'created',
];

const versionCommand: CliCommand = {
  name: 'dataset version',
  usage:
    'dataset version create DATASET [--name N] [--note T] | list [DATASET] | show VERSION [--items N]',
  summary: 'Freeze, list and show dataset versions (VERSION: v<id>, DATASET@<number> or DATASET)',
  options: {
    name: { type: 'string', help: 'a name for the version' },
    note: { type: 'string', help: 'a note kept with the version' },
    items: { type: 'string', help: 'with show: list the first N items' },
  },
  async run(ctx, args) {
    const action = need(args, 0, 'create, list or show', this.usage);
    if (action === 'create') {
      const r = await ctx.call<{ version: Row; created: boolean }>('dataset.version.create', {
        dataset: need(args, 1, 'the dataset', this.usage),
        name: args.options.name,
        note: args.options.note,
      });
      const v = r.version;
      return {
        result: r,
        text: r.created
          ? `Froze version ${v.number} (id ${v.id}): ${v.itemCount} items, content hash ${v.contentHash}.`
          : `Nothing changed since version ${v.number} (id ${v.id}, hash ${v.contentHash}); no new version made.`,
      };
    }
    if (action === 'list') {
      const list = await ctx.call<Row[]>('dataset.version.list', { dataset: args.positionals[1] });
      return {
        result: list,
        text: list.length === 0 ? 'No versions.' : textTable(VERSION_HEAD, list.map(versionLine)),
      };
    }
    if (action === 'show') {
      const v = await ctx.call<Row & { items: Row[] }>('dataset.version.show', {
        version: need(args, 1, 'the version', this.usage),
        limit: numberOption(args, 'items') ?? 0,
      });
      const text = [
        textTable(VERSION_HEAD, [versionLine(v)]),
        `content hash ${v.contentHash}`,
        `classes: ${(v.classes as string[]).join(', ') || 'none'}`,
        v.items.length > 0
          ? textTable(
              ['#', 'item', 'label', 'split', 'path'],
              v.items.map((i) => [i.position, i.itemId, i.label, i.split, i.path]),
            )
          : '',
      ]
        .filter((l) => l !== '')
        .join('\n');
      return { result: v, text };
    }
    throw expected(
      'invalid_option',
      `Unknown action ${JSON.stringify(action)}: use create, list or show.`,
    );
  },
};

const cacheCommand: CliCommand = {
  name: 'dataset cache',
  usage: 'dataset cache VERSION --size N --channels 1|3',
  summary: 'Build the tensor cache of a version (decoded uint8, one file) for training',
  options: {
    size: { type: 'string', help: 'image side in pixels (e.g. 28, 32, 64)' },
    channels: { type: 'string', help: '1 (grey) or 3 (RGB)' },
  },
  async run(ctx, args) {
    const size = numberOption(args, 'size');
    const channels = numberOption(args, 'channels');
    if (size === undefined || channels === undefined) {
      throw expected(
        'invalid_option',
        '--size and --channels are required, e.g. --size 32 --channels 3.',
      );
    }
    const show = progressPrinter();
    ctx.onEvent((e) => {
      if (e.type === 'job.progress' && e.kind === 'tensor-cache')
        show(`decoding ${e.done}/${e.total}`);
    });
    const r = await ctx.call<Row & { meta: Row }>('dataset.cache.build', {
      version: need(args, 0, 'the version', this.usage),
      size,
      channels,
    });
    if (process.stderr.isTTY) process.stderr.write('\r\u001b[K');
    return {
      result: r,
      text: `${r.reused === true ? 'Up to date' : 'Built'}: ${r.path} (${r.meta.count} images, ${size}×${size}×${channels}, ${(Number(r.bytes) / 1e6).toFixed(1)} MB, ${Number(r.seconds).toFixed(1)} s)`,
    };
  },
};

const fashionMnistCommand: CliCommand = {
  name: 'dataset fashion-mnist-export',
  usage: 'dataset fashion-mnist-export DIR [--train-per-class N] [--test-per-class N]',
  summary: "Write Fashion-MNIST (from Debian's dataset-fashion-mnist) as PNG folders to import",
  options: {
    'train-per-class': {
      type: 'string',
      help: 'first N training images per class (default all 6000)',
    },
    'test-per-class': { type: 'string', help: 'first N test images per class (default all 1000)' },
  },
  async run(ctx, args) {
    const dir = resolve(need(args, 0, 'the output folder', this.usage));
    const show = progressPrinter();
    const counts = await exportFashionMnist(dir, {
      perClass: {
        train: numberOption(args, 'train-per-class'),
        test: numberOption(args, 'test-per-class'),
      },
      onProgress: (done, total) => show(`writing ${done}/${total}`),
    });
    if (process.stderr.isTTY) process.stderr.write('\r\u001b[K');
    return {
      result: { dir, ...counts },
      text: `Wrote ${counts.train} train and ${counts.test} test PNGs to ${dir}.\nImport them with: lejepa-studio import ${dir} --name fashion-mnist`,
    };
  },
};

/**
 * With --json the result object goes to stdout; the same human text that is
 * printed without --json then goes to stderr, for the person at the terminal.
 */
function humanTextOnStderr(command: CliCommand): CliCommand {
  return {
    ...command,
    async run(ctx, args) {
      const out = await command.run.call(command, ctx, args);
      if (ctx.json && out.text !== undefined) ctx.say(out.text);
      return out;
    },
  };
}

export const datasetCommands: CliCommand[] = [
  importCommand,
  listCommand,
  showCommand,
  errorsCommand,
  duplicatesCommand,
  itemsCommand,
  tagCommand,
  excludeCommand,
  splitCommand,
  versionCommand,
  cacheCommand,
  fashionMnistCommand,
].map(humanTextOnStderr);
