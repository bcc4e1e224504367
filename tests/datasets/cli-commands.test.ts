/**
 * The dataset commands through the real CLI: with --json, stdout carries only
 * the result object and the human text goes to stderr; without it, the text is
 * on stdout. `--strict` fails only when something was skipped. Skipped files
 * are stored with a sentence saying what is wrong and what to do.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import sharp from 'sharp';

import { SKIP_ADVICE, type SkipCode } from '../../src-main/datasets/decode.ts';
import type { ImportSummary } from '../../src-main/datasets/importer.ts';
import { jsonResult, runCli, type CliOptions, type CliRun } from './cli.ts';
import { heicBytes, noise, picture } from './corpus.ts';
import { tempDir } from './helpers.ts';

/** Runs a command with --json: stdout must be exactly one JSON line. */
async function json<T>(
  wsDir: string,
  args: string[],
  options: CliOptions = {},
): Promise<{ result: T; run: CliRun }> {
  const run = await runCli([...args, '--workspace', wsDir, '--json'], options);
  const lines = run.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `${args.join(' ')}: one JSON line on stdout\n${run.stdout}`);
  return { result: jsonResult<T>(run), run };
}

test('dataset commands: --json result on stdout, human text on stderr; --strict', async () => {
  const base = tempDir('cli-commands');
  const clean = join(base, 'clean');
  const mixed = join(base, 'mixed lab');
  const wsDir = join(base, 'ws');
  for (const d of ['cat', 'dog']) mkdirSync(join(clean, d), { recursive: true });
  await noise(16, 16, 1)
    .png()
    .toFile(join(clean, 'cat', '1.png'));
  await noise(16, 16, 2)
    .png()
    .toFile(join(clean, 'dog', '2.png'));

  for (const d of ['cat', 'dog', 'bad']) mkdirSync(join(mixed, d), { recursive: true });
  const plain = await picture(64, 48, 3).png().toBuffer();
  writeFileSync(join(mixed, 'cat', 'plain.png'), plain);
  writeFileSync(join(mixed, 'dog', 'same bytes.png'), plain);
  writeFileSync(
    join(mixed, 'dog', 'reencoded.jpg'),
    await sharp(plain).jpeg({ quality: 90 }).toBuffer(),
  );
  // Truncated files of both formats decoded side by side: each message must be about itself.
  for (let i = 0; i < 4; i++) {
    const png = await noise(64, 64, 10 + i)
      .png()
      .toBuffer();
    writeFileSync(join(mixed, 'bad', `cut-${i}.png`), png.subarray(0, png.length >> 1));
    const jpg = await noise(64, 64, 20 + i)
      .jpeg()
      .toBuffer();
    writeFileSync(join(mixed, 'bad', `cut-${i}.jpg`), jpg.subarray(0, jpg.length >> 1));
  }
  writeFileSync(join(mixed, 'bad', 'empty.png'), Buffer.alloc(0));
  writeFileSync(join(mixed, 'bad', 'notes.jpg'), 'not pixels at all\n');
  writeFileSync(join(mixed, 'bad', 'photo.heic'), heicBytes());

  // --strict: exit 0 on a clean folder, 1 when anything was skipped. Run from another
  // directory than the studio's, as a user would.
  const ok = await json<ImportSummary>(wsDir, ['import', clean, '--strict'], { cwd: base });
  assert.equal(ok.run.code, 0, ok.run.stderr);
  assert.equal(ok.result.skippedTotal, 0);
  assert.match(ok.run.stderr, /Dataset "clean" \(id 1\): 2 items from 2 files/);
  assert.ok(
    ok.run.stderr.includes(`\nWorkspace: ${wsDir}\n`),
    'the summary says where the catalog is',
  );
  assert.doesNotMatch(ok.run.stderr, /Each skipped file/, 'no pointer to errors when none');

  const strict = await json<ImportSummary>(wsDir, ['import', mixed, '--strict']);
  assert.equal(strict.run.code, 1, '--strict fails when files were skipped');
  const s = strict.result;
  assert.deepEqual(s.skipped, {
    empty_file: 1,
    not_an_image: 1,
    truncated: 8,
    unsupported_format: 1,
  });
  assert.match(strict.run.stderr, /--strict: 11 files were skipped\./);
  assert.match(
    strict.run.stderr,
    /Each skipped file, with why and what to do: lejepa-studio dataset errors 'mixed lab'/,
  );

  // Without --json the same text is on stdout and nothing is JSON.
  const human = await runCli(['import', mixed, '--workspace', wsDir]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /Dataset "mixed lab" \(id 2\): 2 items from 3 files/);
  assert.match(human.stdout, /skipped\s+11\s+empty_file 1, not_an_image 1, truncated 8/);
  assert.throws(() => JSON.parse(human.stdout) as unknown);

  // Every listing command, with --json.
  const list = await json<Array<{ name: string; items: number }>>(wsDir, ['datasets']);
  assert.deepEqual(
    list.result.map((d) => [d.name, d.items]),
    [
      ['clean', 2],
      ['mixed lab', 2],
    ],
  );
  assert.match(list.run.stderr, /name\s+labels\s+items/);

  const show = await json<{ name: string; classes: Array<{ label: string }> }>(wsDir, [
    'dataset',
    'show',
    'mixed lab',
  ]);
  assert.deepEqual(
    show.result.classes.map((c) => c.label),
    ['cat', 'dog'],
    'a folder whose files were all skipped is no class',
  );
  assert.match(show.run.stderr, /Dataset 2 "mixed lab"/);

  const errors = await json<{
    total: number;
    rows: Array<{ path: string; code: SkipCode; message: string }>;
  }>(wsDir, ['dataset', 'errors', '2']);
  assert.equal(errors.result.total, 11);
  for (const row of errors.result.rows) {
    assert.ok(
      row.message.endsWith(SKIP_ADVICE[row.code]),
      `${row.path}: the message says what to do: ${row.message}`,
    );
    const format = row.path.endsWith('.png') ? 'PNG' : row.path.endsWith('.jpg') ? 'JPEG' : '';
    if (row.code === 'truncated') {
      assert.match(row.message, new RegExp(`^The ${format} file ends before its image data does`));
      assert.doesNotMatch(row.message, format === 'PNG' ? /JPEG|Vips/i : /PNG|Vips/i, row.path);
    }
  }
  const heic = errors.result.rows.find((r) => r.path.endsWith('photo.heic'))!;
  assert.equal(heic.code, 'unsupported_format');
  assert.match(heic.message, /^The content is HEIC, a format the studio does not decode\./);
  assert.match(errors.run.stderr, /truncated\s+.*mixed lab\/bad\/cut-0\.jpg\s+The JPEG file ends/);

  const dups = await json<{
    exact: Array<{ labelConflict: boolean; files: Array<{ path: string; label: string }> }>;
    near: Array<{ a: { path: string }; b: { path: string } }>;
  }>(wsDir, ['dataset', 'duplicates', 'mixed lab']);
  assert.equal(dups.result.exact.length, 1);
  assert.equal(dups.result.exact[0]!.labelConflict, true);
  assert.deepEqual(
    dups.result.exact[0]!.files.map((f) => [f.path, f.label]),
    [
      [join(mixed, 'cat', 'plain.png'), 'cat'],
      [join(mixed, 'dog', 'same bytes.png'), 'dog'],
    ],
    'one item, its files as aliases with their own labels',
  );
  assert.equal(dups.result.near.length, 1);
  assert.match(dups.run.stderr, /labels differ/);

  const created = await json<{ created: boolean; version: { id: number; contentHash: string } }>(
    wsDir,
    ['dataset', 'version', 'create', 'mixed lab', '--name', 'first'],
  );
  assert.equal(created.result.created, true);
  assert.match(
    created.run.stderr,
    /Froze version 1 \(id \d+\): 2 items, content hash [0-9a-f]{64}/,
  );
  const listed = await json<Array<{ id: number }>>(wsDir, ['dataset', 'version', 'list']);
  assert.deepEqual(
    listed.result.map((v) => v.id),
    [created.result.version.id],
  );
  const shown = await json<{ contentHash: string; items: Array<{ path: string }> }>(wsDir, [
    'dataset',
    'version',
    'show',
    'mixed lab@1',
    '--items',
    '10',
  ]);
  assert.equal(shown.result.contentHash, created.result.version.contentHash);
  assert.equal(shown.result.items.length, 2);
  assert.match(shown.run.stderr, new RegExp(`content hash ${created.result.version.contentHash}`));

  // Curation commands, by path relative to the imported folder (spaces and all).
  const tagged = await runCli([
    'dataset',
    'tag',
    'mixed lab',
    'keep',
    'dog/same bytes.png',
    '--workspace',
    wsDir,
  ]);
  assert.equal(tagged.code, 0, tagged.stderr);
  assert.equal(tagged.stdout, '1 item tagged.\n');

  // An error with --json: the error object on stdout, the sentence on stderr.
  const missing = await runCli(['dataset', 'show', 'nope', '--workspace', wsDir, '--json']);
  assert.equal(missing.code, 1);
  assert.equal((JSON.parse(missing.stdout) as { ok: boolean }).ok, false);
  assert.match(missing.stderr, /There is no dataset "nope"\. Run `lejepa-studio datasets`/);
});
