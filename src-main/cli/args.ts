/**
 * A small argument parser: `--name value`, `--name=value`, boolean `--flag`,
 * repeated options, and positionals. Unknown options are an error naming them.
 */
import { expected } from '../api/errors.ts';

export interface OptionSpec {
  /** `string` takes a value, `boolean` does not. */
  type: 'string' | 'boolean';
  /** May be given more than once; the values are collected in order. */
  multiple?: boolean;
  help: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | boolean | string[] | undefined>;
}

export function parseArgs(argv: readonly string[], specs: OptionSpecs): ParsedArgs {
  const positionals: string[] = [];
  const options: ParsedArgs['options'] = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = specs[name];
    if (spec === undefined) {
      throw expected(
        'invalid_option',
        `Unknown option --${name}. Run with --help to see the options.`,
      );
    }
    let value: string | boolean;
    if (spec.type === 'boolean') {
      if (eq !== -1) throw expected('invalid_option', `The option --${name} takes no value.`);
      value = true;
    } else if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        throw expected('invalid_option', `The option --${name} needs a value.`);
      }
      value = next;
      i++;
    }
    if (spec.multiple === true) {
      const list = (options[name] as string[] | undefined) ?? [];
      list.push(String(value));
      options[name] = list;
    } else {
      options[name] = value;
    }
  }
  return { positionals, options };
}

/** Reads a numeric option, with the field named in the error when it is not a number. */
export function numberOption(args: ParsedArgs, name: string): number | undefined {
  const raw = args.options[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) {
    throw expected('invalid_option', `--${name} must be a number, got ${JSON.stringify(raw)}.`);
  }
  return n;
}
