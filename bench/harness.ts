/**
 * The benchmark harness shared by every bench/*.ts module.
 *
 * A module plugs in by exporting `run(h: Harness, opts: BenchOptions): Promise<void>`. The
 * runner (scripts/bench.mjs) starts each module in its own Node process through this file, so
 * that one module's backend, thread settings and peak memory never leak into another's, and
 * merges what they record into one JSON file per run.
 *
 * Figures are medians of repetitions after warm-up, with min and max. Comparisons run their
 * sides interleaved in the same invocation (A B, B A, A B, ...) and report the ratio round by
 * round: the machines this runs on are shared, so absolute times drift while ratios hold.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

export interface BenchOptions {
  /** The short subset: fewer sizes and repetitions (the whole suite in about 2 minutes). */
  quick: boolean;
}

/** What a bench module exports to be run by `npm run bench`. */
export type BenchEntry = (h: Harness, opts: BenchOptions) => Promise<void>;

export interface Stats {
  median: number;
  min: number;
  max: number;
  n: number;
  samples: number[];
}

export interface Target {
  /** '>=': the figure must reach `value`; '<=': it must stay at or below it. */
  op: '>=' | '<=';
  value: number;
  /** Where the target comes from, in words ("0.8 × PyTorch", "< 5 s"). */
  label: string;
}

export interface Figure {
  module: string;
  name: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  n: number;
  samples: number[];
  target?: Target;
  /** Backend, threads, sizes: what the figure was measured on. */
  params: Record<string, unknown>;
  note?: string;
}

export interface Skip {
  module: string;
  name: string;
  reason: string;
}

export interface ModuleReport {
  module: string;
  plugged: boolean;
  figures: Figure[];
  skips: Skip[];
  notes: string[];
  /** Peak resident memory of the module's own process and of each worker it started, MiB. */
  peakRssMB: Record<string, number>;
  seconds: number;
  error?: string;
}

/** Median, min and max of samples (the median of an even count is the mean of the middle two). */
export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { median: NaN, min: NaN, max: NaN, n: 0, samples: [] };
  const median = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { median, min: s[0]!, max: s[n - 1]!, n, samples };
}

/** One figure's verdict against its target: met, or missed by how much. */
export function verdict(f: Pick<Figure, 'median' | 'target'>): string {
  if (!f.target) return '';
  const { op, value } = f.target;
  const met = op === '>=' ? f.median >= value : f.median <= value;
  if (met) return 'met';
  const ratio = f.median / value;
  return op === '>='
    ? `missed: ${(ratio * 100).toFixed(0)}% of target (short by ${((1 - ratio) * 100).toFixed(0)}%)`
    : `missed: ${ratio.toFixed(2)}× the limit (over by ${((ratio - 1) * 100).toFixed(0)}%)`;
}

export interface Timing {
  warmup: number;
  reps: number;
}

/** A side of an interleaved comparison: one repetition, returning its own measure (e.g. ms). */
export type Side = () => Promise<number>;

export interface Interleaved {
  sides: Record<string, Stats>;
  /** Ratios a/b computed round by round, for every ordered pair asked for. */
  ratio(a: string, b: string): Stats;
}

export class Harness {
  readonly report: ModuleReport;
  private readonly workers: LineWorker[] = [];

  constructor(readonly module: string) {
    this.report = {
      module,
      plugged: true,
      figures: [],
      skips: [],
      notes: [],
      peakRssMB: {},
      seconds: 0,
    };
  }

  /** Times `fn` (ms) `reps` times after `warmup` untimed calls; a returned number is used as is. */
  async repeat(fn: () => unknown, t: Timing): Promise<Stats> {
    for (let i = 0; i < t.warmup; i++) await fn();
    const samples: number[] = [];
    for (let i = 0; i < t.reps; i++) {
      const start = performance.now();
      const own = await fn();
      samples.push(typeof own === 'number' ? own : performance.now() - start);
    }
    return stats(samples);
  }

