/**
 * Explore: one embedding (a run's checkpoint applied to a dataset version), its
 * 2-D projection, the categories to colour by, neighbours of a clicked point and
 * the isotropy diagnostics. Every api call of the view goes through here.
 */
import type { ScatterData } from '../scatter/webgl-scatter.ts';
import type { Studio } from './studio.svelte.ts';
import { Task, anyJobProgress } from './task.svelte.ts';

export interface EmbeddingRow {
  id: number;
  versionId: number;
  runId: number | null;
  checkpointStep: number;
  head: 'backbone' | 'projector';
  status: string;
  count: number | null;
  dim: number | null;
  createdAt: string;
}

export interface Projection {
  method: string;
  itemIds: number[];
  /** Row-major [n, 2]. */
  points: number[];
  labels: number[];
  classes: string[];
  splits: string[];
  clusters?: number[] | null;
}

export interface Neighbour {
  row: number;
  itemId: number;
  score: number;
  label: string | null;
  split: string;
}

/** The isotropy evaluation as the panel shows it (a subset of the engine's report). */
export interface Isotropy {
  n: number;
  d: number;
  meanNorm: number;
  /** Covariance eigenvalues, largest first. */
  eigenvalues: number[];
  effectiveRank: number;
  topEigenShare: number;
  deadDimensions: number;
  epps: { slices: number; median: number; gaussianReference: number };
  verdict: string;
  /** Sentences with the numbers that decided the verdict. */
  reasons: string[];
}

interface ProjectionData {
  id: number;
  method: string;
  count: number;
  components: number;
  values: number[];
  itemIds: number[];
  labels: number[];
  classes: string[];
  splits: string[];
}

export type ColourBy = 'label' | 'split' | 'cluster' | 'tag';

const SPLITS = ['train', 'val', 'test'];

export class ExploreStore {
  embeddings = $state<EmbeddingRow[]>([]);
  embedding = $state<EmbeddingRow | null>(null);
  projection = $state<Projection | null>(null);
  colourBy = $state<ColourBy>('label');
  tags = $state<Map<number, string[]> | null>(null);
  selection = $state<Set<number>>(new Set());
  neighbours = $state<{ of: number; list: Neighbour[] } | null>(null);
  isotropy = $state<Isotropy | null>(null);
  /** Why there is no isotropy report to show, once asking for one has failed. */
  isotropyProblem = $state<string | null>(null);
  datasetId = $state<number | null>(null);
  readonly embed: Task<EmbeddingRow>;
  readonly project: Task<{ id: number }>;
  #studio: Studio;

  constructor(studio: Studio) {
    this.#studio = studio;
    this.embed = new Task(studio, 'Embedding');
    this.project = new Task(studio, 'Projection');
  }

  async loadEmbeddings(): Promise<void> {
    try {
      this.embeddings = await this.#studio.call<EmbeddingRow[]>('embedding.list', {});
    } catch (err) {
      this.#studio.notices.error(err);
    }
  }

  async createEmbedding(runId: number, head: 'backbone' | 'projector'): Promise<void> {
    const row = await this.embed.run('embedding.create', { runId, head }, anyJobProgress);
    if (row !== null) {
      await this.loadEmbeddings();
      await this.open(row);
    }
  }

