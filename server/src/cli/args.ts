// Command-line parsing shared by every `lineage` command: node's parseArgs with our usage errors.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './exitCodes';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseCommandArgs(argv: string[], options: OptionSpec, positionalCount: { min: number; max: number }): ParsedArgs {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as ParsedArgs;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const n = parsed.positionals.length;
  if (n < positionalCount.min) throw new UsageError(`expected at least ${positionalCount.min} argument(s), got ${n}`);
  if (n > positionalCount.max) throw new UsageError(`expected at most ${positionalCount.max} argument(s), got ${n}`);
  return parsed;
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

export function integerOption(args: ParsedArgs, name: string, fallback: number, min = 0): number {
  const v = stringOption(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} expects an integer >= ${min}, got "${v}"`);
  return n;
}
