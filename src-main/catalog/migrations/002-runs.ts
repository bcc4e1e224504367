import type { Migration } from './index.ts';

export const migration002: Migration = {
  version: 2,
  name: 'runs',
  up(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS placeholder_runs (id INTEGER PRIMARY KEY);
    `);
  },
};
