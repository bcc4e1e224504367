/**
 * The New run form's fields against the api's RunConfig schema: every setting a
 * user can change has a field, each field sits at a real place in the
 * configuration, and the range the form states (and checks as you type) is the
 * range the api accepts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { presetConfig, RunConfigSchema } from '../../src-main/api/run-config.ts';
import {
  checkNumber,
  FIELD_GROUPS,
  getPath,
  setPath,
  type NumberField,
} from '../../src-renderer/lib/run-fields.ts';

const fields = FIELD_GROUPS.flatMap((g) => g.fields);
const numbers = fields.filter((f): f is NumberField => f.kind === 'number');
const key = (path: string[]) => path.join('.');

/** Leaves of the configuration, arrays of numbers as their elements. */
function leaves(value: unknown, prefix: string[] = [], out: string[] = []): string[] {
  if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) leaves(v, [...prefix, k], out);
  else out.push(key(prefix));
  return out;
}

/** Set by the data or the model choice rather than typed in (the form keeps them consistent). */
const NOT_TYPED = /^(datasetVersionId|encoder\..*|views\.(mean|std)\.\d+)$/;

test('every setting of a run has a field in the form, at a real place in the configuration', () => {
  const config = presetConfig('small', 1);
  const shown = new Set(fields.map((f) => key(f.path)));
  const missing = leaves(config).filter((k) => !NOT_TYPED.test(k) && !shown.has(k));
  assert.deepEqual(missing, []);
  for (const f of numbers) {
    const v = getPath(config, f.path);
    assert.ok(typeof v === 'number' || (v === null && f.nullable), `${key(f.path)} is ${v}`);
  }
});

/** The configuration with `field` at `value`, its neighbours moved out of the way. */
function withValue(field: NumberField, value: number) {
  const c = structuredClone(presetConfig('small', 1)) as unknown as Record<string, unknown>;
  // Cross-field rules (views ≤ 4× image size, warm-up ≤ epochs, low ≤ high) are not this test's subject.
  setPath(c, ['imageSize'], 512);
  setPath(c, ['epochs'], 10_000);
  const k = key(field.path);
  const pair = /^(views\.(global|local)Scale)\.(\d)$/.exec(k);
  if (pair) setPath(c, [...pair[1]!.split('.'), pair[3] === '0' ? '1' : '0'], value);
  setPath(c, field.path, value);
  return c;
}

function apiAccepts(field: NumberField, value: number): boolean {
  const parsed = RunConfigSchema.safeParse(withValue(field, value));
  return parsed.success;
}

test('the range each field states is the range the api accepts', () => {
  for (const f of numbers) {
    const k = key(f.path);
    const low = f.exclusiveMin ? f.min + 1e-6 : f.min;
    const step = f.integer ? 1 : 1e-6;
    assert.equal(checkNumber(f, String(low)), null, `${k} refuses its minimum`);
    assert.ok(apiAccepts(f, low), `the api refuses ${k} = ${low}`);
    assert.equal(checkNumber(f, String(f.max)), null, `${k} refuses its maximum`);
    assert.ok(apiAccepts(f, f.max), `the api refuses ${k} = ${f.max}`);

    const below = f.exclusiveMin ? f.min : f.min - step;
    assert.ok((checkNumber(f, String(below)) ?? '').startsWith(`${f.label} must be`), k);
    assert.ok(!apiAccepts(f, below), `the api accepts ${k} = ${below}`);
    assert.match(checkNumber(f, String(f.max + step)) ?? '', /must be at most/);
    assert.ok(!apiAccepts(f, f.max + step), `the api accepts ${k} = ${f.max + step}`);
    if (f.integer) {
      assert.match(checkNumber(f, String(f.min + 0.5)) ?? '', /whole number/);
      assert.ok(!apiAccepts(f, f.min + 0.5), `the api accepts ${k} = ${f.min + 0.5}`);
    }
  }
});

test('empty is allowed exactly where the api takes null, and text is refused with a sentence', () => {
  for (const f of numbers) {
    const c = withValue(f, 0) as Record<string, unknown>;
    setPath(c, f.path, null);
    assert.equal(RunConfigSchema.safeParse(c).success, f.nullable !== undefined, key(f.path));
    assert.equal(checkNumber(f, '') === null, f.nullable !== undefined, key(f.path));
    assert.equal(checkNumber(f, 'abc'), `${f.label} must be a number (${rangeText(f)}).`);
  }
});

const rangeText = (f: NumberField) => `${f.exclusiveMin ? 'above ' : ''}${f.min}–${f.max}`;