  async open(row: EmbeddingRow): Promise<void> {
    this.embedding = row;
    this.projection = null;
    this.neighbours = null;
    this.selection = new Set();
    this.isotropy = null;
    this.isotropyProblem = null;
    this.tags = null;
    try {
      const version = await this.#studio.call<{ datasetId: number }>('dataset.version.show', {
        version: row.versionId,
      });
      this.datasetId = version.datasetId;
    } catch (err) {
      this.#studio.notices.error(err);
    }
    void this.loadIsotropy();
  }

  async runProjection(method: 'pca' | 'umap' | 'kmeans'): Promise<void> {
    if (this.embedding === null) return;
    const created = await this.project.run(
      'projection.create',
      { embeddingId: this.embedding.id, method, ...(method === 'kmeans' ? { k: 10 } : {}) },
      anyJobProgress,
    );
    if (created === null) return;
    try {
      const data = await this.#studio.call<ProjectionData>('projection.data', { id: created.id });
      if (method === 'kmeans') {
        if (this.projection !== null)
          this.projection = { ...this.projection, clusters: data.values };
        this.colourBy = 'cluster';
        return;
      }
      const c = data.components;
      const points = new Array<number>(data.count * 2);
      for (let i = 0; i < data.count; i++) {
        points[2 * i] = data.values[i * c]!;
        points[2 * i + 1] = data.values[i * c + 1]!;
      }
      this.projection = {
        method,
        itemIds: data.itemIds,
        points,
        labels: data.labels,
        classes: data.classes,
        splits: data.splits,
        clusters: this.projection?.clusters ?? null,
      };
    } catch (err) {
      this.#studio.notices.error(err);
    }
  }

  async loadIsotropy(): Promise<void> {
    if (this.embedding === null || !this.#studio.has('eval.isotropy')) return;
    try {
      const row = await this.#studio.call<{ score: number | null; result: unknown }>(
        'eval.isotropy',
        { embeddingId: this.embedding.id },
      );
      const r = row.result as Partial<Isotropy> | null;
      this.isotropy =
        r !== null && typeof r.verdict === 'string' && r.epps !== undefined
          ? {
              n: r.n ?? 0,
              d: r.d ?? 0,
              meanNorm: r.meanNorm ?? 0,
              eigenvalues: r.eigenvalues ?? [],
              effectiveRank: r.effectiveRank ?? 0,
              topEigenShare: r.topEigenShare ?? 0,
              deadDimensions: r.deadDimensions ?? 0,
              epps: r.epps,
              verdict: r.verdict,
              reasons: r.reasons ?? [],
            }
          : null;
      if (this.isotropy === null)
        this.isotropyProblem = 'The isotropy report has an unexpected form; embed again.';
    } catch (err) {
      this.isotropyProblem = (err as { message?: string }).message ?? 'The diagnostics failed.';
      this.#studio.notices.error(err);
    }
  }

  async loadNeighbours(index: number): Promise<void> {
    if (this.embedding === null || this.projection === null) return;
    const itemId = this.projection.itemIds[index]!;
    try {
      const r = await this.#studio.call<{ hits: Neighbour[] }>('embedding.neighbours', {
        embeddingId: this.embedding.id,
        itemId,
        k: 12,
      });
      this.neighbours = { of: itemId, list: r.hits };
    } catch (err) {
      this.#studio.notices.error(err);
    }
  }

  /** Tags of every item of the dataset, fetched page by page when colouring by tag. */
  async loadTags(): Promise<void> {
    if (this.datasetId === null || this.tags !== null) return;
    const tags = new Map<number, string[]>();
    for (let offset = 0; ; offset += 5000) {
      const page = await this.#studio.call<{
        total: number;
        items: { id: number; tags: string[] }[];
      }>('dataset.items', { dataset: this.datasetId, offset, limit: 5000 });
      for (const item of page.items) tags.set(item.id, item.tags);
      if (offset + 5000 >= page.total) break;
    }
    this.tags = tags;
  }

  /** Writes the lasso selection back to the dataset as a tag, or excludes it. */
  async applyToSelection(action: { tag: string } | { exclude: true }): Promise<number> {
    if (this.datasetId === null || this.projection === null || this.selection.size === 0) return 0;
    const items = [...this.selection].map((i) => this.projection!.itemIds[i]!);
    const r =
      'tag' in action
        ? await this.#studio.call<{ changed: number }>('dataset.tag', {
            dataset: this.datasetId,
            items,
            tag: action.tag,
          })
        : await this.#studio.call<{ changed: number }>('dataset.exclude', {
            dataset: this.datasetId,
            items,
            exclude: true,
            reason: 'selected in Explore',
          });
    this.tags = null;
    if (this.colourBy === 'tag') await this.loadTags();
    return r.changed;
  }

  /** Category names and the per-point category index for the current colouring. */
  get legend(): { names: string[]; category: Float32Array } {
    const p = this.projection;
    if (p === null) return { names: [], category: new Float32Array(0) };
    const n = p.itemIds.length;
    const category = new Float32Array(n);
    if (this.colourBy === 'label') {
      for (let i = 0; i < n; i++) category[i] = p.labels[i] ?? -1;
      return { names: p.classes, category };
    }
    if (this.colourBy === 'split') {
      for (let i = 0; i < n; i++) category[i] = SPLITS.indexOf(p.splits[i] ?? '');
      return { names: SPLITS, category };
    }
    if (this.colourBy === 'cluster') {
      const clusters = p.clusters ?? [];
      const k = clusters.length === 0 ? 0 : Math.max(...clusters) + 1;
      for (let i = 0; i < n; i++) category[i] = clusters[i] ?? -1;
      return { names: Array.from({ length: k }, (_, c) => `cluster ${c + 1}`), category };
    }
    const names: string[] = [];
    for (let i = 0; i < n; i++) {
      const first = this.tags?.get(p.itemIds[i]!)?.[0];
      if (first === undefined) {
        category[i] = -1;
        continue;
      }
      let c = names.indexOf(first);
      if (c === -1) c = names.push(first) - 1;
      category[i] = c;
    }
    return { names, category };
  }

  get scatterData(): ScatterData | null {
    const p = this.projection;
    if (p === null) return null;
    const n = p.itemIds.length;
    const x = new Float32Array(n);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = p.points[2 * i]!;
      y[i] = p.points[2 * i + 1]!;
    }
    return { x, y, category: this.legend.category };
  }
}
