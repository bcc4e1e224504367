/**
 * Engine commands that need no workspace: `check-vectors` evaluates a golden-vector file of
 * SIGReg / LeJEPA-loss cases on a chosen backend and compares every quantity with its
 * tolerance; `backends` lists the compute backends this machine offers.
 */
import { readFileSync } from 'node:fs';
import { expected } from '../api/errors.ts';
import { BACKEND_ORDER, initBackend, listBackends, type BackendName } from '../engine/backend.ts';
import { machineSkips } from '../compute/start-backend.ts';
import { checkVectorFile, type CaseCheck } from '../engine/lejepa/vectors.ts';
import type { ParsedArgs } from './args.ts';
import type { CliCommand } from './command.ts';

function backendOption(args: ParsedArgs): BackendName | undefined {
  const raw = args.options.backend;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !(BACKEND_ORDER as readonly string[]).includes(raw)) {
    throw expected(
      'invalid_option',
      `--backend must be one of ${BACKEND_ORDER.join(', ')}, got ${JSON.stringify(raw)}.`,
    );
  }
  return raw as BackendName;
}

function readVectorFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw expected(
      'file_not_found',
      code === 'ENOENT'
        ? `The vector file ${path} does not exist. Check the path.`
        : `The vector file ${path} could not be read (${code ?? 'error'}). Check its permissions.`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw expected('invalid_vectors', `${path} is not valid JSON. Pass a golden-vector file.`);
  }
}

function formatRow(row: CaseCheck): string {
  const w = row.worst;
  const verdict = row.pass ? 'ok  ' : 'FAIL';
  return `${verdict} ${row.name.padEnd(30)} worst ${w.quantity.padEnd(16)} ${w.error.toExponential(2)} / tol ${w.tolerance.toExponential(2)}  (${w.rule})`;
}

const checkVectors: CliCommand = {
  name: 'check-vectors',
  usage: 'check-vectors FILE.json [--backend NAME]',
  summary: 'Check SIGReg and the LeJEPA loss against a golden-vector file (exit 1 on a failure)',
  options: {
    backend: {
      type: 'string',
      help: `compute backend: ${BACKEND_ORDER.join(', ')} (default: automatic)`,
    },
  },
  async run(ctx, args) {
    const path = args.positionals[0];
    if (path === undefined || args.positionals.length > 1) {
      throw expected('invalid_option', 'Give exactly one vector file: check-vectors FILE.json.');
    }
    const file = readVectorFile(path);
    const prefer = backendOption(args);
    const info = await initBackend(
      prefer === undefined ? { skip: machineSkips() } : { prefer },
    ).catch((err: unknown) => {
      throw expected(
        'backend_unavailable',
        `The ${prefer ?? 'chosen'} backend cannot be used here: ${(err as Error).message}. Run \`lejepa-studio backends\` to see what this machine offers.`,
      );
    });
    ctx.say(info.line);
    let rows: CaseCheck[];
    try {
      rows = await checkVectorFile(file);
    } catch (err) {
      if (err instanceof RangeError) {
        throw expected(
          'invalid_vectors',
          `${path} is not a usable vector file: ${err.message}. Pass a file in the golden-vector format.`,
        );
      }
      throw err;
    }
    const failed = rows.filter((r) => !r.pass).length;
    const summary =
      failed === 0
        ? `all ${rows.length} cases pass on ${info.name}`
        : `${failed} of ${rows.length} cases FAIL on ${info.name}`;
    return {
      result: { file: path, backend: info.name, pass: failed === 0, rows },
      text: [...rows.map(formatRow), summary].join('\n'),
      exitCode: failed === 0 ? 0 : 1,
    };
  },
};

const backends: CliCommand = {
  name: 'backends',
  usage: 'backends',
  summary: 'List the compute backends this machine offers, and why the others are missing',
  async run() {
    const list = await listBackends(machineSkips());
    const width = Math.max(...list.map((b) => b.name.length));
    const text = list
      .map((b) =>
        `${b.available ? 'yes' : 'no '}  ${b.name.padEnd(width)}  ${b.reason ?? ''}`.trimEnd(),
      )
      .join('\n');
    return { result: list, text };
  },
};

export const engineCommands: CliCommand[] = [checkVectors, backends];
