/**
 * The items of one dataset as the grid sees them: a total and pages fetched on
 * demand (only the rows near the viewport), a filter, and a selection. Changing
 * the filter starts a new generation; replies of older generations are dropped.
 */
import type { ItemRow } from '../shapes.ts';
import type { Studio } from './studio.svelte.ts';

export const PAGE = 600;
/** Pages kept in memory; older ones are dropped and fetched again if scrolled back to. */
const MAX_PAGES = 40;

export interface ItemFilter {
  label?: string | null;
  split?: 'train' | 'val' | 'test' | 'none';
  tag?: string;
  excluded?: boolean;
  duplicates?: 'exact' | 'near' | 'conflict';
  search?: string;
}

export class ItemsStore {
  total = $state<number | null>(null);
  filter = $state<ItemFilter>({});
  selected = $state<Set<number>>(new Set());
  #pages = $state<Map<number, ItemRow[]>>(new Map());
  #inflight = new Set<number>();
  #generation = 0;
  #studio: Studio;
  #dataset: number;

  constructor(studio: Studio, dataset: number) {
    this.#studio = studio;
    this.#dataset = dataset;
  }

  setFilter(filter: ItemFilter): void {
    this.filter = filter;
    this.reload();
  }

  reload(): void {
    this.#generation++;
    this.#pages = new Map();
    this.#inflight.clear();
    this.total = null;
    void this.#fetch(0);
  }

  /** The item at `index`, or undefined while its page loads (it is requested). */
  at(index: number): ItemRow | undefined {
    const page = Math.floor(index / PAGE);
    const rows = this.#pages.get(page);
    if (rows === undefined) {
      void this.#fetch(page);
      return undefined;
    }
    return rows[index - page * PAGE];
  }

  toggle(id: number, on?: boolean): void {
    const next = new Set(this.selected);
    if (on ?? !next.has(id)) next.add(id);
    else next.delete(id);
    this.selected = next;
  }

  selectRange(from: number, to: number): void {
    const next = new Set(this.selected);
    for (let i = Math.min(from, to); i <= Math.max(from, to); i++) {
      const row = this.at(i);
      if (row !== undefined) next.add(row.id);
    }
    this.selected = next;
  }

  clearSelection(): void {
    this.selected = new Set();
  }

  async #fetch(page: number): Promise<void> {
    if (this.#inflight.has(page)) return;
    this.#inflight.add(page);
    const generation = this.#generation;
    try {
      const result = await this.#studio.call<{ total: number; items: ItemRow[] }>('dataset.items', {
        dataset: this.#dataset,
        ...this.filter,
        offset: page * PAGE,
        limit: PAGE,
      });
      if (generation !== this.#generation) return;
      const pages = new Map(this.#pages);
      pages.set(page, result.items);
      if (pages.size > MAX_PAGES) pages.delete(pages.keys().next().value!);
      this.#pages = pages;
      this.total = result.total;
    } catch (err) {
      if (generation === this.#generation) this.#studio.notices.error(err);
    } finally {
      this.#inflight.delete(page);
    }
  }
}
