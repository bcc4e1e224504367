/**
 * A bounded series for live charts: appends are O(1) amortised and the window
 * never grows past `capacity` points, however long the run. When full, every
 * other point is dropped, so the whole run stays visible at half resolution.
 */
export class RollingSeries {
  readonly capacity: number;
  x: number[] = [];
  ys: Map<string, (number | null)[]> = new Map();

  constructor(keys: readonly string[], capacity = 4000) {
    this.capacity = capacity;
    for (const k of keys) this.ys.set(k, []);
  }

  push(x: number, values: Record<string, number | null | undefined>): void {
    const last = this.x[this.x.length - 1];
    if (last !== undefined && x <= last) return;
    this.x.push(x);
    for (const [k, arr] of this.ys) arr.push(values[k] ?? null);
    if (this.x.length > this.capacity) this.#thin();
  }

  get length(): number {
    return this.x.length;
  }

  #thin(): void {
    const keep = (_: unknown, i: number) => i % 2 === 0 || i === this.x.length - 1;
    this.x = this.x.filter(keep);
    for (const [k, arr] of this.ys) this.ys.set(k, arr.filter(keep));
  }
}
