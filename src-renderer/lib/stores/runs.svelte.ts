/**
 * Runs as the views see them: the list (kept fresh by `run.status` events) and
 * one run in detail with its metric series, filled from the catalog once and
 * then from live `run.metrics` events, in a bounded rolling window.
 */
import { RollingSeries } from '../rolling.ts';
import type { MetricRow, RunDetail, RunRow } from '../shapes.ts';
import type { Studio } from './studio.svelte.ts';

export const METRIC_KEYS = ['pred', 'sigreg', 'total', 'probeAcc', 'imagesPerSec', 'lr'] as const;

export class RunsList {
  runs = $state<RunRow[] | null>(null);
  #studio: Studio;
  #stop: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(studio: Studio) {
    this.#studio = studio;
    this.#stop = studio.onEvent((e) => {
      if (e.type === 'run.status') this.#soon();
      if (e.type === 'run.metrics' && this.runs) {
        const step = e.record.step;
        this.runs = this.runs.map((r) =>
          r.id === e.runId && typeof step === 'number' ? { ...r, step } : r,
        );
      }
    });
  }

  async load(): Promise<void> {
    try {
      this.runs = await this.#studio.call<RunRow[]>('run.list', {});
    } catch (err) {
      this.#studio.notices.error(err);
    }
  }

  /** Many status events in a row cause one reload. */
  #soon(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.load(), 150);
  }

  dispose(): void {
    this.#stop();
    clearTimeout(this.#timer);
  }
}

export class RunStore {
  detail = $state<RunDetail | null>(null);
  series = new RollingSeries(METRIC_KEYS);
  /** Bumped whenever the series changes, so charts know to redraw. */
  revision = $state(0);
  /** The newest metrics record, live from events (the detail is refreshed less often). */
  latest = $state<MetricRow | null>(null);
  readonly id: number;
  #studio: Studio;
  #stop: () => void;
  #poll: ReturnType<typeof setInterval>;
  #lastStep = 0;

  constructor(studio: Studio, id: number) {
    this.#studio = studio;
    this.id = id;
    this.#stop = studio.onEvent((e) => {
      if (e.type === 'run.metrics' && e.runId === id) this.#add([e.record as unknown as MetricRow]);
      if (e.type === 'run.status' && e.runId === id) void this.refresh();
    });
    // Log lines and checkpoints are not streamed: refresh them while the run works.
    this.#poll = setInterval(() => {
      const status = this.detail?.run.status;
      if (status === 'running' || status === 'queued') void this.refresh();
    }, 3000);
  }

  async load(): Promise<void> {
    await this.refresh();
    let after = 0;
    for (;;) {
      const rows = await this.#studio
        .call<MetricRow[]>('run.metrics', { id: this.id, afterStep: after, limit: 10_000 })
        .catch((err: unknown) => {
          this.#studio.notices.error(err);
          return [] as MetricRow[];
        });
      this.#add(rows);
      if (rows.length < 10_000) break;
      after = rows[rows.length - 1]!.step;
    }
  }

  async refresh(): Promise<void> {
    try {
      this.detail = await this.#studio.call<RunDetail>('run.show', { id: this.id });
    } catch (err) {
      this.#studio.notices.error(err);
    }
  }

  /** A step before the last one means the run was rewound to a checkpoint (resume). */
  #add(rows: MetricRow[]): void {
    for (const r of rows) {
      if (r.step <= this.#lastStep) {
        if (r.step < this.#lastStep - 1) this.#rewind(r.step);
        else continue;
      }
      this.series.push(r.step, r as unknown as Record<string, number | null>);
      this.#lastStep = r.step;
    }
    if (rows.length > 0) {
      const last = rows[rows.length - 1]!;
      if (this.latest === null || last.step >= this.latest.step) this.latest = last;
      this.revision++;
    }
  }

  #rewind(step: number): void {
    this.latest = null;
    const keep = this.series.x.findIndex((x) => x >= step);
    if (keep === -1) return;
    this.series.x = this.series.x.slice(0, keep);
    for (const [k, arr] of this.series.ys) this.series.ys.set(k, arr.slice(0, keep));
    this.#lastStep = this.series.x[this.series.x.length - 1] ?? 0;
  }

  async control(action: 'pause' | 'cancel' | 'resume'): Promise<void> {
    try {
      await this.#studio.call(`run.${action}`, { id: this.id });
      await this.refresh();
    } catch (err) {
      this.#studio.notices.error(err);
    }
  }

  dispose(): void {
    this.#stop();
    clearInterval(this.#poll);
  }
}
