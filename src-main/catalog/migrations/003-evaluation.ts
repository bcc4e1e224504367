import type { Migration } from './index.ts';

export const migration003: Migration = {
  version: 3,
  name: 'evaluation',
  up(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS placeholder_evaluation (id INTEGER PRIMARY KEY);
    `);
  },
};
