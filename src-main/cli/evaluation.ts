/**
 * Evaluation from a terminal: `embed`, `embeddings`, `evaluate` (kNN + linear
 * probe), `isotropy`, `rank`, `project`, `neighbours` and `export`. Each calls
 * the api; progress of job processes is drawn on stderr.
 */
import { expected } from '../api/errors.ts';
import type { EmbeddingRow } from '../catalog/embeddings.ts';
import type { EvaluationRow, ProjectionRow } from '../catalog/evaluation.ts';
import type { ExportRow } from '../catalog/exports.ts';
import type { IsotropyReport } from '../engine/eval/isotropy.ts';
import { numberOption, type OptionSpecs, type ParsedArgs } from './args.ts';
import type { CliCommand, CliContext } from './command.ts';

const EMBED_OPTIONS: OptionSpecs = {
  run: { type: 'string', help: 'run id' },
  checkpoint: { type: 'string', help: 'checkpoint step (default: the newest)' },
  version: { type: 'string', help: 'dataset version to embed (default: the run’s)' },
  head: { type: 'string', help: 'backbone (default) or projector' },
  batch: { type: 'string', help: 'images per forward pass (default 256)' },
  backend: { type: 'string', help: 'auto, wasm, cpu, webgpu, tensorflow, tensorflow-gpu' },
  embedding: { type: 'string', help: 'an existing embedding id instead of --run' },
};

/** The progress line of each CLI context: one listener, relabelled per step of a command. */
const progressLines = new WeakMap<
  CliContext,
  { label: string; lastTenth: number; open: boolean }
>();

/**
 * Prints `job.progress` events under `label` as one updating line on a terminal
 * (a line per ~10 % otherwise). A later call on the same context relabels the
 * line for the next step of the command (embedding, then kNN, then the probe).
 */
export function showProgress(ctx: CliContext, label: string): void {
  const tty = process.stderr.isTTY === true;
  const known = progressLines.get(ctx);
  if (known !== undefined) {
    if (known.open) process.stderr.write('\n');
    Object.assign(known, { label, lastTenth: -1, open: false });
    return;
  }
  const line = { label, lastTenth: -1, open: false };
  progressLines.set(ctx, line);
  ctx.onEvent((e) => {
    if (e.type !== 'job.progress' || e.total === null || e.total === 0) return;
    const frac = e.done / e.total;
    const text = `${line.label}${e.message ? ` (${e.message})` : ''}: ${(frac * 100).toFixed(0)}%`;
    if (tty) {
      process.stderr.write(`\r${text}   ${frac >= 1 ? '\n' : ''}`);
      line.open = frac < 1;
    } else if (Math.floor(frac * 10) > line.lastTenth) {
      line.lastTenth = Math.floor(frac * 10);
      ctx.say(text);
    }
  });
}

const int = (args: ParsedArgs, name: string) => {
  const v = numberOption(args, name);
  if (v !== undefined && !Number.isInteger(v)) {
    throw expected('invalid_option', `--${name} must be a whole number.`);
  }
  return v;
};

/** A string option limited to a few words; anything else is refused with the choices. */
function choice<T extends string>(
  args: ParsedArgs,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const v = args.options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    const list = allowed.map((a) => `\`${a}\``).join(', ');
    throw expected('invalid_option', `--${name} must be one of ${list}, got ${JSON.stringify(v)}.`);
  }
  return v as T;
}

/** A required whole-number option, refused with a sentence that says what to give. */
const requiredInt = (args: ParsedArgs, name: string, what: string): number => {
  const v = int(args, name);
  if (v === undefined) throw expected('invalid_option', `Give --${name} ID: ${what}.`);
  return v;
};

const EMBEDDING_HINT = 'the embedding to use (list them with `lejepa-studio embeddings`)';

/** The embedding named by --embedding, or the one of --run (computed when missing). */
async function resolveEmbedding(ctx: CliContext, args: ParsedArgs): Promise<EmbeddingRow> {
  const id = int(args, 'embedding');
  if (id !== undefined) {
    const shown = await ctx.call<{ embedding: EmbeddingRow }>('embedding.show', { id });
    return shown.embedding;
  }
  const runId = int(args, 'run');
  if (runId === undefined) {
    throw expected('invalid_option', 'Give --embedding ID, or --run ID to embed a run first.');
  }
  showProgress(ctx, `embedding with run ${runId}`);
  const input: Record<string, unknown> = { runId };
  const step = int(args, 'checkpoint');
  const version = int(args, 'version');
  const batch = int(args, 'batch');
  if (step !== undefined) input.step = step;
  if (version !== undefined) input.versionId = version;
  if (batch !== undefined) input.batch = batch;
  const head = choice(args, 'head', ['backbone', 'projector']);
  if (head !== undefined) input.head = head;
  if (typeof args.options.backend === 'string') input.backend = args.options.backend;
  return ctx.call<EmbeddingRow>('embedding.create', input);
}

