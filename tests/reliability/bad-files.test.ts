/**
 * Bad files: the importer's awkward corpus plus a folder of 10,000 random-byte
 * files (some starting with real image signatures) imported at once, with
 * every file accounted for; and checkpoints that are truncated, hand-edited or
 * from another architecture, refused with a message on resume and on every
 * other path that loads a checkpoint (embedding, evaluation, export).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { before, test } from 'node:test';

import { integrityCheck } from '../../src-main/catalog/db.ts';
import { listCheckpoints, type RunRow } from '../../src-main/catalog/runs.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';
import type { ImportSummary } from '../../src-main/datasets/importer.ts';
import { writeAwkwardCorpus } from '../datasets/corpus.ts';
import { apiOf, importAndFreeze, tempDir, TINY_RUN, until, writeTinyFolder } from './helpers.ts';

const RANDOM_FILES = 10_000;

const SIGNATURES = [
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  Buffer.from('GIF89a', 'latin1'),
  Buffer.from('RIFF\0\0\0\0WEBP', 'latin1'),
  Buffer.from('BM', 'latin1'),
];

function writeRandomFolder(root: string): void {
  let s = 0x12345678;
  const byte = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s & 0xff;
  };
  for (let d = 0; d < 20; d++) mkdirSync(join(root, `class-${d}`), { recursive: true });
  for (let i = 0; i < RANDOM_FILES; i++) {
    const size = byte() * 8 + byte();
    const body = Buffer.alloc(size);
    for (let j = 0; j < size; j++) body[j] = byte();
    const sig = i % 10 < 3 ? SIGNATURES[i % SIGNATURES.length]! : Buffer.alloc(0);
    const ext = ['.png', '.jpg', '.gif', '.webp', '.bmp', '', '.dat'][i % 7];
    writeFileSync(join(root, `class-${i % 20}`, `r${i}${ext}`), Buffer.concat([sig, body]));
  }
}

function walk(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

test(`import of the awkward corpus and ${RANDOM_FILES} random-byte files: every file accounted for`, async () => {
  const base = tempDir('bad-files');
  const awkward = join(base, 'awkward');
  const random = join(base, 'random');
  const corpus = await writeAwkwardCorpus(awkward);
  writeRandomFolder(random);
  const ws = openWorkspace(join(base, 'ws'));
  const api = apiOf(ws);
  const summary = await api.call<ImportSummary>('dataset.import', {
    paths: [awkward, random],
    name: 'hostile',
  });
  assert.equal(integrityCheck(ws.db), 'ok');
  const ignoredExpected = Object.values(corpus.ignored).reduce((a, b) => a + b, 0);
  assert.equal(summary.ignoredTotal, ignoredExpected, JSON.stringify(summary.ignored));

  // File by file for the random folder: exactly one outcome each, recorded with its path.
  const files = new Set(walk(random));
  assert.equal(files.size, RANDOM_FILES);
  const imported = ws.db
    .prepare('SELECT path FROM item_files WHERE path LIKE ?')
    .all(`${random}%`) as { path: string }[];
  const skipped = ws.db
    .prepare("SELECT path, code FROM file_issues WHERE kind = 'skipped' AND path LIKE ?")
    .all(`${random}%`) as { path: string; code: string }[];
  const seen = new Map<string, number>();
  for (const r of [...imported, ...skipped]) seen.set(r.path, (seen.get(r.path) ?? 0) + 1);
  const unaccounted = [...files].filter((f) => seen.get(f) !== 1);
  assert.deepEqual(unaccounted.slice(0, 5), [], `${unaccounted.length} files unaccounted for`);
  assert.equal(seen.size, RANDOM_FILES, 'no outcome for a file that does not exist');
  const codes: Record<string, number> = {};
  for (const s of skipped) codes[s.code] = (codes[s.code] ?? 0) + 1;
  assert.ok(
    Object.keys(codes).every((c) =>
      ['empty_file', 'truncated', 'corrupt', 'not_an_image', 'unsupported_format'].includes(c),
    ),
    JSON.stringify(codes),
  );
  // The corpus folder's files are accounted for the same way.
  const corpusFiles = walk(awkward).filter((f) => corpus.expected.has(relative(awkward, f)));
  for (const f of corpusFiles) {
    const n =
      (ws.db.prepare('SELECT count(*) AS n FROM item_files WHERE path = ?').get(f) as { n: number })
        .n +
      (
        ws.db
          .prepare("SELECT count(*) AS n FROM file_issues WHERE kind = 'skipped' AND path = ?")
          .get(f) as { n: number }
      ).n;
    assert.equal(n, 1, `${relative(awkward, f)} has ${n} outcomes`);
  }
  // The summary adds up: every regular file found is imported or skipped with a code.
  assert.equal(summary.imported + summary.skippedTotal, summary.files, JSON.stringify(summary));
  assert.equal(
    Object.values(summary.skipped).reduce((a, b) => a + b, 0),
    summary.skippedTotal,
  );
  console.log(
    `# import: ${summary.files} files, ${summary.imported} imported, ${summary.skippedTotal} skipped ${JSON.stringify(summary.skipped)}, ${summary.ignoredTotal} ignored`,
  );
  ws.close();
});

let ws: Workspace;
let version: number;
let api: ReturnType<typeof apiOf>;
before(async () => {
  ws = openWorkspace(tempDir('bad-ckpt'));
  version = await importAndFreeze(ws, await writeTinyFolder({ train: 12, test: 2 }));
  api = apiOf(ws);
});

/** A run stopped (cancelled) after a few steps, with its newest checkpoint's path. */
async function stoppedRun(
  config: Record<string, unknown> = {},
): Promise<{ id: number; path: string }> {
  const run = await api.call<RunRow>('run.start', {
    datasetVersionId: version,
    preset: 'quick',
    config: { ...TINY_RUN, epochs: 4, checkpointEvery: 1, ...config },
  });
  await until(
    () => (listCheckpoints(ws.db, run.id).length > 0 ? true : undefined),
    120_000,
    'a checkpoint',
  );
  await api.call('run.pause', { id: run.id });
  const stopped = await api.call<RunRow>('run.wait', { id: run.id });
  assert.equal(stopped.status, 'paused');
  const newest = listCheckpoints(ws.db, run.id).pop()!;
  return { id: run.id, path: newest.path };
}