  /**
   * Runs every side once per round, rotating the order each round so that no side always
   * follows the same neighbour, after `warmup` untimed rounds.
   */
  async interleave(sides: Record<string, Side>, t: Timing): Promise<Interleaved> {
    const names = Object.keys(sides);
    const rounds: Record<string, number>[] = [];
    for (let r = 0; r < t.warmup + t.reps; r++) {
      const round: Record<string, number> = {};
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + r) % names.length]!;
        round[name] = await sides[name]!();
      }
      if (r >= t.warmup) rounds.push(round);
      const times = names.map((n) => `${n} ${fmt(round[n]!)}`).join(', ');
      process.stderr.write(
        `    round ${r + 1}/${t.warmup + t.reps}${r < t.warmup ? ' (warm-up)' : ''}: ${times}\n`,
      );
    }
    const out: Record<string, Stats> = {};
    for (const name of names) out[name] = stats(rounds.map((r) => r[name]!));
    return {
      sides: out,
      ratio: (a, b) => stats(rounds.map((r) => r[a]! / r[b]!)),
    };
  }

  /** Records a figure from its stats. */
  figure(
    name: string,
    s: Stats,
    unit: string,
    params: Record<string, unknown> = {},
    extra: { target?: Target; note?: string } = {},
  ): Figure {
    const f: Figure = { module: this.module, name, unit, ...s, params, ...extra };
    this.report.figures.push(f);
    const spread = s.n > 1 ? ` (${fmt(s.min)}–${fmt(s.max)}, n=${s.n})` : '';
    const v = verdict(f);
    process.stderr.write(`  ${name}: ${fmt(s.median)} ${unit}${spread}${v ? `  [${v}]` : ''}\n`);
    return f;
  }

  /**
   * A module's report from earlier in the same run (the runner passes their folder), else from
   * the newest full (not --quick) results file in bench/results/ that has it, with a note
   * naming that file; null when there is none.
   */
  previous(module: string): ModuleReport | null {
    const dir = process.env.BENCH_REPORTS_DIR;
    const file = dir ? join(dir, `${module}.json`) : '';
    if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as ModuleReport;
    const results = join(import.meta.dirname, 'results');
    if (!existsSync(results)) return null;
    const files = readdirSync(results)
      .filter((f) => /^bench-\d.*\.json$/.test(f))
      .sort()
      .reverse();
    for (const f of files) {
      try {
        const run = JSON.parse(readFileSync(join(results, f), 'utf8')) as {
          modules?: ModuleReport[];
        };
        const found = run.modules?.find((m) => m.module === module && m.figures.length > 0);
        if (found) {
          this.note(`${module} figures taken from the earlier run bench/results/${f}`);
          return found;
        }
      } catch {
        // A file being written or damaged: try the next one.
      }
    }
    return null;
  }

  skip(name: string, reason: string): void {
    this.report.skips.push({ module: this.module, name, reason });
    process.stderr.write(`  ${name}: skipped (${reason})\n`);
  }

  note(text: string): void {
    this.report.notes.push(text);
    process.stderr.write(`  note: ${text}\n`);
  }

  /**
   * Starts a long-lived worker process that answers one JSON line per JSON line it reads
   * (bench/*-worker.ts, bench/pytorch/*.py). Its peak memory lands in the report when closed.
   */
  worker(label: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): LineWorker {
    const w = new LineWorker(label, command, args, { ...process.env, ...env });
    this.workers.push(w);
    return w;
  }

  async closeWorkers(): Promise<void> {
    for (const w of this.workers.splice(0)) {
      const rss = await w.close();
      if (rss !== null) this.report.peakRssMB[w.label] = rss;
    }
  }
}

/** A child process speaking one JSON object per line in each direction. */
export class LineWorker {
  private readonly child: ChildProcess;
  private readonly pending: ((line: string) => void)[] = [];
  private readonly stderr: string[] = [];
  private exited: string | null = null;

  constructor(
    readonly label: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      this.pending.shift()?.(line);
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr.push(d.toString());
      if (this.stderr.length > 50) this.stderr.shift();
    });
    this.child.on('exit', (code, signal) => {
      this.exited = `${label} exited (${signal ?? code}): ${this.stderr.join('').slice(-600)}`;
      for (const resolve of this.pending.splice(0)) resolve(JSON.stringify({ error: this.exited }));
    });
  }

  /** Sends a request and waits for its reply; a reply with `error` rejects. */
  async call<T = Record<string, unknown>>(request: Record<string, unknown>): Promise<T> {
    if (this.exited) throw new Error(this.exited);
    const line = await new Promise<string>((resolve) => {
      this.pending.push(resolve);
      this.child.stdin!.write(JSON.stringify(request) + '\n');
    });
    const reply = JSON.parse(line) as T & { error?: string };
    if (reply.error) throw new Error(`${this.label}: ${reply.error}`);
    return reply;
  }

  /** Asks the worker for its peak memory and ends it; null when it had already gone. */
  async close(): Promise<number | null> {
    if (this.exited) return null;
    let rss: number | null;
    try {
      rss = (await this.call<{ peakRssMB: number }>({ op: 'exit' })).peakRssMB;
    } catch {
      rss = null;
    }
    this.child.stdin!.end();
    if (!this.exited) this.child.kill();
    return rss;
  }
}

/** Peak resident memory of this process, MiB (Linux reports maxRSS in KiB). */
export function peakRssMB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

/**
 * Child entry: `node --import tsx bench/harness.ts MODULE.ts OUT.json [--quick]` runs one
 * module and writes its report to OUT.json.
 */
async function main(argv: string[]): Promise<void> {
  const [file, out] = argv;
  if (!file || !out) throw new Error('usage: harness.ts MODULE.ts OUT.json [--quick]');
  const name = file.replace(/^.*\//, '').replace(/\.ts$/, '');
  const h = new Harness(name);
  const started = performance.now();
  try {
    const mod = (await import(pathToFileURL(file).href)) as { run?: BenchEntry };
    if (typeof mod.run !== 'function') {
      h.report.plugged = false;
      h.report.notes.push(`${file} does not export run(h, opts): not part of the suite yet`);
    } else {
      await mod.run(h, { quick: argv.includes('--quick') });
    }
  } catch (err) {
    h.report.error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  } finally {
    await h.closeWorkers();
    h.report.peakRssMB[name] = peakRssMB();
    h.report.seconds = (performance.now() - started) / 1000;
    writeFileSync(out, JSON.stringify(h.report));
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exit(1);
    },
  );
}