const describeEmbedding = (e: EmbeddingRow) =>
  e.count === null || e.dim === null
    ? `embedding ${e.id} (${e.head}) of version ${e.versionId}, run ${e.runId} step ${e.checkpointStep}`
    : `embedding ${e.id}: ${e.count} × ${e.dim} (${e.head}) of version ${e.versionId}, run ${e.runId} step ${e.checkpointStep}`;

interface ProjectionInfo {
  explained?: number[];
  inertia?: number;
  iterations?: number;
  exactGraph?: boolean;
  epochs?: number;
}

/** The one line a projection's job reports: variance kept, cluster fit or UMAP graph. */
function describeProjection(method: string, info: ProjectionInfo): string {
  if (method === 'pca' && info.explained) {
    const shares = info.explained.map((v) => `${(v * 100).toFixed(1)} %`).join(', ');
    return `variance along the axes: ${shares}`;
  }
  if (method === 'kmeans' && info.inertia !== undefined) {
    return `sum of squared distances to the centres ${info.inertia.toPrecision(4)} after ${info.iterations} iterations`;
  }
  if (method === 'umap' && info.epochs !== undefined) {
    return `${info.exactGraph ? 'exact' : 'approximate'} neighbour graph, ${info.epochs} layout epochs`;
  }
  return '';
}

interface ProbeSummary {
  trainAccuracy: number;
  iterations: number;
  converged: boolean;
  reason: string;
  gradientMax?: number;
}

/** How the probe's optimiser stopped, in words. */
function probeStop(p: ProbeSummary): string {
  const its = `${p.iterations} L-BFGS iteration${p.iterations === 1 ? '' : 's'}`;
  if (p.converged) return `converged in ${its}`;
  const g =
    p.gradientMax === undefined ? '' : `, largest gradient entry ${p.gradientMax.toExponential(1)}`;
  if (p.reason === 'line-search') {
    return `${its}; stopped where float32 rounding hides any further decrease${g}`;
  }
  if (p.reason === 'max-iterations') {
    return `stopped at the limit of ${its}${g}; raise it with --max-iter`;
  }
  return `${its}, stopped (${p.reason})${g}`;
}

const pct = (v: number | null | undefined) => (v == null ? '–' : `${(v * 100).toFixed(2)} %`);

