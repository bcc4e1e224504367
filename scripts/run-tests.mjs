#!/usr/bin/env node
// Runs every tests/**/*.test.ts file with Node's test runner through tsx.
// Usage: npm test [-- PATTERN...]   (a pattern keeps the files whose path contains it)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const patterns = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files = collect(join(root, 'tests'), []).filter(
  (f) => patterns.length === 0 || patterns.some((p) => f.includes(p)),
);
if (files.length === 0) {
  console.error(`no test files match ${patterns.join(' ')}`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
