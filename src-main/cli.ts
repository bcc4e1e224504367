/**
 * `lejepa-studio`: the studio from a terminal, over the same api as the UI.
 * Every command takes `--workspace DIR` and `--json` (result on stdout; human
 * text and progress on stderr). Commands that only read open a workspace that
 * another process holds read-only, so `runs` works while a training runs.
 */
import { readFileSync } from 'node:fs';

import { expected, toErrorData, type ErrorData } from './api/errors.ts';
import type { ApiEvent } from './api/events.ts';
import { callMethod } from './api/index.ts';
import type { ApiContext } from './api/method.ts';
import { defaultWorkspaceDir, openWorkspace, type Workspace } from './catalog/workspace.ts';
import { parseArgs, type OptionSpecs } from './cli/args.ts';
import type { CliCommand, CliContext } from './cli/command.ts';
import { COMMANDS } from './cli/commands.ts';
import { logger, setLogLevel, type LogLevel } from './log.ts';

const log = logger('cli');
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

const GLOBAL_OPTIONS: OptionSpecs = {
  workspace: {
    type: 'string',
    help: 'workspace folder (default: $LEJEPA_WORKSPACE or the app-data folder)',
  },
  json: { type: 'boolean', help: 'print the result as JSON on stdout' },
  help: { type: 'boolean', help: 'show help for the command' },
  'log-level': { type: 'string', help: 'debug, info, warn or error' },
};

/**
 * Commands that never write the catalog: when another live process holds the
 * workspace they open it read-only instead of being refused. `dataset version`
 * only reads for its `list` and `show` actions.
 */
const READ_ONLY_COMMANDS = new Set([
  'runs',
  'run show',
  'datasets',
  'dataset show',
  'dataset errors',
  'dataset duplicates',
  'dataset items',
  'embeddings',
]);

function readsOnly(command: CliCommand, positionals: readonly string[]): boolean {
  if (command.name === 'dataset version') return ['list', 'show'].includes(positionals[0] ?? '');
  return READ_ONLY_COMMANDS.has(command.name);
}

/** Opens the workspace; a read-only command falls back to read-only when another process holds it. */
function openForCommand(dir: string, readOnlyCommand: boolean): Workspace {
  try {
    return openWorkspace(dir);
  } catch (err) {
    if (!readOnlyCommand || toErrorData(err).code !== 'workspace_locked') throw err;
    return openWorkspace(dir, { readonly: true });
  }
}

/** The api's "Invalid request for METHOD: field: why" without the internal method name. */
function forTerminal(error: ErrorData): ErrorData {
  if (error.code !== 'invalid_request') return error;
  return { ...error, message: error.message.replace(/^Invalid request for [\w.]+: /, '') };
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function findCommand(words: readonly string[]): { command: CliCommand; used: number } | undefined {
  for (const used of [2, 1]) {
    const name = words.slice(0, used).join(' ');
    const command = COMMANDS.find((c) => c.name === name);
    if (command !== undefined) return { command, used };
  }
  return undefined;
}

function helpText(command?: CliCommand): string {
  if (command === undefined) {
    const width = Math.max(...COMMANDS.map((c) => c.name.length));
    return [
      'Usage: lejepa-studio COMMAND [options] [--workspace DIR] [--json]',
      '',
      'Commands:',
      ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
      '',
      "Run `lejepa-studio COMMAND --help` for a command's options.",
    ].join('\n');
  }
  // A command may describe a global option its own way (the demo's workspace default).
  const specs = { ...GLOBAL_OPTIONS, ...(command.options ?? {}) };
  const width = Math.max(...Object.keys(specs).map((k) => k.length + 8));
  return [
    `Usage: lejepa-studio ${command.usage}`,
    '',
    command.summary,
    '',
    'Options:',
    ...Object.entries(specs).map(
      ([name, s]) =>
        `  ${(`--${name}` + (s.type === 'string' ? ' V' : '')).padEnd(width)}  ${s.help}`,
    ),
  ].join('\n');
}

function printError(error: ErrorData, json: boolean): void {
  if (json) process.stdout.write(JSON.stringify({ ok: false, error }) + '\n');
  if (error.kind === 'bug')
    process.stderr.write(`error: ${error.message}\n${error.detail ?? ''}\n`);
  else
    process.stderr.write(
      `${error.kind === 'cancelled' ? 'cancelled' : 'error'}: ${error.message}\n`,
    );
}

/**
 * Global options may come before the command (`lejepa-studio --workspace W runs`): they are
 * moved after it, where every command's parser reads them.
 */
export function hoistGlobalOptions(argv: readonly string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i]!;
    const name = arg.startsWith('--') ? arg.slice(2).split('=')[0]! : '';
    const spec = name === 'help' ? undefined : GLOBAL_OPTIONS[name];
    if (spec === undefined) break;
    const takesValue = spec.type === 'string' && !arg.includes('=');
    leading.push(...argv.slice(i, i + (takesValue ? 2 : 1)));
    i += takesValue ? 2 : 1;
  }
  return [...argv.slice(i), ...leading];
}