export const evaluationCommands: CliCommand[] = [
  {
    name: 'embed',
    usage: 'embed --run ID [--checkpoint STEP] [--version ID] [--head backbone|projector]',
    summary: 'Embed a dataset version with a run’s checkpoint (stored; reused when repeated).',
    options: EMBED_OPTIONS,
    async run(ctx, args) {
      const e = await resolveEmbedding(ctx, args);
      const reused = (e as { reused?: boolean }).reused ? ' (stored, reused)' : '';
      return { result: e, text: describeEmbedding(e) + reused };
    },
  },
  {
    name: 'embeddings',
    usage: 'embeddings [--run ID]',
    summary: 'List stored embeddings.',
    options: { run: { type: 'string', help: 'only this run' } },
    async run(ctx, args) {
      const runId = int(args, 'run');
      const rows = await ctx.call<EmbeddingRow[]>(
        'embedding.list',
        runId === undefined ? {} : { runId },
      );
      const text = rows
        .map((e) => `${describeEmbedding(e)}  ${e.status}${e.message ? `: ${e.message}` : ''}`)
        .join('\n');
      return { result: rows, text: rows.length === 0 ? 'no embeddings yet' : text };
    },
  },
  {
    name: 'evaluate',
    usage:
      'evaluate (--embedding ID | --run ID [--checkpoint STEP]) [--k N] [--metric M] [--split S]',
    summary: 'kNN accuracy and linear-probe accuracy (train split fitted, val or test reported).',
    options: {
      ...EMBED_OPTIONS,
      k: { type: 'string', help: 'neighbours for kNN (default 20)' },
      metric: { type: 'string', help: 'cosine (default) or euclidean' },
      split: { type: 'string', help: 'val or test (default: test when present)' },
      l2: { type: 'string', help: 'probe weight penalty (default 1e-4)' },
      'max-iter': { type: 'string', help: 'probe L-BFGS iterations at most (default 500)' },
      force: { type: 'boolean', help: 'compute again even when stored' },
    },
    async run(ctx, args) {
      const e = await resolveEmbedding(ctx, args);
      const common: Record<string, unknown> = {
        embeddingId: e.id,
        force: args.options.force === true,
      };
      const split = choice(args, 'split', ['val', 'test']);
      if (split !== undefined) common.split = split;
      if (typeof args.options.backend === 'string') common.backend = args.options.backend;
      showProgress(ctx, 'kNN');
      const knnIn = { ...common } as Record<string, unknown>;
      if (int(args, 'k') !== undefined) knnIn.k = int(args, 'k');
      const metric = choice(args, 'metric', ['cosine', 'euclidean']);
      if (metric !== undefined) knnIn.metric = metric;
      const knn = await ctx.call<EvaluationRow>('eval.knn', knnIn);
      const probeIn = { ...common } as Record<string, unknown>;
      if (numberOption(args, 'l2') !== undefined) probeIn.l2 = numberOption(args, 'l2');
      if (int(args, 'max-iter') !== undefined) probeIn.maxIter = int(args, 'max-iter');
      showProgress(ctx, 'linear probe (L-BFGS iterations)');
      const probe = await ctx.call<EvaluationRow>('eval.probe', probeIn);
      const p = probe.result as ProbeSummary;
      const k = knn.params as { k: number; metric: string; split: string };
      const text = [
        describeEmbedding(e),
        `kNN (k ${k.k}, ${k.metric}) on ${k.split}: ${pct(knn.score)}`,
        `linear probe on ${k.split}: ${pct(probe.score)} (train ${pct(p.trainAccuracy)}; ${probeStop(p)})`,
      ].join('\n');
      return { result: { embedding: e, knn, probe }, text };
    },
  },
  {
    name: 'isotropy',
    usage: 'isotropy (--embedding ID | --run ID [--checkpoint STEP]) [--slices N]',
    summary: 'How close the embedding is to an isotropic Gaussian, with a verdict.',
    options: {
      ...EMBED_OPTIONS,
      slices: { type: 'string', help: 'random directions (default 256)' },
      seed: { type: 'string', help: 'seed of the directions (default 0)' },
    },
    async run(ctx, args) {
      const e = await resolveEmbedding(ctx, args);
      const input: Record<string, unknown> = { embeddingId: e.id };
      if (int(args, 'slices') !== undefined) input.slices = int(args, 'slices');
      if (int(args, 'seed') !== undefined) input.seed = int(args, 'seed');
      const row = await ctx.call<EvaluationRow>('eval.isotropy', input);
      const r = row.result as IsotropyReport;
      const top = r.eigenvalues.slice(0, 5).map((v) => v.toPrecision(3));
      const text = [
        describeEmbedding(e),
        `verdict: ${r.verdict.toUpperCase()}`,
        ...r.reasons.map((s) => `  ${s}`),
        `mean norm ${r.meanNorm.toPrecision(3)}; std per dimension ${Math.min(...r.std).toPrecision(3)}–${Math.max(...r.std).toPrecision(3)}`,
        `effective rank ${r.effectiveRank.toFixed(1)} of ${r.d}; top eigenvalues ${top.join(', ')}; top share ${(r.topEigenShare * 100).toFixed(1)} %`,
        `near-dead dimensions ${r.deadDimensions} (${(r.deadShare * 100).toFixed(1)} %)`,
        `Epps–Pulley per slice, standardised per dimension: median ${r.epps.median.toFixed(3)}, mean ${r.epps.mean.toFixed(3)} over ${r.epps.slices} slices of ${r.epps.sampleRows} rows; Gaussian data standardised alike: median ${r.epps.gaussianReference.toFixed(3)}`,
        ...(r.epps.asIs
          ? [
              `Epps–Pulley per slice as is (what SIGReg measures): mean ${r.epps.asIs.mean.toPrecision(4)}, median ${r.epps.asIs.median.toPrecision(4)}; N(0, I) data: mean ${r.epps.expectedGaussian.toFixed(3)}`,
            ]
          : []),
      ].join('\n');
      return { result: row, text };
    },
  },
  {
    name: 'rank',
    usage: 'rank',
    summary: 'Rank runs without labels by final loss / λ^0.4; agreement with probe accuracy.',
    async run(ctx) {
      type Ranked = {
        runs: {
          runId: number;
          name: string;
          loss: number;
          lambda: number;
          scaledLoss: number;
          rank: number;
          probeAccuracy: number | null;
          knnAccuracy: number | null;
        }[];
        agreement: { runsWithAccuracy: number; spearmanLoss: number; spearmanScaledLoss: number };
      };
      const r = await ctx.call<Ranked>('eval.rank', {});
      const lines = ['runs ranked by final training loss / λ^0.4 (lowest first: predicted best)'];
      lines.push(
        ...r.runs.map(
          (x) =>
            `${String(x.rank).padStart(3)}. run ${x.runId}  loss ${x.loss.toFixed(4)}  λ ${x.lambda}  loss/λ^0.4 ${x.scaledLoss.toFixed(4)}  probe ${pct(x.probeAccuracy)}  kNN ${pct(x.knnAccuracy)}  ${x.name}`,
        ),
      );
      const a = r.agreement;
      lines.push(
        a.runsWithAccuracy < 2
          ? `agreement with accuracy: needs at least 2 evaluated runs (have ${a.runsWithAccuracy})`
          : `Spearman ρ with accuracy over ${a.runsWithAccuracy} runs: loss ${a.spearmanLoss.toFixed(3)}, loss/λ^0.4 ${a.spearmanScaledLoss.toFixed(3)} (−1 = lower loss always meant higher accuracy)`,
      );
      return {
        result: r,
        text: r.runs.length === 0 ? 'no runs with metrics yet' : lines.join('\n'),
      };
    },
  },
  {
    name: 'project',
    usage: 'project --embedding ID --method pca|umap|kmeans [--components 2|3] [--k N] [--seed N]',
    summary: 'PCA, UMAP or k-means clusters of an embedding (stored in the workspace).',
    options: {
      embedding: { type: 'string', help: 'embedding id' },
      method: { type: 'string', help: 'pca, umap or kmeans' },
      components: { type: 'string', help: '2 or 3 (default 2)' },
      neighbours: { type: 'string', help: 'UMAP neighbours (default 15)' },
      k: { type: 'string', help: 'k-means clusters (default 10)' },
      seed: { type: 'string', help: 'seed (default 0)' },
      'min-dist': { type: 'string', help: 'UMAP minimum distance (default 0.1)' },
      backend: { type: 'string', help: 'backend for the neighbour graph' },
      force: { type: 'boolean', help: 'compute again even when stored' },
    },
    async run(ctx, args) {
      const input: Record<string, unknown> = {
        embeddingId: requiredInt(args, 'embedding', EMBEDDING_HINT),
        method: choice(args, 'method', ['pca', 'umap', 'kmeans']) ?? 'pca',
      };
      const components = int(args, 'components');
      if (components !== undefined && components !== 2 && components !== 3) {
        throw expected('invalid_option', `--components must be 2 or 3, got ${components}.`);
      }
      for (const name of ['components', 'neighbours', 'k', 'seed']) {
        if (int(args, name) !== undefined) input[name] = int(args, name);
      }
      if (numberOption(args, 'min-dist') !== undefined)
        input.minDist = numberOption(args, 'min-dist');
      if (typeof args.options.backend === 'string') input.backend = args.options.backend;
      if (args.options.force === true) input.force = true;
      showProgress(ctx, String(input.method));
      const p = await ctx.call<ProjectionRow & { info?: ProjectionInfo; reused?: boolean }>(
        'projection.create',
        input,
      );
      const lines = [
        `projection ${p.id} (${p.method}) of embedding ${p.embeddingId}: ${p.path} in ${p.seconds?.toFixed(2)} s${p.reused ? ' (stored, reused)' : ''}`,
      ];
      if (p.info !== undefined) lines.push(`  ${describeProjection(p.method, p.info)}`);
      return { result: p, text: lines.join('\n') };
    },
  },
  {
    name: 'neighbours',
    usage: 'neighbours --embedding ID (--item ID | --row N | --image FILE) [--k N]',
    summary: 'Nearest neighbours of an item, or of an image file, in an embedding.',
    options: {
      embedding: { type: 'string', help: 'embedding id' },
      item: { type: 'string', help: 'item id' },
      row: { type: 'string', help: 'row of the embedding' },
      image: { type: 'string', help: 'an image file to embed with the same checkpoint' },
      k: { type: 'string', help: 'how many (default 10)' },
      metric: { type: 'string', help: 'cosine (default) or euclidean' },
    },
    async run(ctx, args) {
      const input: Record<string, unknown> = {
        embeddingId: requiredInt(args, 'embedding', EMBEDDING_HINT),
      };
      if (int(args, 'item') !== undefined) input.itemId = int(args, 'item');
      if (int(args, 'row') !== undefined) input.row = int(args, 'row');
      if (typeof args.options.image === 'string') input.imagePath = args.options.image;
      const given = ['itemId', 'row', 'imagePath'].filter((key) => key in input).length;
      if (given !== 1) {
        throw expected(
          'invalid_option',
          'Give exactly one of --item ID, --row N or --image FILE: the item (or image file) whose neighbours to list.',
        );
      }
      if (int(args, 'k') !== undefined) input.k = int(args, 'k');
      const metric = choice(args, 'metric', ['cosine', 'euclidean']);
      if (metric !== undefined) input.metric = metric;
      type Hits = {
        query: { row?: number; itemId?: number; image?: string; label?: string | null };
        ms: number;
        index: string;
        metric: string;
        hits: { row: number; itemId: number; label: string | null; split: string; score: number }[];
      };
      const r = await ctx.call<Hits>('embedding.neighbours', input);
      const lines = r.hits.map(
        (h, i) =>
          `${String(i + 1).padStart(3)}. item ${h.itemId} (row ${h.row}, ${h.split}, ${h.label ?? 'no label'})  ${h.score.toFixed(4)}`,
      );
      const what =
        r.query.image ??
        `item ${r.query.itemId} (row ${r.query.row}, ${r.query.label ?? 'no label'})`;
      const score = r.metric === 'euclidean' ? 'Euclidean distance' : 'cosine similarity';
      const index = r.index === 'exact' ? 'exact search' : 'approximate index';
      lines.unshift(`neighbours of ${what}, by ${score} (${index}, ${r.ms.toFixed(1)} ms):`);
      return { result: r, text: lines.join('\n') };
    },
  },
  {
    name: 'export',
    usage: 'export --run ID [--checkpoint STEP] --format tfjs|onnx|all [--with-projector]',
    summary: 'Export a run’s encoder (TF.js, ONNX) with a model card; checked against the studio.',
    options: {
      run: { type: 'string', help: 'run id' },
      checkpoint: { type: 'string', help: 'checkpoint step (default: the newest)' },
      format: { type: 'string', help: 'tfjs, onnx or all (default all)' },
      'with-projector': { type: 'boolean', help: 'include the projector head' },
      'parity-images': { type: 'string', help: 'images in the parity check (default 64)' },
    },
    async run(ctx, args) {
      const input: Record<string, unknown> = {
        runId: requiredInt(args, 'run', 'the run to export (list them with `lejepa-studio runs`)'),
        format: choice(args, 'format', ['tfjs', 'onnx', 'all']) ?? 'all',
        withProjector: args.options['with-projector'] === true,
      };
      if (int(args, 'checkpoint') !== undefined) input.step = int(args, 'checkpoint');
      if (int(args, 'parity-images') !== undefined) input.parityImages = int(args, 'parity-images');
      showProgress(ctx, 'export');
      const row = await ctx.call<ExportRow>('export.create', input);
      const parity = (row.parity ?? []) as {
        format: string;
        images: number;
        maxAbsDiff: number;
        relative: number;
        passed: boolean;
        error?: string;
      }[];
      const lines = [
        `export ${row.id} of run ${row.runId} step ${row.checkpointStep}: ${row.status.toUpperCase()}`,
        `  folder ${row.dir}`,
        ...parity.map(
          (p) =>
            `  ${p.format}: ${p.images} images, max abs diff ${p.maxAbsDiff.toExponential(2)} (${p.relative.toExponential(2)} of scale) ${p.passed ? 'passed' : `FAILED${p.error ? `: ${p.error}` : ''}`}`,
        ),
      ];
      return { result: row, text: lines.join('\n'), exitCode: row.status === 'passed' ? 0 : 1 };
    },
  },
];
