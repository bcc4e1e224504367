/**
 * Run configurations with every field wrong in turn, generated from the real
 * RunConfig schema: wrong type, below and above its range, negative, huge,
 * not whole, null, missing, and an extra field. Each is refused with the field's
 * name and, for numbers, its allowed range: through the api (`callMethod`), the
 * HTTP server, and the CLI (`lejepa-studio train ... --json`).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { z } from 'zod';

import { presetConfig, RunConfigSchema } from '../../src-main/api/run-config.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';
import { startHttpServer, type RunningServer } from '../../src-main/transports/http-server.ts';
import { createStudioHost, type StudioHost } from '../../src-main/transports/studio-host.ts';
import { apiOf, runCli, tempDir } from './helpers.ts';

interface Case {
  /** Dotted path of the field, e.g. `views.jitter.p`. */
  field: string;
  kind: string;
  /** The override sent as `config` (nested for nested fields). */
  config: Record<string, unknown>;
  /** Words the refusal must contain besides the field (the range). */
  range: string[];
}

function unwrap(s: z.ZodType): { inner: z.ZodType; nullable: boolean } {
  if (s instanceof z.ZodNullable) return { inner: s.unwrap() as z.ZodType, nullable: true };
  return { inner: s, nullable: false };
}

function nest(path: string[], value: unknown): Record<string, unknown> {
  let out: unknown = value;
  for (let i = path.length - 1; i >= 0; i--) out = { [path[i]!]: out };
  return out as Record<string, unknown>;
}

/** Every wrong value for one leaf of the schema. */
function casesFor(path: string[], schema: z.ZodType): Case[] {
  const field = path.join('.');
  const { inner, nullable } = unwrap(schema);
  const out: Case[] = [];
  const add = (kind: string, value: unknown, range: string[] = []) =>
    out.push({ field, kind, config: nest(path, value), range });
  if (!nullable) add('null', null);
  if (inner instanceof z.ZodNumber) {
    const min = inner.minValue ?? -Infinity;
    const max = inner.maxValue ?? Infinity;
    const range = [String(min), String(max)];
    const whole = inner.isInt;
    add('wrong type (string)', 'abc', range);
    add('wrong type (boolean)', true, range);
    add('wrong type (array)', [1], range);
    add('below range', whole ? min - 1 : min - Math.max(1e-3, Math.abs(min) * 0.5), range);
    add('above range', whole ? max + 1 : max * 2 + 1, range);
    if (min >= 0) add('negative', -1, range);
    add('huge', 1e308, range);
    if (whole) add('not whole', min + 0.5, range);
  } else if (inner instanceof z.ZodBoolean) {
    add('wrong type (string)', 'yes');
    add('wrong type (number)', 1);
  } else if (inner instanceof z.ZodEnum || inner instanceof z.ZodUnion) {
    add('unknown choice', 'no-such-choice');
    add('wrong type (number)', 12345);
    add('wrong type (object)', { a: 1 });
  } else if (inner instanceof z.ZodTuple) {
    add('too short', [0.5]);
    add('reversed', [0.9, 0.1]);
    add('out of range', [-1, 2], ['0', '1']);
    add('wrong type', 'wide');
  } else if (inner instanceof z.ZodArray) {
    add('empty', []);
    add('too long', [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]);
    add('out of range', [5]);
    add('wrong type', 'abc');
  } else if (inner instanceof z.ZodObject) {
    add('wrong type (string)', 'abc');
    add('wrong type (array)', []);
    add('extra field', { bogusField: 1 });
    for (const [k, v] of Object.entries(inner.shape as Record<string, z.ZodType>))
      out.push(...casesFor([...path, k], v));
  } else {
    add('wrong type (number)', 12345);
  }
  return out;
}

const CASES: Case[] = [];
for (const [k, v] of Object.entries(RunConfigSchema.shape as Record<string, z.ZodType>)) {
  // The version comes from the request itself (tested below); the config's copy is overwritten.
  if (k === 'datasetVersionId') continue;
  CASES.push(...casesFor([k], v));
}
CASES.push({
  field: 'bogusTopLevel',
  kind: 'extra field',
  config: { bogusTopLevel: 1 },
  range: [],
});
CASES.push({
  field: 'encoder',
  kind: 'spec with a bad stem',
  config: { encoder: { kind: 'resnet', inChannels: 1, stem: 0, widths: [8], depths: [1] } },
  range: ['4', '512'],
});

/** What is wrong with the reply to a bad case (undefined: a proper refusal). */
function refusalProblem(
  reply: { ok: boolean; error?: { kind: string; code: string; message: string } },
  c: Case,
): string | undefined {
  const label = `${c.field} ${c.kind} ${JSON.stringify(c.config)}`;
  if (reply.ok) return `${label}: accepted`;
  const e = reply.error!;
  if (e.kind !== 'expected' || !['invalid_config', 'invalid_request'].includes(e.code))
    return `${label}: ${e.kind}/${e.code}`;
  const leaf = c.field.split('.').pop()!;
  if (!e.message.includes(leaf)) return `${label}: the field is not named: ${e.message}`;
  for (const word of c.range)
    if (!e.message.includes(word)) return `${label}: the range is not given: ${e.message}`;
  return undefined;
}

let ws: Workspace;
let host: StudioHost;
let server: RunningServer;
before(async () => {
  ws = openWorkspace(tempDir('bad-config'));
  host = createStudioHost(ws);
  server = await startHttpServer({
    host,
    rendererDir: tempDir('renderer'),
    token: 'tok-bad-config',
  });
});
after(async () => {
  await server.close();
  host.close();
});

