/** In-process api calls on a fresh workspace, for the dataset tests. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { datasetMethods } from '../../src-main/api/datasets.ts';
import { toErrorData, type ErrorData } from '../../src-main/api/errors.ts';
import type { ApiEvent } from '../../src-main/api/events.ts';
import type { ApiContext } from '../../src-main/api/method.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `lejepa-${prefix}-`));
}

export interface Api {
  ws: Workspace;
  events: ApiEvent[];
  call<T = unknown>(method: string, input: unknown): Promise<T>;
  /** The error code of a call that must fail. */
  fail(method: string, input: unknown): Promise<ErrorData>;
}

/**
 * Like the api's `callMethod` (zod validation, errors as data) but over the
 * dataset methods alone, so these tests depend on no other area's methods.
 */
async function callDatasetMethod(
  ctx: ApiContext,
  name: string,
  input: unknown,
): Promise<{ ok: true; result: unknown } | { ok: false; error: ErrorData }> {
  try {
    const method = datasetMethods.find((m) => m.name === name);
    if (method === undefined) throw new Error(`no method ${name}`);
    const parsed = method.input.safeParse(input);
    if (!parsed.success) throw new Error(`${name}: invalid input ${parsed.error.message}`);
    return { ok: true, result: await method.run(ctx, parsed.data) };
  } catch (err) {
    return { ok: false, error: toErrorData(err) };
  }
}

export function openApi(dir = tempDir('ws'), signal = new AbortController().signal): Api {
  const ws = openWorkspace(dir);
  const events: ApiEvent[] = [];
  const ctx: ApiContext = {
    ws,
    emit: (e: ApiEvent) => events.push(e),
    signal,
  };
  return {
    ws,
    events,
    async call<T>(method: string, input: unknown): Promise<T> {
      const reply = await callDatasetMethod(ctx, method, input);
      if (!reply.ok) throw new Error(`${method}: ${reply.error.code}: ${reply.error.message}`);
      return reply.result as T;
    },
    async fail(method: string, input: unknown) {
      const reply = await callDatasetMethod(ctx, method, input);
      if (reply.ok) throw new Error(`${method} should have failed`);
      return reply.error;
    },
  };
}
