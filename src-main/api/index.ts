/**
 * The one contract of the studio: every method by name, and `callMethod`, the
 * single path by which a transport turns an untrusted request into a reply.
 * Replies are `{ ok: true, result }` or `{ ok: false, error }` (error as data).
 */
import { z } from 'zod';

import { expected, toErrorData, type ErrorData } from './errors.ts';
import type { ApiContext, MethodDef } from './method.ts';
import { logger } from '../log.ts';
import { datasetMethods } from './datasets.ts';
import { runMethods } from './runs.ts';
import { evaluationMethods } from './evaluation.ts';
import { studioMethods } from './studio.ts';

const log = logger('api');

export const METHODS: ReadonlyMap<string, MethodDef> = new Map(
  [
    ...datasetMethods,
    ...runMethods,
    ...evaluationMethods,
    ...studioMethods(() => METHODS.values()),
  ].map((m) => [m.name, m as MethodDef]),
);

export type Reply<T = unknown> = { ok: true; result: T } | { ok: false; error: ErrorData };

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const field = i.path.length > 0 ? i.path.join('.') : 'request';
      return `${field}: ${i.message}`;
    })
    .join('; ');
}

/** Validates `input` against the method's schema, runs it, and returns a reply; never throws. */
export async function callMethod(ctx: ApiContext, name: unknown, input: unknown): Promise<Reply> {
  try {
    if (typeof name !== 'string' || !METHODS.has(name)) {
      throw expected(
        'unknown_method',
        `There is no api method named ${JSON.stringify(String(name)).slice(0, 80)}.`,
      );
    }
    const method = METHODS.get(name)!;
    const parsed = method.input.safeParse(input ?? {});
    if (!parsed.success) {
      throw expected(
        'invalid_request',
        `Invalid request for ${name}: ${describeIssues(parsed.error)}.`,
      );
    }
    if (method.writes && ctx.ws.readonly) {
      throw expected(
        'workspace_readonly',
        `The workspace is open read-only, so ${name} cannot run. Reopen it writable.`,
      );
    }
    const result = await method.run(ctx, parsed.data);
    return { ok: true, result };
  } catch (err) {
    const error = toErrorData(err);
    if (error.kind === 'bug') log.error(`${String(name)} failed: ${error.detail ?? error.message}`);
    return { ok: false, error };
  }
}
