#!/usr/bin/env node
// Command-line entry: runs the TypeScript sources through tsx's loader, so the
// command works straight from a checkout without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src-main/cli.ts');
process.exitCode = await main(process.argv.slice(2));
