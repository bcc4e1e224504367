/** The message of a thrown value, whatever was thrown. */
export function errorText(err: unknown): string {
  const message = (err as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(err);
}

/** The first line of `errorText(err)`, at most `max` characters. */
export function firstLine(err: unknown, max = Infinity): string {
  return errorText(err).split('\n')[0]!.slice(0, max);
}