export async function main(rawArgv: readonly string[]): Promise<number> {
  const argv = hoistGlobalOptions(rawArgv);
  const json = argv.includes('--json');
  if (argv[0] === '--version' || argv[0] === '-V') {
    const version = packageVersion();
    process.stdout.write(
      json ? JSON.stringify({ ok: true, result: { version } }) + '\n' : `${version}\n`,
    );
    return 0;
  }
  if (argv[0] === 'help' && argv.length > 1) {
    const asked = findCommand(argv.slice(1));
    if (asked !== undefined) {
      process.stderr.write(helpText(asked.command) + '\n');
      return 0;
    }
  }
  const found = findCommand(argv);
  if (found === undefined) {
    const wantsHelp =
      argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help';
    process.stderr.write(helpText() + '\n');
    if (wantsHelp) return 0;
    const name = argv.slice(0, argv[0] === 'help' ? 2 : 1).join(' ');
    printError(
      expected(
        'unknown_command',
        `There is no command ${JSON.stringify(name)}. The list above shows the commands.`,
      ).toData(),
      json,
    );
    return 2;
  }
  const { command, used } = found;
  let ws: Workspace | undefined;
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\nstopping… (Ctrl-C again to force)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const rest = argv.slice(used).map((a) => (a === '-h' ? '--help' : a));
    const args = parseArgs(rest, { ...(command.options ?? {}), ...GLOBAL_OPTIONS });
    if (args.options.help === true) {
      process.stderr.write(helpText(command) + '\n');
      return 0;
    }
    const level = args.options['log-level'];
    if (typeof level === 'string') {
      if (!LOG_LEVELS.includes(level as LogLevel)) {
        throw expected(
          'invalid_option',
          `--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}.`,
        );
      }
      setLogLevel(level as LogLevel);
    }
    const readOnlyCommand = readsOnly(command, args.positionals);
    const workspaceDir =
      typeof args.options.workspace === 'string' ? args.options.workspace : defaultWorkspaceDir();
    const listeners = new Set<(event: ApiEvent) => void>();
    const apiContext = (): ApiContext => {
      ws ??= openForCommand(workspaceDir, readOnlyCommand);
      return {
        ws,
        signal: controller.signal,
        emit: (event) => listeners.forEach((l) => l(event)),
      };
    };
    const ctx: CliContext = {
      workspaceDir,
      json,
      signal: controller.signal,
      say: (text) => process.stderr.write(text + '\n'),
      onEvent: (l) => listeners.add(l),
      callReply: (method, input) => callMethod(apiContext(), method, input),
      async call<T>(method: string, input: unknown): Promise<T> {
        const reply = await callMethod(apiContext(), method, input);
        if (!reply.ok) {
          if (reply.error.code === 'invalid_request') log.debug(reply.error.message);
          throw forTerminal(reply.error);
        }
        return reply.result as T;
      },
    };
    const out = await command.run(ctx, args);
    if (json) process.stdout.write(JSON.stringify({ ok: true, result: out.result }) + '\n');
    else if (out.text !== undefined)
      process.stdout.write(out.text + (out.text.endsWith('\n') ? '' : '\n'));
    return out.exitCode ?? 0;
  } catch (err) {
    const error = toErrorData(err);
    printError(error, json);
    return error.kind === 'cancelled' ? 130 : error.code === 'invalid_option' ? 2 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    ws?.close();
  }
}
