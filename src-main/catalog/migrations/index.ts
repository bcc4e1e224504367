/**
 * The catalog's migrations, in order. Each is applied once, in its own
 * transaction, and never edited after a release: a schema change is a new file.
 */
import type { Db } from '../db.ts';

export interface Migration {
  version: number;
  name: string;
  up(db: Db): void;
}

import { migration001 } from './001-datasets.ts';
import { migration002 } from './002-runs.ts';
import { migration003 } from './003-evaluation.ts';
import { migration004 } from './004-item-counts.ts';

export const MIGRATIONS: readonly Migration[] = [
  migration001,
  migration002,
  migration003,
  migration004,
];
