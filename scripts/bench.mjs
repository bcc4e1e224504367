#!/usr/bin/env node
// The benchmark suite: `npm run bench [-- --quick] [-- --only NAME,NAME]`.
// Runs every bench/*.ts module that exports `run(h, opts)` (see bench/harness.ts), each in its
// own process, then writes one JSON file to bench/results/ and prints a table with every
// figure, its spread, and whether it met its target (and by how much it missed).
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? '').split(',').filter(Boolean) : [];

// Modules run in this order (the training step first: later modules compare with it).
const ORDER = [
  'train-step',
  'sigreg',
  'engine',
  'memory',
  'datasets',
  'evaluation',
  'catalog',
  'explorer',
];
const SKIP = new Set(['harness']);

function modules() {
  const names = readdirSync(join(root, 'bench'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('-worker.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .filter((n) => !SKIP.has(n) && !n.startsWith('_'));
  const rank = (n) => (ORDER.includes(n) ? ORDER.indexOf(n) : ORDER.length);
  return names
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .filter((n) => only.length === 0 || only.includes(n));
}

function versions() {
  const out = { node: process.version };
  for (const pkg of [
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-backend-webgpu',
    'better-sqlite3',
    'sharp',
  ]) {
    const file = join(root, 'node_modules', pkg, 'package.json');
    if (existsSync(file)) out[pkg] = JSON.parse(readFileSync(file, 'utf8')).version;
  }
  out.torch = null;
  for (const python of ['python3', '/usr/bin/python3']) {
    const torch = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (torch.status === 0) {
      out.torch = torch.stdout.trim();
      break;
    }
  }
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  out.commit = git.status === 0 ? git.stdout.trim() : null;
  return out;
}

function machine() {
  const cpus = os.cpus();
  return {
    host: os.hostname(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    loadAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
}

function fmt(x) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

function verdict(f) {
  if (!f.target) return '';
  const { op, value } = f.target;
  const met = op === '>=' ? f.median >= value : f.median <= value;
  if (met) return 'met';
  const r = f.median / value;
  return op === '>='
    ? `MISSED by ${((1 - r) * 100).toFixed(0)}% (${(r * 100).toFixed(0)}% of target)`
    : `MISSED by ${((r - 1) * 100).toFixed(0)}% (${r.toFixed(2)}× the limit)`;
}

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ')).join('\n');
}

const started = new Date();
const meta = { machine: machine(), versions: versions(), quick, started: started.toISOString() };
const tmp = mkdtempSync(join(os.tmpdir(), 'lejepa-bench-'));
const reports = [];
for (const name of modules()) {
  process.stderr.write(`\n== ${name}${quick ? ' (quick)' : ''}\n`);
  const out = join(tmp, `${name}.json`);
  const res = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'bench', 'harness.ts'),
      join(root, 'bench', `${name}.ts`),
      out,
    ].concat(quick ? ['--quick'] : []),
    {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, BENCH_REPORTS_DIR: tmp },
    },
  );
  if (existsSync(out)) reports.push(JSON.parse(readFileSync(out, 'utf8')));
  else
    reports.push({
      module: name,
      plugged: true,
      figures: [],
      skips: [],
      notes: [],
      peakRssMB: {},
      error: `exited with ${res.status ?? res.signal} before writing its report`,
    });
}
meta.finished = new Date().toISOString();
meta.loadAtEnd = os.loadavg().map((l) => Number(l.toFixed(2)));

const figures = reports.flatMap((r) => r.figures);
const misses = figures
  .filter((f) => f.target && verdict(f) !== 'met')
  .map((f) => ({
    module: f.module,
    name: f.name,
    median: f.median,
    unit: f.unit,
    target: f.target,
    verdict: verdict(f),
  }));
const result = { ...meta, modules: reports, misses };

mkdirSync(join(root, 'bench', 'results'), { recursive: true });
const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\..*$/, 'Z');
const file = join(root, 'bench', 'results', `${quick ? 'bench-quick' : 'bench'}-${stamp}.json`);
writeFileSync(file, JSON.stringify(result, null, 1) + '\n');

const rows = [['module', 'figure', 'median', 'min–max', 'unit', 'target', 'verdict']];
for (const f of figures) {
  rows.push([
    f.module,
    f.name,
    fmt(f.median),
    f.n > 1 ? `${fmt(f.min)}–${fmt(f.max)}` : '',
    f.unit,
    f.target ? `${f.target.op} ${fmt(f.target.value)} (${f.target.label})` : '',
    verdict(f),
  ]);
}
process.stdout.write('\n' + table(rows) + '\n');
for (const r of reports) {
  for (const s of r.skips) process.stdout.write(`skipped ${r.module}/${s.name}: ${s.reason}\n`);
  if (!r.plugged) process.stdout.write(`not run ${r.module}: ${r.notes.join('; ')}\n`);
  if (r.error) process.stdout.write(`FAILED ${r.module}: ${r.error.split('\n')[0]}\n`);
}
process.stdout.write(
  misses.length
    ? `\n${misses.length} target(s) missed:\n${misses.map((m) => `  ${m.module}/${m.name}: ${fmt(m.median)} ${m.unit} vs ${m.target.op} ${fmt(m.target.value)} — ${m.verdict}`).join('\n')}\n`
    : '\nevery stated target met\n',
);
process.stdout.write(`results: ${relative(root, file)}\n`);
process.exit(reports.some((r) => r.error) ? 1 : 0);
