/**
 * One long action the user started (import, embed, projection, export): its
 * state, its progress from api events, and a cancel button's handler. A second
 * start while one runs is refused, so replies never cross.
 */
import type { ApiEvent } from '../api-types.ts';
import { newRequestId, type Studio } from './studio.svelte.ts';

export type TaskState = 'idle' | 'running' | 'done' | 'failed' | 'cancelled';

export interface TaskProgress {
  done: number;
  total: number | null;
  message: string;
}

export class Task<T> {
  state = $state<TaskState>('idle');
  progress = $state<TaskProgress | null>(null);
  result = $state<T | null>(null);
  error = $state<string | null>(null);
  #requestId: string | null = null;
  #studio: Studio;
  #label: string;

  constructor(studio: Studio, label: string) {
    this.#studio = studio;
    this.#label = label;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Fraction done in [0, 1], or null when the total is unknown. */
  get fraction(): number | null {
    const p = this.progress;
    return p === null || p.total === null || p.total === 0 ? null : Math.min(1, p.done / p.total);
  }

  /**
   * Runs `method`; `progressOf` picks this task's events out of the stream.
   * Resolves to the result, or null when it failed or was cancelled.
   */
  async run(
    method: string,
    input: unknown,
    progressOf?: (event: ApiEvent) => TaskProgress | null,
  ): Promise<T | null> {
    if (this.running) return null;
    const requestId = newRequestId(method);
    this.#requestId = requestId;
    this.state = 'running';
    this.progress = { done: 0, total: null, message: `${this.#label}…` };
    this.error = null;
    const stop =
      progressOf === undefined
        ? () => {}
        : this.#studio.onEvent((event) => {
            const p = progressOf(event);
            if (p !== null && this.#requestId === requestId) this.progress = p;
          });
    try {
      const result = await this.#studio.call<T>(method, input, requestId);
      this.result = result;
      this.state = 'done';
      return result;
    } catch (err) {
      const data = err as { kind?: string; message?: string };
      if (data.kind === 'cancelled') {
        this.state = 'cancelled';
      } else {
        this.state = 'failed';
        this.error = data.message ?? String(err);
      }
      return null;
    } finally {
      stop();
      if (this.#requestId === requestId) this.#requestId = null;
    }
  }

  async cancel(): Promise<void> {
    if (this.#requestId !== null) await this.#studio.client.cancel(this.#requestId);
  }
}

/** Progress from generic `job.progress` events of one job kind. */
export const jobProgress =
  (kind: string) =>
  (event: ApiEvent): TaskProgress | null =>
    event.type === 'job.progress' && event.kind === kind
      ? { done: event.done, total: event.total, message: event.message ?? '' }
      : null;

/** Progress from any `job.progress` event (one long action per view runs at a time). */
export const anyJobProgress = (event: ApiEvent): TaskProgress | null =>
  event.type === 'job.progress'
    ? { done: event.done, total: event.total, message: event.message ?? event.kind }
    : null;
