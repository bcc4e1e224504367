/**
 * Import of an awkward folder through the real CLI, asserting the outcome of
 * every file.
 *
 * `permission_denied` as root: root reads any file whatever its mode, so a
 * chmod-000 file is not a real refusal for root. When the suite runs as root
 * (as in CI), the import runs in a child process as the unprivileged user
 * `nobody` (uid 65534, via spawn's uid/gid), with the corpus readable and the
 * workspace writable for it: the locked file then fails open() with EACCES for
 * a real reason. Run as a normal user, the same test needs no uid change.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import sharp from 'sharp';

import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import type { ImportSummary } from '../../src-main/datasets/importer.ts';
import { jsonResult, runCli } from './cli.ts';
import { noise, writeAwkwardCorpus } from './corpus.ts';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

function openForEveryone(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) openForEveryone(join(dir, entry.name));
  }
}

test('every awkward file gets its own outcome, and the rest imports', async () => {
  const base = mkdtempSync(join(tmpdir(), 'lejepa-import-'));
  const root = join(base, 'photos');
  const wsDir = join(base, 'ws');
  mkdirSync(root);
  const corpus = await writeAwkwardCorpus(root);
  // A class folder that cannot be listed: one permission_denied entry for the folder.
  mkdirSync(join(root, 'locked-class'));
  writeFileSync(join(root, 'locked-class', 'x.png'), await noise(10, 10, 99).png().toBuffer());
  corpus.expected.set('locked-class', { outcome: 'skipped', code: 'permission_denied' });
  openForEveryone(base);
  chmodSync(join(root, 'locked-class'), 0o000);
  mkdirSync(wsDir);
  if (asRoot) chownSync(wsDir, NOBODY, NOBODY);
  const as = asRoot ? { uid: NOBODY, env: { HOME: wsDir } } : {};

  const strict = await runCli(['import', root, '--workspace', wsDir, '--json', '--strict'], as);
  assert.equal(strict.code, 1, `--strict must fail when files are skipped\n${strict.stderr}`);
  const summary = jsonResult<ImportSummary>(strict);

  // Summary counts.
  const expectedSkips: Record<string, number> = {};
  let imported = 0;
  for (const e of corpus.expected.values()) {
    if (e.outcome === 'skipped') expectedSkips[e.code] = (expectedSkips[e.code] ?? 0) + 1;
    else imported++;
  }
  assert.deepEqual(summary.skipped, Object.fromEntries(Object.entries(expectedSkips).sort()));
  assert.equal(summary.imported, imported);
  assert.deepEqual(summary.ignored, corpus.ignored);
  assert.equal(summary.warned, 2);
  assert.equal(summary.items, imported - 1, 'the exact copy is an alias, not an item');
  // Every file found has one outcome, the unreadable name included.
  assert.equal(summary.imported + summary.skippedTotal, summary.files, JSON.stringify(summary));
  assert.equal(summary.decoded + summary.unchanged + summary.scanProblems, summary.files);

  // Every file, one by one.
  const ws = openWorkspace(wsDir, { readonly: true });
  try {
    const db = ws.db;
    const files = db.prepare('SELECT path, item_id, label FROM item_files').all() as Array<{
      path: string;
      item_id: number;
      label: string | null;
    }>;
    const issues = db.prepare('SELECT path, kind, code FROM file_issues').all() as Array<{
      path: string;
      kind: string;
      code: string;
    }>;
    for (const [rel, e] of corpus.expected) {
      const path = join(root, rel);
      const file = files.find((f) => f.path === path);
      const skips = issues.filter((i) => i.path === path && i.kind === 'skipped');
      const warnings = issues.filter((i) => i.path === path && i.kind === 'warning');
      if (e.outcome === 'imported') {
        assert.ok(file !== undefined, `${rel} should be imported`);
        assert.equal(file.label, e.label, `${rel} label`);
        assert.equal(skips.length, 0, `${rel} has no skip`);
        assert.deepEqual(warnings.map((w) => w.code).sort(), (e.warnings ?? []).sort(), rel);
      } else {
        assert.equal(file, undefined, `${rel} must not be an item`);
        assert.deepEqual(
          skips.map((s) => s.code),
          [e.code],
          `${rel} skip code`,
        );
      }
    }
    assert.equal(
      files.length + issues.filter((i) => i.kind === 'skipped').length,
      corpus.expected.size,
    );
    const labels = db.prepare('SELECT DISTINCT label FROM items ORDER BY label').pluck().all();
    assert.deepEqual(labels, ['cat', 'dog'], 'no class from the empty, hidden or debris folders');

    const item = (rel: string) =>
      db
        .prepare('SELECT i.* FROM items i JOIN item_files f ON f.item_id = i.id WHERE f.path = ?')
        .get(join(root, rel)) as Record<string, number | string>;
    // EXIF orientation 6 on a 60×40 JPEG: the oriented size is 40×60.
    assert.deepEqual([item('cat/rotated.jpg').width, item('cat/rotated.jpg').height], [40, 60]);
    assert.equal(item('cat/image.bmp').format, 'bmp');
    assert.deepEqual([item('cat/image.bmp').width, item('cat/image.bmp').height], [5, 3]);
    assert.equal(item('cat/png-named.jpg').format, 'png');
    assert.equal(item('cat/deep16.png').channels, 3);

    const thumbPixel = async (
      rel: string,
      x: number,
      y: number,
    ): Promise<[number, number, number]> => {
      const { data, info } = await sharp(ws.path(String(item(rel).thumb)))
        .raw()
        .toBuffer({ resolveWithObject: true });
      const o = (y * info.width + x) * info.channels;
      return [data[o]!, data[o + 1]!, data[o + 2]!];
    };
    // Transparent pixels are composited on white; the opaque half stays blue.
    const [r0, g0, b0] = await thumbPixel('cat/palette-alpha.png', 2, 16);
    assert.ok(r0 > 240 && g0 > 240 && b0 > 240, `transparent → white, got ${r0},${g0},${b0}`);
    const [r1, , b1] = await thumbPixel('cat/palette-alpha.png', 28, 16);
    assert.ok(b1 > 200 && r1 < 60, `opaque blue stays blue, got ${r1},${b1}`);
    // CMYK is converted to sRGB: the colour #3080c0 comes back blue-dominant.
    const [cr, cg, cb] = await thumbPixel('cat/cmyk.jpg', 15, 15);
    assert.ok(cb > cg && cg > cr, `CMYK → sRGB keeps the hue, got ${cr},${cg},${cb}`);
    // 16-bit mid grey becomes 8-bit 128.
    const [gr] = await thumbPixel('cat/deep16.png', 5, 5);
    assert.ok(Math.abs(gr - 128) <= 2, `16-bit grey → 8-bit, got ${gr}`);

    // Exact duplicate: one item, two files, labels disagree → flagged.
    const plain = item('cat/plain.png');
    assert.equal(item('dog/copy-of-plain.png').id, plain.id);
    assert.equal(plain.label_conflict, 1);
    // Re-encoded copy: a different item, flagged as a near duplicate.
    const reenc = item('dog/reencoded.jpg');
    assert.notEqual(reenc.id, plain.id);
    const near = db
      .prepare('SELECT COUNT(*) FROM near_duplicates WHERE item_a = ? AND item_b = ?')
      .pluck()
      .get(
        Math.min(Number(plain.id), Number(reenc.id)),
        Math.max(Number(plain.id), Number(reenc.id)),
      );
    assert.equal(near, 1);
    const nearTotal = db.prepare('SELECT COUNT(*) FROM near_duplicates').pluck().get();
    assert.equal(nearTotal, 1, 'noise images are not near duplicates of each other');
  } finally {
    ws.close();
  }

  // A re-scan of the unchanged folder reads nothing again and finds the same.
  const again = await runCli(['import', root, '--workspace', wsDir, '--json'], as);
  assert.equal(again.code, 0, again.stderr);
  const second = jsonResult<ImportSummary>(again);
  assert.equal(second.decoded, 0);
  assert.equal(second.unchanged + second.scanProblems, summary.files);
  assert.deepEqual(second.skipped, summary.skipped);
  assert.equal(second.items, summary.items);

  // The human summary names each code.
  const human = await runCli(['dataset', 'errors', 'photos', '--workspace', wsDir], as);
  assert.equal(human.code, 0, human.stderr);
  for (const code of Object.keys(expectedSkips)) assert.match(human.stdout, new RegExp(code));
});
