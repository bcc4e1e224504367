import type { CliCommand } from './command.ts';

export const engineCommands: CliCommand[] = [];