test(`the api refuses ${CASES.length} generated bad run configurations, naming field and range`, async () => {
  assert.ok(CASES.length >= 150, `${CASES.length} cases`);
  const api = apiOf(ws);
  const problems = new Set<string>();
  for (const c of CASES) {
    for (const method of ['run.config', 'run.start', 'run.estimate']) {
      const input = { datasetVersionId: 1, preset: 'quick', config: c.config };
      const problem = refusalProblem(await api.reply(method, input), c);
      if (problem !== undefined) problems.add(problem);
    }
  }
  assert.deepEqual([...problems], []);
  // The request-level fields: missing, wrong type, out of range, extra.
  for (const input of [
    {},
    { datasetVersionId: 'one' },
    { datasetVersionId: 0 },
    { datasetVersionId: -3 },
    { datasetVersionId: 1.5 },
    { datasetVersionId: 1, preset: 'huge' },
    { datasetVersionId: 1, config: 'epochs=3' },
    { datasetVersionId: 1, extra: true },
  ]) {
    const r = await api.reply('run.start', input);
    assert.equal(r.ok, false, JSON.stringify(input));
    if (!r.ok) assert.equal(r.error.code, 'invalid_request', r.error.message);
  }
  // Missing fields of a full configuration (what a resume or a saved form re-validates).
  const full = presetConfig('small', 1) as Record<string, unknown>;
  for (const key of Object.keys(full)) {
    const rest = { ...full };
    delete rest[key];
    const parsed = RunConfigSchema.safeParse(rest);
    assert.equal(parsed.success, false, `missing ${key} accepted`);
    assert.ok(
      parsed.error!.issues.some((i) => i.path[0] === key),
      `missing ${key} named`,
    );
  }
  const runs = ws.db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number };
  assert.equal(runs.n, 0, 'no run recorded');
});

function post(body: unknown): Promise<{ status: number; json: { ok: boolean; error?: never } }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path: '/api/call',
        method: 'POST',
        agent: false,
        headers: {
          host: `127.0.0.1:${server.port}`,
          'content-type': 'application/json',
          'x-studio-token': server.token,
        },
      },
      (res) => {
        let data = '';
        res.on('data', (d: Buffer) => (data += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(data) }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

test('the HTTP server refuses every generated bad configuration with 422/400 and the field', async () => {
  const problems: string[] = [];
  for (const c of CASES) {
    const r = await post({
      method: 'run.config',
      input: { datasetVersionId: 1, preset: 'quick', config: c.config },
    });
    const problem =
      r.status === 422 || r.status === 400
        ? refusalProblem(r.json as never, c)
        : `${c.field} ${c.kind}: status ${r.status}`;
    if (problem !== undefined) problems.push(problem);
  }
  assert.deepEqual(problems, []);
});

test('the CLI refuses bad values with the field and range, as JSON, exit code non-zero', async () => {
  const dir = tempDir('bad-config-cli');
  const base = ['train', '--dataset', '1', '--preset', 'quick', '--workspace', dir, '--json'];
  const cli: { args: string[]; field: string; range: string[] }[] = [
    { args: ['--epochs', '-1'], field: 'epochs', range: ['1', '10000'] },
    { args: ['--lr', 'abc'], field: 'lr', range: [] },
    { args: ['--batch', '100000000'], field: 'batch', range: ['2', '4096'] },
    { args: ['--threads', '0.5'], field: 'threads', range: ['1', '256'] },
    { args: ['--backend', 'quantum'], field: 'backend', range: [] },
    { args: ['--config', '{"views":{"flip":2}}'], field: 'flip', range: ['0', '1'] },
    { args: ['--config', '{"bogusKey":1}'], field: 'bogusKey', range: [] },
    { args: ['--config', '[not json'], field: 'config', range: [] },
  ];
  for (const c of cli) {
    const out = await runCli([...base, ...c.args]);
    assert.notEqual(out.code, 0, `${c.args.join(' ')} accepted`);
    const reply = JSON.parse(out.stdout.trim().split('\n').pop()!) as {
      ok: boolean;
      error: { message: string };
    };
    assert.equal(reply.ok, false);
    assert.ok(reply.error.message.includes(c.field), reply.error.message);
    for (const w of c.range) assert.ok(reply.error.message.includes(w), reply.error.message);
    assert.doesNotMatch(out.stderr, /\n\s+at /, 'no stack on the terminal');
  }
});

test('an array override replaces the preset value; an array where an object belongs is refused', async () => {
  const api = apiOf(ws);
  // Arrays replace: a one-value mean and a new crop range are taken as given.
  const ok = await api.call<{ views: { mean: number[]; globalScale: number[] } }>('run.config', {
    datasetVersionId: 1,
    preset: 'quick',
    config: { views: { mean: [0.5], globalScale: [0.6, 0.9] } },
  });
  assert.deepEqual(ok.views.mean, [0.5]);
  assert.deepEqual(ok.views.globalScale, [0.6, 0.9]);
  // `views.jitter: []` used to be merged into the preset's jitter and accepted.
  for (const jitter of [[], [0.8, 0.4], null, 'strong', 3]) {
    const r = await api.reply('run.config', {
      datasetVersionId: 1,
      preset: 'quick',
      config: { views: { jitter } },
    });
    assert.equal(r.ok, false, `views.jitter ${JSON.stringify(jitter)} accepted`);
    if (!r.ok) {
      assert.equal(r.error.code, 'invalid_config');
      assert.match(r.error.message, /views\.jitter/);
    }
  }
});
