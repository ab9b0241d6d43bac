// Workspace diagnostics (LSP 3.17 pull model, `workspace/diagnostic`): findings of every supported file
// of the workspace, not only open editors, within a time budget, with progress and result ids.
import { DocumentDiagnosticReportKind, type Diagnostic, type WorkDoneProgressReporter, type WorkspaceDiagnosticParams, type WorkspaceDiagnosticReport, type WorkspaceDocumentDiagnosticReport } from 'vscode-languageserver';
import type { DocumentAnalysis } from '../../analysis/documentAnalysis';

/** What a pull needs from the server; injected so the policy here is testable without a connection. */
export interface WorkspaceDiagnosticsHost {
  /** Supported files of the workspace folders, as file URIs. */
  listFiles(signal: AbortSignal): Promise<string[]>;
  /** Open documents are reported by push (publishDiagnostics), never twice. */
  isOpen(uri: string): boolean;
  /** A file's size and modification time, or undefined when it is gone. */
  stamp(uri: string): Promise<string | undefined>;
  /** Analyses a closed file; `complete` false stops after resolution (no fingerprints). */
  analyze(uri: string, complete: boolean, signal: AbortSignal): Promise<DocumentAnalysis | undefined>;
  diagnosticsOf(analysis: DocumentAnalysis): Promise<Diagnostic[]>;
  /** Changes when settings, policy or registries change: every cached report is stale then. */
  generation(): number;
}

/** One pull spends at most this long on full analyses; later files get the fast (resolution-only) pass. */
export const WORKSPACE_PULL_BUDGET_MS = 8_000;

interface CachedReport {
  resultId: string;
  items: Diagnostic[];
  /** Only resolved, not fingerprinted: the next pull upgrades it when the budget allows. */
  partial: boolean;
}

export class WorkspaceDiagnostics {
  private readonly reports = new Map<string, CachedReport>();
  private nextResultId = 1;

  constructor(private readonly host: WorkspaceDiagnosticsHost, private readonly budgetMs = WORKSPACE_PULL_BUDGET_MS, private readonly now: () => number = Date.now) {}

  /** Forgets every report (settings, policy or registries changed). */
  clear(): void {
    this.reports.clear();
  }

  /** Forgets the reports of some files (another file's references changed what they are compared with). */
  invalidate(uris: Iterable<string>): void {
    for (const uri of uris) this.forget(uri);
  }

  async pull(params: WorkspaceDiagnosticParams, progress: WorkDoneProgressReporter, signal: AbortSignal): Promise<WorkspaceDiagnosticReport> {
    const started = this.now();
    const previous = new Map(params.previousResultIds.map((p) => [p.uri, p.value]));
    const files = (await this.host.listFiles(signal)).filter((uri) => !this.host.isOpen(uri));
    const generation = this.host.generation();
    progress.begin('Lineage: workspace problems', 0, `${files.length} file(s)`, true);
    const items: WorkspaceDocumentDiagnosticReport[] = [];
    try {
      for (const [index, uri] of files.entries()) {
        if (signal.aborted) break;
        progress.report(Math.round((index / Math.max(1, files.length)) * 100), vscodeRelative(uri));
        const stamp = await this.host.stamp(uri);
        if (stamp === undefined) continue;
        const key = `${uri}|${stamp}|${generation}`;
        const cached = this.reports.get(key);
        const withinBudget = this.now() - started < this.budgetMs;
        let report = cached;
        if (!report || (report.partial && withinBudget)) {
          const analysis = await this.host.analyze(uri, withinBudget, signal).catch(() => undefined);
          if (signal.aborted) break;
          if (!analysis) continue;
          report = { resultId: `lineage-${this.nextResultId++}`, items: await this.host.diagnosticsOf(analysis), partial: !withinBudget };
          this.forget(uri);
          this.reports.set(key, report);
        }
        if (previous.get(uri) === report.resultId) items.push({ kind: DocumentDiagnosticReportKind.Unchanged, uri, version: null, resultId: report.resultId });
        else items.push({ kind: DocumentDiagnosticReportKind.Full, uri, version: null, resultId: report.resultId, items: report.items });
      }
    } finally {
      progress.done();
    }
    return { items };
  }

  /** Drops older reports of a file (a new stamp or generation supersedes them). */
  private forget(uri: string): void {
    for (const key of this.reports.keys()) if (key.startsWith(`${uri}|`)) this.reports.delete(key);
  }
}

function vscodeRelative(uri: string): string {
  return decodeURIComponent(uri.slice(uri.lastIndexOf('/') + 1));
}
