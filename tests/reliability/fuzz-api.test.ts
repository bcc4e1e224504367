/**
 * Fuzzing the api through the studio host (the `callMethod` path every
 * transport uses) with 10,000+ generated malformed requests: random and
 * near-miss method names, non-object inputs, wrong types for each field of
 * each method's schema, huge strings, and prototype-pollution keys. Every
 * reply must be a typed error `{ ok: false, error: { kind, code, message } }`,
 * nothing may throw or reject unhandled, and Object.prototype must stay clean.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { z } from 'zod';

import { METHODS } from '../../src-main/api/index.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';
import { createStudioHost, type StudioHost } from '../../src-main/transports/studio-host.ts';
import { tempDir } from './helpers.ts';

const TOTAL = 10_000;

/** A seeded generator, so that a failing request can be replayed. */
function generator(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}

type Gen = ReturnType<typeof generator>;

const HUGE = 'x'.repeat(1_000_000);
const STRINGS = [
  '',
  ' ',
  '../../etc/passwd',
  '/etc/shadow',
  '%2e%2e%2f',
  '\u0000',
  '😀'.repeat(50),
];
const POLLUTION = [
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"__proto__":{"toString":"yes"},"prototype":{"polluted":"yes"}}',
];

/** Any JSON-able value, of bounded depth. */
function randomValue(g: Gen, depth = 0): unknown {
  const k = g.int(depth > 2 ? 7 : 10);
  switch (k) {
    case 0:
      return null;
    case 1:
      return g.next() < 0.5;
    case 2:
      return g.pick([0, -1, 1.5, 2 ** 53, -(2 ** 31), 1e308, -1e-308, Number.MAX_SAFE_INTEGER + 2]);
    case 3:
      return g.pick(STRINGS);
    case 4:
      return String.fromCharCode(...Array.from({ length: g.int(40) }, () => g.int(0x3000)));
    case 5:
      return g.int(1000);
    case 6:
      return g.next() < 0.02 ? HUGE : 'abc'.repeat(g.int(2000));
    case 7:
      return Array.from({ length: g.int(5) }, () => randomValue(g, depth + 1));
    case 8:
      return JSON.parse(g.pick(POLLUTION)) as unknown;
    default: {
      const o: Record<string, unknown> = {};
      for (let i = g.int(4); i > 0; i--)
        o[g.pick(['a', 'id', 'paths', 'x'])] = randomValue(g, depth + 1);
      return o;
    }
  }
}

/** A value of the wrong type for a JSON-schema property. */
function wrongFor(g: Gen, prop: Record<string, unknown>): unknown {
  const types = new Set<string>();
  const collect = (p: Record<string, unknown>) => {
    if (typeof p.type === 'string') types.add(p.type);
    if (Array.isArray(p.type)) for (const t of p.type) types.add(String(t));
    for (const alt of (p.anyOf as Record<string, unknown>[] | undefined) ?? []) collect(alt);
    if ('const' in p) types.add(typeof p.const);
  };
  collect(prop);
  const candidates: unknown[] = [];
  if (!types.has('string')) candidates.push('not-a-number', HUGE.slice(0, 10_000));
  if (!types.has('number') && !types.has('integer')) candidates.push(42, -1, 1e308);
  if (types.has('integer')) candidates.push(0.5, -7, 2 ** 60);
  if (!types.has('boolean')) candidates.push(true);
  if (!types.has('array')) candidates.push([1, 'two']);
  if (!types.has('object')) candidates.push(JSON.parse(g.pick(POLLUTION)) as unknown);
  if (!types.has('null')) candidates.push(null);
  if (typeof prop.maximum === 'number') candidates.push(prop.maximum + 1);
  if (typeof prop.minimum === 'number') candidates.push(prop.minimum - 1);
  if (Array.isArray(prop.enum)) candidates.push('no-such-choice');
  return g.pick(candidates);
}

const SCHEMAS = new Map(
  [...METHODS].map(([name, m]) => [
    name,
    z.toJSONSchema(m.input, { unrepresentable: 'any', io: 'input' }) as {
      properties?: Record<string, Record<string, unknown>>;
      required?: string[];
    },
  ]),
);
const NAMES = [...METHODS.keys()];

