/** How a CLI command is declared. Commands call the api; they do not touch the catalog directly. */
import type { Reply } from '../api/index.ts';
import type { ApiEvent } from '../api/events.ts';
import type { OptionSpecs, ParsedArgs } from './args.ts';

export interface CliContext {
  /** Calls an api method on the open workspace (opened on first use). */
  call<T = unknown>(method: string, input: unknown): Promise<T>;
  /** Same as `call` but returns the reply instead of throwing. */
  callReply(method: string, input: unknown): Promise<Reply>;
  /** The workspace folder (`--workspace`, else the default). */
  workspaceDir: string;
  /** Writes human text to stderr (stdout is kept for `--json`). */
  say(text: string): void;
  /** True with `--json`: the command's result object is printed on stdout. */
  json: boolean;
  /** Subscribes to api events for the duration of the command. */
  onEvent(listener: (event: ApiEvent) => void): void;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
}

export interface CliCommand {
  /** One or two words: `import`, `dataset show`. */
  name: string;
  usage: string;
  summary: string;
  options?: OptionSpecs;
  /**
   * Runs the command. The returned object is printed as JSON with `--json`; `text`
   * is printed otherwise; `exitCode` defaults to 0.
   */
  run(ctx: CliContext, args: ParsedArgs): Promise<CliResult>;
}

export interface CliResult {
  result: unknown;
  text?: string;
  exitCode?: number;
}
