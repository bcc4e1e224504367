/**
 * A workspace holding one large dataset, written straight into the catalog (an
 * import of 70,000 real files would take minutes here): `count` items in ten
 * classes over train/test, each pointing at one of ten real thumbnails. The
 * grid, the filters and the paging read it through the ordinary api.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import sharp from 'sharp';

import { insertDataset, upsertRoot } from '../../src-main/catalog/datasets.ts';
import {
  refreshItemDerived,
  writeOutcomes,
  type FileOutcomeRecord,
} from '../../src-main/catalog/items.ts';
import { openWorkspace } from '../../src-main/catalog/workspace.ts';

export const LARGE_CLASSES = Array.from({ length: 10 }, (_, c) => `class-${c}`);

/** File name of item `i` (as the grid names it in each cell's accessible name). */
export const largeFileName = (i: number) => `img-${String(i).padStart(6, '0')}.png`;

export async function largeDatasetWorkspace(
  count: number,
): Promise<{ dir: string; datasetId: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'lejepa-e2e-large-'));
  const ws = openWorkspace(dir);
  try {
    mkdirSync(ws.path('thumbs', 'la'), { recursive: true });
    for (let c = 0; c < LARGE_CLASSES.length; c++) {
      await sharp({
        create: { width: 28, height: 28, channels: 3, background: { r: 25 * c, g: 90, b: 200 } },
      })
        .png()
        .toFile(ws.path('thumbs', 'la', `class-${c}.png`));
    }
    const dataset = insertDataset(ws.db, 'large', 'imagefolder');
    const root = upsertRoot(ws.db, dataset.id, '/data/large', null, true);
    const batch: FileOutcomeRecord[] = [];
    const flush = () => {
      writeOutcomes(ws.db, dataset.id, batch);
      batch.length = 0;
    };
    for (let i = 0; i < count; i++) {
      const c = i % LARGE_CLASSES.length;
      const split = i % 7 === 0 ? 'test' : 'train';
      const rel = `${split}/${LARGE_CLASSES[c]}/${largeFileName(i)}`;
      batch.push({
        file: {
          rootId: root.id,
          path: `/data/large/${rel}`,
          rel,
          size: 1000,
          mtimeMs: 0,
          label: LARGE_CLASSES[c]!,
          split,
        },
        item: {
          hash: i.toString(16).padStart(64, '0'),
          format: 'png',
          width: 28,
          height: 28,
          channels: 1,
          bytes: 1000,
          dhash: (i * 2654435761).toString(16).padStart(16, '0').slice(-16),
          fingerprint: new Uint8Array(256),
          thumb: `thumbs/la/class-${c}.png`,
        },
        issues: [],
      });
      if (batch.length === 5000) flush();
    }
    flush();
    refreshItemDerived(ws.db, dataset.id);
    return { dir, datasetId: dataset.id };
  } finally {
    ws.close();
  }
}
