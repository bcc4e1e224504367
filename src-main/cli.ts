/**
 * `lejepa-studio`: the studio from a terminal, over the same api as the UI.
 * Every command takes `--workspace DIR` and `--json` (result on stdout; human
 * text and progress on stderr).
 */
import { toErrorData, type ErrorData } from './api/errors.ts';
import type { ApiEvent } from './api/events.ts';
import { callMethod } from './api/index.ts';
import type { ApiContext } from './api/method.ts';
import { defaultWorkspaceDir, openWorkspace, type Workspace } from './catalog/workspace.ts';
import { parseArgs, type OptionSpecs } from './cli/args.ts';
import type { CliCommand, CliContext } from './cli/command.ts';
import { COMMANDS } from './cli/commands.ts';
import { setLogLevel, type LogLevel } from './log.ts';

const GLOBAL_OPTIONS: OptionSpecs = {
  workspace: {
    type: 'string',
    help: 'workspace folder (default: $LEJEPA_WORKSPACE or the app-data folder)',
  },
  json: { type: 'boolean', help: 'print the result as JSON on stdout' },
  help: { type: 'boolean', help: 'show help for the command' },
  'log-level': { type: 'string', help: 'debug, info, warn or error' },
};

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
  const specs = { ...(command.options ?? {}), ...GLOBAL_OPTIONS };
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

export async function main(argv: readonly string[]): Promise<number> {
  const found = findCommand(argv);
  if (found === undefined) {
    const wantsHelp = argv.length === 0 || argv[0] === '--help' || argv[0] === 'help';
    process.stderr.write(helpText() + '\n');
    if (!wantsHelp) process.stderr.write(`\nerror: unknown command ${JSON.stringify(argv[0])}\n`);
    return wantsHelp ? 0 : 2;
  }
  const { command, used } = found;
  const json = argv.includes('--json');
  let ws: Workspace | undefined;
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\nstopping… (Ctrl-C again to force)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const args = parseArgs(argv.slice(used), { ...(command.options ?? {}), ...GLOBAL_OPTIONS });
    if (args.options.help === true) {
      process.stderr.write(helpText(command) + '\n');
      return 0;
    }
    if (typeof args.options['log-level'] === 'string')
      setLogLevel(args.options['log-level'] as LogLevel);
    const workspaceDir =
      typeof args.options.workspace === 'string' ? args.options.workspace : defaultWorkspaceDir();
    const listeners = new Set<(event: ApiEvent) => void>();
    const apiContext = (): ApiContext => {
      ws ??= openWorkspace(workspaceDir);
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
        if (!reply.ok) throw reply.error;
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
