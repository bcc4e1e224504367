import assert from 'node:assert/strict';
import { test } from 'node:test';

import { seededSubset } from '../../src-main/jobs/subset.ts';

test('a limited training set is a seeded random subset, not the first rows', () => {
  // Rows ordered class by class, as an image-folder import lists them: 10 classes × 100.
  const rows = Array.from({ length: 1000 }, (_, i) => i);
  const picked = seededSubset(rows, 100, 0);
  assert.equal(picked.length, 100);
  assert.deepEqual(
    picked,
    [...picked].sort((a, b) => a - b),
  );
  const classes = new Set(picked.map((r) => Math.floor(r / 100)));
  assert.equal(classes.size, 10, 'every class is represented');
  assert.deepEqual(seededSubset(rows, 100, 0), picked, 'same seed, same subset');
  assert.notDeepEqual(seededSubset(rows, 100, 1), picked);
  assert.equal(seededSubset(rows, null, 0), rows);
  assert.equal(seededSubset(rows, 5000, 0), rows);
});
