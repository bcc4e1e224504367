/** Paged, filtered reading of a dataset's items (for the grid and `dataset.items`). */
import type { Db } from './db.ts';
import type { Split } from './datasets.ts';

export interface ItemFilter {
  label?: string | null;
  split?: Split | 'none';
  tag?: string;
  excluded?: boolean;
  duplicates?: 'exact' | 'near' | 'conflict';
  search?: string;
}

export interface ItemListRow {
  id: number;
  hash: string;
  path: string;
  files: number;
  format: string;
  width: number;
  height: number;
  channels: number;
  label: string | null;
  split: Split | null;
  excluded: boolean;
  tags: string[];
  thumb: string;
}

export function queryItems(
  db: Db,
  datasetId: number,
  filter: ItemFilter,
  page: { offset: number; limit: number },
): { total: number; items: ItemListRow[] } {
  const where = [
    'i.dataset_id = @d',
    'EXISTS (SELECT 1 FROM item_files f WHERE f.item_id = i.id AND f.present = 1)',
  ];
  const params: Record<string, unknown> = { d: datasetId };
  if (filter.label !== undefined) {
    if (filter.label === null) where.push('i.label IS NULL');
    else {
      where.push('i.label = @label');
      params.label = filter.label;
    }
  }
  if (filter.split !== undefined) {
    if (filter.split === 'none') where.push('i.split IS NULL');
    else {
      where.push('i.split = @split');
      params.split = filter.split;
    }
  }
  if (filter.tag !== undefined) {
    where.push(
      'EXISTS (SELECT 1 FROM item_tags it JOIN tags t ON t.id = it.tag_id WHERE it.item_id = i.id AND t.name = @tag)',
    );
    params.tag = filter.tag;
  }
  if (filter.excluded !== undefined) where.push(`i.excluded = ${filter.excluded ? 1 : 0}`);
  if (filter.duplicates === 'exact') {
    where.push('(SELECT COUNT(*) FROM item_files f WHERE f.item_id = i.id AND f.present = 1) > 1');
  } else if (filter.duplicates === 'near') {
    where.push('EXISTS (SELECT 1 FROM near_duplicates n WHERE n.item_a = i.id OR n.item_b = i.id)');
  } else if (filter.duplicates === 'conflict') {
    where.push('(i.label_conflict = 1 OR i.split_conflict = 1)');
  }
  if (filter.search !== undefined && filter.search !== '') {
    where.push(
      "EXISTS (SELECT 1 FROM item_files f WHERE f.item_id = i.id AND f.rel_path LIKE @search ESCAPE '\\')",
    );
    params.search = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  }
  const clause = where.join(' AND ');
  const total = db
    .prepare(`SELECT COUNT(*) FROM items i WHERE ${clause}`)
    .pluck()
    .get(params) as number;
  const rows = db
    .prepare(
      `SELECT i.id, i.hash, i.format, i.width, i.height, i.channels, i.label, i.split,
         i.excluded, i.thumb,
         (SELECT path FROM item_files f WHERE f.item_id = i.id AND f.present = 1
           ORDER BY f.id LIMIT 1) AS path,
         (SELECT COUNT(*) FROM item_files f WHERE f.item_id = i.id AND f.present = 1) AS files,
         (SELECT group_concat(t.name, char(31)) FROM item_tags it JOIN tags t ON t.id = it.tag_id
           WHERE it.item_id = i.id) AS tags
       FROM items i WHERE ${clause} ORDER BY i.id LIMIT @limit OFFSET @offset`,
    )
    .all({ ...params, limit: page.limit, offset: page.offset }) as Array<
    Omit<ItemListRow, 'excluded' | 'tags'> & { excluded: number; tags: string | null }
  >;
  return {
    total,
    items: rows.map((r) => ({
      ...r,
      excluded: r.excluded === 1,
      tags: r.tags === null ? [] : r.tags.split('\u001f'),
    })),
  };
}

export function labelCounts(
  db: Db,
  datasetId: number,
): Array<{ label: string | null; train: number; val: number; test: number; none: number }> {
  return db
    .prepare(
      `SELECT label, SUM(split = 'train') AS train, SUM(split = 'val') AS val,
         SUM(split = 'test') AS test, SUM(split IS NULL) AS none
       FROM items i WHERE dataset_id = ? AND excluded = 0 AND EXISTS
         (SELECT 1 FROM item_files f WHERE f.item_id = i.id AND f.present = 1)
       GROUP BY label ORDER BY label IS NULL, label`,
    )
    .all(datasetId) as Array<{
    label: string | null;
    train: number;
    val: number;
    test: number;
    none: number;
  }>;
}

export function tagCounts(db: Db, datasetId: number): Array<{ name: string; items: number }> {
  return db
    .prepare(
      `SELECT t.name, COUNT(it.item_id) AS items FROM tags t
       LEFT JOIN item_tags it ON it.tag_id = t.id WHERE t.dataset_id = ? GROUP BY t.id
       ORDER BY t.name`,
    )
    .all(datasetId) as Array<{ name: string; items: number }>;
}