/** One generated request: [method, input]. */
function randomRequest(g: Gen): [unknown, unknown] {
  const k = g.int(10);
  if (k === 0) {
    const name = g.pick([
      ...['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', ''],
      `${g.pick(NAMES)} `,
      g.pick(NAMES).toUpperCase(),
      `${g.pick(NAMES)}.x`,
      HUGE,
    ]);
    return [name, randomValue(g)];
  }
  if (k === 1) return [randomValue(g), randomValue(g)];
  const name = g.pick(NAMES);
  const schema = SCHEMAS.get(name)!;
  const props = Object.entries(schema.properties ?? {});
  if (k === 2 || props.length === 0) {
    // Not an object at all, or an object with junk (pollution keys included).
    const input = g.pick<unknown>([
      'string',
      42,
      [],
      [{}],
      true,
      HUGE,
      JSON.parse(g.pick(POLLUTION)),
      { junkField: randomValue(g) },
    ]);
    return [name, input];
  }
  // A plausible input with one or two fields of the wrong type.
  const input = JSON.parse(g.pick(POLLUTION)) as Record<string, unknown>;
  for (const [key] of props) if (g.next() < 0.5) input[key] = randomValue(g);
  for (let i = 1 + g.int(2); i > 0; i--) {
    const [key, prop] = g.pick(props);
    input[key] = wrongFor(g, prop);
  }
  return [name, input];
}

let ws: Workspace;
let host: StudioHost;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

before(() => {
  ws = openWorkspace(tempDir('fuzz'));
  host = createStudioHost(ws);
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
});
after(() => {
  host.close();
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

test(`${TOTAL} malformed requests through the studio host: each a typed error, nothing polluted`, async () => {
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
  const g = generator(0x5eed);
  const counts = { sent: 0, unknownMethod: 0, invalidRequest: 0, validSkipped: 0 };
  while (counts.sent < TOTAL) {
    const [name, input] = randomRequest(g);
    const method = typeof name === 'string' ? METHODS.get(name) : undefined;
    // Only malformed requests count: a generated input the schema accepts is not sent
    // (it would run real work), so every reply below must be a refusal.
    if (method !== undefined && method.input.safeParse(input ?? {}).success) {
      counts.validSkipped += 1;
      continue;
    }
    const reply = await host.call(name, input);
    counts.sent += 1;
    const label = `request ${counts.sent}: ${String(name).slice(0, 40)} ${JSON.stringify(input)?.slice(0, 200)}`;
    assert.equal(reply.ok, false, label);
    if (reply.ok) continue;
    const e = reply.error;
    assert.equal(typeof e.kind, 'string', label);
    assert.equal(typeof e.code, 'string', label);
    assert.equal(typeof e.message, 'string', label);
    assert.equal(e.kind, 'expected', `${label}: ${e.code} ${e.message}`);
    assert.ok(e.message.length < 5000, `${label}: message of ${e.message.length} characters`);
    if (e.code === 'unknown_method') counts.unknownMethod += 1;
    else if (e.code === 'invalid_request') counts.invalidRequest += 1;
    else assert.fail(`${label}: unexpected code ${e.code}`);
  }
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), protoKeys);
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype polluted');
  assert.equal(typeof ({} as { toString: unknown }).toString, 'function');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(unhandled, []);
  assert.equal(host.inFlight(), 0);
  console.log(`# fuzz: ${JSON.stringify(counts)}`);
});

test('pollution keys in requests a method accepts reach no prototype', async () => {
  for (const text of POLLUTION) {
    for (const name of ['dataset.list', 'run.list', 'studio.info', 'dataset.version.list']) {
      const input = JSON.parse(text) as unknown;
      const reply = await host.call(name, input);
      // Strict methods refuse the extra keys; lenient ones ignore them. Neither pollutes.
      if (!reply.ok) assert.equal(reply.error.code, 'invalid_request');
      assert.equal(({} as Record<string, unknown>).polluted, undefined, `${name} ${text}`);
    }
  }
  assert.deepEqual(unhandled, []);
});
