/**
 * A seeded random subset of rows, kept in their original order. Caches list
 * images folder by folder (class by class for an image folder), so "the first N"
 * would be one or two classes; a random subset keeps the class balance.
 */
import { Rng } from '../engine/rng.ts';

export function seededSubset(rows: number[], limit: number | null, seed: number): number[] {
  if (limit === null || limit >= rows.length) return rows;
  const picked = [...rows];
  new Rng(seed).shuffle(picked);
  return picked.slice(0, limit).sort((a, b) => a - b);
}
