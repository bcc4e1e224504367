import type { CliCommand } from './command.ts';

export const datasetCommands: CliCommand[] = [];
