import type { CliCommand } from './command.ts';

export const trainCommands: CliCommand[] = [];
