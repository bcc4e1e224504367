/**
 * The renderer's one door into src-main is the api's type definitions. ESLint
 * checks the .ts files; Svelte components are not linted, so this test reads
 * every import of every renderer file, components included.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

import { ROOT } from './harness.ts';

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files(path, out);
    else if (/\.(ts|svelte)$/.test(name)) out.push(path);
  }
  return out;
}

const IMPORT =
  /^\s*import\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;

test('renderer files import only type definitions from src-main/api, and no Node built-ins', () => {
  const offences: string[] = [];
  const renderer = join(ROOT, 'src-renderer');
  const all = files(renderer);
  assert.ok(all.some((f) => f.endsWith('.svelte')));
  for (const file of all) {
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(IMPORT)) {
      const typeOnly = m[1] !== undefined;
      const spec = m[2] ?? m[3]!;
      const where = `${relative(ROOT, file)}: ${spec}`;
      if (/^(node:|fs$|path$|os$|child_process$|electron$)/.test(spec)) offences.push(where);
      if (spec.includes('src-main/')) {
        if (!/src-main\/api\//.test(spec)) offences.push(`${where} (outside the api)`);
        else if (!typeOnly) offences.push(`${where} (not a type import)`);
      }
    }
  }
  assert.deepEqual(offences, []);
});
