// `lineage check [paths…]`: every model reference in a repository through the editor's analysis, as
// text grouped per file, JSON, SARIF or JUnit; the exit code gates CI (see checkUsage).
import { writeFile } from 'node:fs/promises';
import { LOCK_FILE_NAME } from '../analysis/lockfile';
import { parseCommandArgs, flag, stringOption } from './args';
import { coloursFor, countFindings, levelOf, meetsFailOn, renderJson, renderJunit, renderStylish, summaryLine, type FailOn } from './checkReport';
import { ExitCode, UsageError, type ExitCodeValue } from './exitCodes';
import { buildSarif } from './sarif';
import { analyzeWorkspace, TOOL_VERSION, WORKSPACE_OPTIONS, WORKSPACE_OPTIONS_USAGE } from './workspaceOptions';

export const checkUsage = `usage: lineage check [paths...] [--format text|json|sarif|junit] [--fail-on error|warning|note|never] [--locked]

Finds every model reference in the repository (Python, YAML, JSON, JS/TS, shell, Dockerfiles,
Modelfiles, model cards; files ignored by .gitignore are skipped) and reports the findings the
editor shows (LL001-LL013), with .lineage.yaml applied.

  --format F          text (default, grouped per file), json, sarif (SARIF 2.1.0) or junit
  -o, --output FILE   write the report to FILE (the summary still goes to stderr)
  --fail-on L         exit 1 when a finding is at least this level (default error);
                      error, warning, note (information and hint) or never
  --locked            exit 1 when a reference differs from ${LOCK_FILE_NAME} (missing,
                      commit moved, a weight file changed), whatever --fail-on says
${WORKSPACE_OPTIONS_USAGE}

NO_COLOR or a non-terminal output prints no colours.

exit codes: 0 no finding at the --fail-on level, 1 findings at that level (or lock drift with
            --locked), 2 usage, 3 the lock is missing or unreadable with --locked`;

const FORMATS = new Set(['text', 'json', 'sarif', 'junit']);
const FAIL_ON = new Set(['error', 'warning', 'note', 'never']);

export async function runCheck(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { ...WORKSPACE_OPTIONS, format: { type: 'string' }, 'fail-on': { type: 'string' }, locked: { type: 'boolean' }, output: { type: 'string', short: 'o' } }, { min: 0, max: 10_000 });
  const format = stringOption(args, 'format') ?? 'text';
  if (!FORMATS.has(format)) throw new UsageError(`--format expects text, json, sarif or junit, got "${format}"`);
  const failOn = (stringOption(args, 'fail-on') ?? 'error') as FailOn;
  if (!FAIL_ON.has(failOn)) throw new UsageError(`--fail-on expects error, warning, note or never, got "${failOn}"`);
  const check = await analyzeWorkspace(args);
  for (const problem of check.policy?.problems ?? []) process.stderr.write(`lineage check: policy: ${problem}\n`);
  if (check.truncated) process.stderr.write(`lineage check: stopped after ${check.filesScanned} files\n`);
  const locked = flag(args, 'locked');
  if (check.lock && 'error' in check.lock) process.stderr.write(`lineage check: ${check.lock.error}\n`);
  if (locked && (!check.lock || 'error' in check.lock)) {
    if (!check.lock) process.stderr.write(`lineage check: --locked, but ${check.root}/${LOCK_FILE_NAME} does not exist: run "lineage lock" first\n`);
    return ExitCode.unreadable;
  }

  const counts = countFindings(check);
  const output = stringOption(args, 'output');
  let report: string;
  if (format === 'json') report = renderJson(check, counts);
  else if (format === 'sarif') report = JSON.stringify(buildSarif(check, { toolVersion: TOOL_VERSION, ...(process.env['LINEAGE_DOCS_URL'] ? { documentationUrl: process.env['LINEAGE_DOCS_URL'] } : {}) }), null, 2) + '\n';
  else if (format === 'junit') report = renderJunit(check, failOn);
  else report = renderStylish(check, coloursFor(output === undefined ? process.stdout : {}, process.env));
  if (output !== undefined) await writeFile(output, report);
  else process.stdout.write(report);

  const drifted = check.documents.reduce((n, d) => n + d.analysis.references.filter((r) => (r.lockDrift?.length ?? 0) > 0).length, 0);
  const summary = `${summaryLine(counts)}${locked ? `, ${drifted} not matching ${LOCK_FILE_NAME}` : ''} (${check.filesScanned} file${check.filesScanned === 1 ? '' : 's'} in ${(check.elapsedMs / 1000).toFixed(1)} s)`;
  // Machine formats keep stdout parseable: the summary goes to stderr.
  if (format === 'text' && output === undefined) process.stdout.write(`${summary}\n`);
  else process.stderr.write(`${summary}\n`);

  const failing = check.documents.some((d) => d.findings.some((f) => meetsFailOn(levelOf(f.severity), failOn)));
  return failing || (locked && drifted > 0) ? ExitCode.findings : ExitCode.ok;
}
