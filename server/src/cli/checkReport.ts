// How `lineage check` prints its findings: text grouped per file (like eslint's stylish), JSON and
// JUnit XML; the summary line; severities as CI levels (error, warning, note). SARIF is in sarif.ts.
import { maxOf } from '../core/util/arrays';
import type { WorkspaceCheck } from '../analysis/workspaceCheck';
import type { Finding, FindingSeverity } from '../analysis/findings';

export type Level = 'error' | 'warning' | 'note';
export type FailOn = Level | 'never';

/** LSP severities as CI levels: information and hint are notes. */
export function levelOf(severity: FindingSeverity): Level {
  return severity === 'error' ? 'error' : severity === 'warning' ? 'warning' : 'note';
}

const LEVEL_RANK: Readonly<Record<Level, number>> = { note: 1, warning: 2, error: 3 };

export function meetsFailOn(level: Level, failOn: FailOn): boolean {
  return failOn !== 'never' && LEVEL_RANK[level] >= LEVEL_RANK[failOn];
}

export interface CheckCounts {
  references: number;
  errors: number;
  warnings: number;
  notes: number;
}

export function countFindings(check: WorkspaceCheck): CheckCounts {
  const counts: CheckCounts = { references: check.referenceCount, errors: 0, warnings: 0, notes: 0 };
  for (const document of check.documents) {
    for (const finding of document.findings) {
      const level = levelOf(finding.severity);
      if (level === 'error') counts.errors++;
      else if (level === 'warning') counts.warnings++;
      else counts.notes++;
    }
  }
  return counts;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `12 references, 3 warnings, 0 errors` (notes when there are any). */
export function summaryLine(counts: CheckCounts): string {
  return `${plural(counts.references, 'reference')}, ${plural(counts.warnings, 'warning')}, ${plural(counts.errors, 'error')}${counts.notes > 0 ? `, ${plural(counts.notes, 'note')}` : ''}`;
}

export interface Colours {
  dim(text: string): string;
  bold(text: string): string;
  level(level: Level, text: string): string;
}

const PLAIN: Colours = { dim: (t) => t, bold: (t) => t, level: (_l, t) => t };
const ANSI: Colours = {
  dim: (t) => `\x1b[2m${t}\x1b[22m`,
  bold: (t) => `\x1b[1m${t}\x1b[22m`,
  level: (l, t) => `${l === 'error' ? '\x1b[31m' : l === 'warning' ? '\x1b[33m' : '\x1b[36m'}${t}\x1b[39m`,
};

/** Colour only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export function coloursFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Colours {
  const noColor = env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '';
  return stream.isTTY === true && !noColor && env['TERM'] !== 'dumb' ? ANSI : PLAIN;
}

function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character || (a.code < b.code ? -1 : 1));
}

/** eslint's stylish: the file, then `line:column  level  message  code` aligned, then the summary. */
export function renderStylish(check: WorkspaceCheck, colours: Colours): string {
  const out: string[] = [];
  for (const document of check.documents) {
    if (document.findings.length === 0) continue;
    const rows = sortFindings(document.findings).map((f) => ({ position: `${f.range.start.line + 1}:${f.range.start.character + 1}`, level: levelOf(f.severity), message: f.message, code: f.code }));
    const positionWidth = maxOf(rows.map((r) => r.position.length), 0);
    out.push(colours.bold(document.relativePath));
    for (const row of rows) {
      out.push(`  ${colours.dim(row.position.padEnd(positionWidth))}  ${colours.level(row.level, row.level.padEnd(7))}  ${row.message}  ${colours.dim(row.code)}`);
    }
    out.push('');
  }
  return out.join('\n') + (out.length > 0 ? '\n' : '');
}

export function renderJson(check: WorkspaceCheck, counts: CheckCounts): string {
  return JSON.stringify({
    root: check.root,
    filesScanned: check.filesScanned,
    truncated: check.truncated,
    summary: counts,
    files: check.documents.map((d) => ({
      path: d.relativePath,
      references: d.analysis.references.map(({ site, status }) => ({
        line: site.range.start.line + 1,
        column: site.range.start.character + 1,
        id: site.id,
        kind: site.kind,
        loader: site.loader,
        resolution: status.resolution.kind,
        ...(status.resolution.commit === undefined ? {} : { commit: status.resolution.commit }),
        lineage: status.lineage.status,
      })),
      findings: sortFindings(d.findings).map((f) => ({
        code: f.code,
        severity: f.severity,
        level: levelOf(f.severity),
        line: f.range.start.line + 1,
        column: f.range.start.character + 1,
        endLine: f.range.end.line + 1,
        endColumn: f.range.end.character + 1,
        message: f.message,
      })),
    })),
  }, null, 2) + '\n';
}

function xml(text: string): string {
  // XML 1.0 has no escape for control characters: they are dropped.
  return text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** One test case per file with references; a failure per file whose findings meet --fail-on. */
export function renderJunit(check: WorkspaceCheck, failOn: FailOn): string {
  const cases = check.documents.map((d) => {
    const failing = sortFindings(d.findings).filter((f) => meetsFailOn(levelOf(f.severity), failOn));
    const others = sortFindings(d.findings).filter((f) => !meetsFailOn(levelOf(f.severity), failOn));
    const line = (f: Finding): string => `${d.relativePath}:${f.range.start.line + 1}:${f.range.start.character + 1} ${levelOf(f.severity)} ${f.code} ${f.message}`;
    const parts = [`    <testcase classname="lineage" name="${xml(d.relativePath)}" file="${xml(d.relativePath)}">`];
    if (failing.length > 0) parts.push(`      <failure type="${failing[0]!.code}" message="${xml(`${failing.length} finding(s): ${failing.map((f) => f.code).join(', ')}`)}">${xml(failing.map(line).join('\n'))}</failure>`);
    if (others.length > 0) parts.push(`      <system-out>${xml(others.map(line).join('\n'))}</system-out>`);
    parts.push('    </testcase>');
    return { xml: parts.join('\n'), failed: failing.length > 0 };
  });
  const failures = cases.filter((c) => c.failed).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="lineage check" tests="${cases.length}" failures="${failures}" time="${(check.elapsedMs / 1000).toFixed(3)}">`,
    `  <testsuite name="lineage" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="${(check.elapsedMs / 1000).toFixed(3)}">`,
    ...cases.map((c) => c.xml),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
