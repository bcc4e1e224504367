/** Thumbnails by item id (for views that know ids but not thumbnail paths), cached as data URLs. */
import type { Studio } from './stores/studio.svelte.ts';

const cache = new Map<number, Promise<string>>();
const MAX = 2000;

export function thumbnailOf(studio: Studio, item: number): Promise<string> {
  let hit = cache.get(item);
  if (hit === undefined) {
    hit = studio
      .call<{ mime: string; data: string }>('dataset.thumbnail', { item })
      .then((t) => `data:${t.mime};base64,${t.data}`)
      .catch(() => '');
    cache.set(item, hit);
    if (cache.size > MAX) cache.delete(cache.keys().next().value!);
  }
  return hit;
}
