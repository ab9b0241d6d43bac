// Findings as LSP diagnostics: the rules live in analysis/findings; this maps their severities and
// carries their quick-fix data. README.md "Diagnostics" documents every code.
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver';
import type { DocumentAnalysis } from '../../analysis/documentAnalysis';
import { computeFindings, type FindingData, type FindingSeverity } from '../../analysis/findings';
import type { LineagePolicy } from '../../analysis/policy';
import { DIAGNOSTIC_SOURCE, type LineageSettings } from '../../protocol';

/** The data of every diagnostic the server publishes (code actions read it back). */
export type LineageDiagnosticData = FindingData;

const LSP_SEVERITY: Readonly<Record<FindingSeverity, DiagnosticSeverity>> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

export function computeDiagnostics(analysis: DocumentAnalysis, settings: LineageSettings, policy: LineagePolicy | undefined): Diagnostic[] {
  return computeFindings(analysis, settings.diagnostics.severity, policy).map((finding) => ({
    range: finding.range,
    severity: LSP_SEVERITY[finding.severity],
    code: finding.code,
    source: DIAGNOSTIC_SOURCE,
    message: finding.message,
    data: finding.data satisfies LineageDiagnosticData,
  }));
}
