import type { Migration } from './index.ts';

export const migration001: Migration = {
  version: 1,
  name: 'datasets',
  up(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS placeholder_datasets (id INTEGER PRIMARY KEY);
    `);
  },
};
