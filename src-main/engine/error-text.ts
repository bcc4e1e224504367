/** The message of a thrown value, whatever was thrown. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The first line of `errorText(err)`, at most `max` characters. */
export function firstLine(err: unknown, max = Infinity): string {
  return errorText(err).split('\n')[0]!.slice(0, max);
}
