/** Plain-text tables for terminal output: columns padded to their widest cell. */
export function textTable(
  head: readonly string[],
  rows: ReadonlyArray<readonly unknown[]>,
): string {
  const cells = [
    head,
    ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '—' : String(c)))),
  ];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join(
    '\n',
  );
}

/** `a: 1, b: 2` from a record of counts, skipping zeros. */
export function countsText(counts: Record<string, number>): string {
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}
