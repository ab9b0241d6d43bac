// Security findings in every command that reads a model: a stderr warning for dangerous ones
// (critical/high: code in pickles, framing evasions, files escaping the model folder), and the
// `--fail-on-danger` switch that turns them into exit code 4 (documented in the README).
import type { SecurityFinding } from '../core/formats/types';
import type { OptionSpec, ParsedArgs } from './args';
import { flag } from './args';
import { ExitCode, type ExitCodeValue } from './exitCodes';

export const FAIL_ON_DANGER_OPTION: OptionSpec = { 'fail-on-danger': { type: 'boolean' } };

export const failOnDangerUsage = '  --fail-on-danger  exit 4 when a model carries dangerous findings (code in pickles, files outside its folder)';

/** Critical and high findings: what a user must see before loading the model anywhere. */
export function dangerousFindings(findings: readonly SecurityFinding[]): SecurityFinding[] {
  return findings.filter((f) => f.severity === 'critical' || f.severity === 'high');
}

/** Writes one stderr line per dangerous finding of `target` (at most 10, then a count). */
export function warnDangerousFindings(target: string, findings: readonly SecurityFinding[]): void {
  const dangerous = dangerousFindings(findings);
  if (dangerous.length === 0) return;
  process.stderr.write(`lineage: warning: ${target} has ${dangerous.length} dangerous finding(s); do not load it with pickle-based loaders:\n`);
  for (const f of dangerous.slice(0, 10)) process.stderr.write(`  [${f.severity}] ${f.code}: ${f.message}\n`);
  if (dangerous.length > 10) process.stderr.write(`  ... and ${dangerous.length - 10} more (see --json)\n`);
}

/** The exit code after a command's own: 4 when --fail-on-danger is set and any side is dangerous. */
export function exitCodeWithDanger(args: ParsedArgs, code: ExitCodeValue, findings: readonly SecurityFinding[]): ExitCodeValue {
  return flag(args, 'fail-on-danger') && dangerousFindings(findings).length > 0 ? ExitCode.dangerous : code;
}
