/**
 * Errors as data. Every failure that crosses a boundary (process, IPC, HTTP, CLI)
 * is a `StudioError` with a stable `code`, a `message` written for the user that
 * ends with what to do, and a `detail` for the log. Three kinds are kept apart:
 * `cancelled` (the user asked to stop: not an error), `expected` (bad input, a
 * missing folder, a full disk) and `bug` (anything we did not foresee; logged
 * with its stack, never shown raw).
 */
export type ErrorKind = 'cancelled' | 'expected' | 'bug';

export interface ErrorData {
  kind: ErrorKind;
  code: string;
  message: string;
  detail?: string;
}

export class StudioError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly detail: string | undefined;

  constructor(
    code: string,
    message: string,
    options: { kind?: ErrorKind; detail?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StudioError';
    this.kind = options.kind ?? 'expected';
    this.code = code;
    this.detail = options.detail;
  }

  toData(): ErrorData {
    const data: ErrorData = { kind: this.kind, code: this.code, message: this.message };
    if (this.detail !== undefined) data.detail = this.detail;
    return data;
  }
}

export function expected(code: string, message: string, detail?: string): StudioError {
  return new StudioError(code, message, detail === undefined ? {} : { detail });
}

export function cancelled(what = 'The operation'): StudioError {
  return new StudioError('cancelled', `${what} was cancelled.`, { kind: 'cancelled' });
}

/** Turns anything thrown into error data; unknown errors become `bug` with their stack as detail. */
export function toErrorData(err: unknown): ErrorData {
  if (err instanceof StudioError) return err.toData();
  if (isErrorData(err)) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC') {
    return {
      kind: 'expected',
      code: 'disk_full',
      message: 'The disk is full. Free some space and try again.',
      detail: e.message,
    };
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return {
      kind: 'expected',
      code: 'permission_denied',
      message: `Permission denied: ${e.message}. Check the file's permissions and try again.`,
      detail: e.message,
    };
  }
  return {
    kind: 'bug',
    code: 'internal',
    message: 'Something went wrong inside the studio. The log has the details.',
    detail: e.stack ?? e.message,
  };
}

export function isErrorData(value: unknown): value is ErrorData {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    (v.kind === 'cancelled' || v.kind === 'expected' || v.kind === 'bug') &&
    typeof v.code === 'string' &&
    typeof v.message === 'string'
  );
}

export function fromErrorData(data: ErrorData): StudioError {
  return new StudioError(data.code, data.message, {
    kind: data.kind,
    ...(data.detail === undefined ? {} : { detail: data.detail }),
  });
}
