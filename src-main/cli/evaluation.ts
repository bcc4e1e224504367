import type { CliCommand } from './command.ts';

export const evaluationCommands: CliCommand[] = [];
