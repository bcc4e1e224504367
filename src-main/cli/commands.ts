/** Every CLI command, in the order `--help` lists them. */
import type { CliCommand } from './command.ts';
import { datasetCommands } from './datasets.ts';
import { engineCommands } from './engine.ts';
import { trainCommands } from './train.ts';
import { evaluationCommands } from './evaluation.ts';
import { serveCommands } from './serve.ts';

export const COMMANDS: readonly CliCommand[] = [
  ...datasetCommands,
  ...trainCommands,
  ...evaluationCommands,
  ...engineCommands,
  ...serveCommands,
];