test('checkpoints truncated, hand-edited or from another architecture: refused with a message', async () => {
  const other = await stoppedRun({
    encoder: { kind: 'resnet', inChannels: 1, stem: 8, widths: [8], depths: [1] },
  });
  const damage: [string, (path: string) => void][] = [
    ['truncated', (p) => writeFileSync(p, readFileSync(p).subarray(0, 200))],
    [
      'hand-edited',
      (p) => {
        const b = readFileSync(p);
        b[Math.floor(b.length * 0.7)]! ^= 0x40;
        writeFileSync(p, b);
      },
    ],
    ['from another architecture', (p) => copyFileSync(other.path, p)],
    ['not a checkpoint', (p) => writeFileSync(p, '{"weights": "hand written"}')],
  ];
  for (const [label, hurt] of damage) {
    const run = await stoppedRun();
    hurt(run.path);
    const resumed = await api.reply('run.resume', { id: run.id });
    if (resumed.ok) {
      const done = await api.call<RunRow>('run.wait', { id: run.id });
      assert.equal(done.status, 'failed', `${label}: ${done.status}`);
      assert.ok((done.message ?? '').includes(run.path), `${label}: ${done.message}`);
      assert.doesNotMatch(done.message ?? '', /Something went wrong/);
    } else {
      assert.equal(resumed.error.kind, 'expected', `${label}: ${resumed.error.message}`);
    }
    // The embedding path loads the same file: refused with a sentence too.
    const embedded = await api.reply('embedding.create', { runId: run.id, versionId: version });
    assert.equal(embedded.ok, false, `${label}: embedding accepted a damaged checkpoint`);
    if (!embedded.ok) {
      assert.equal(embedded.error.kind, 'expected', `${label}: ${embedded.error.message}`);
    }
    // And the evaluation of the run's checkpoints.
    const evaluated = await api.reply('run.evaluate', {
      id: run.id,
      baselines: false,
      checkpoints: 'final',
    });
    assert.equal(evaluated.ok, false, `${label}: evaluation accepted a damaged checkpoint`);
    if (!evaluated.ok) {
      assert.equal(
        evaluated.error.code,
        'checkpoint_unusable',
        `${label}: ${evaluated.error.message}`,
      );
      assert.ok(evaluated.error.message.includes(run.path), evaluated.error.message);
    }
    // So does the export path.
    const exported = await api.reply('export.create', {
      runId: run.id,
      format: 'onnx',
      parityImages: 4,
    });
    assert.equal(exported.ok, false, `${label}: export accepted a damaged checkpoint`);
    if (!exported.ok) {
      assert.equal(exported.error.kind, 'expected', `${label}: ${exported.error.message}`);
    }
    assert.equal(integrityCheck(ws.db), 'ok');
  }
});
