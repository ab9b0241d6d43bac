// Messages between the Compare webview and the extension host, validated on arrival (a webview is
// untrusted input), and the export handler with its effects injected. Pure (no vscode import).
import type { Comparison } from '../../../server/src/protocol';
import { standaloneReportHtml } from './compareHtml';

export type ExportFormat = 'json' | 'html';

/** Webview -> host. */
export type CompareViewMessage = { type: 'export'; format: ExportFormat } | { type: 'ready' };

/** Host -> webview. */
export type CompareHostMessage = { type: 'exported'; format: ExportFormat; location: string } | { type: 'exportCancelled' } | { type: 'exportFailed'; message: string };

export function parseCompareViewMessage(raw: unknown): CompareViewMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const message = raw as Record<string, unknown>;
  if (message['type'] === 'ready') return { type: 'ready' };
  if (message['type'] === 'export' && (message['format'] === 'json' || message['format'] === 'html')) return { type: 'export', format: message['format'] };
  return undefined;
}

export interface ReportFile {
  suggestedName: string;
  content: string;
  filterName: string;
  extension: string;
}

function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'model';
}

export function reportFile(comparison: Comparison, format: ExportFormat, css: string): ReportFile {
  const base = `lineage-${slug(comparison.a.name)}-vs-${slug(comparison.b.name)}`;
  if (format === 'json') return { suggestedName: `${base}.json`, content: `${JSON.stringify(comparison, null, 2)}\n`, filterName: 'Comparison JSON', extension: 'json' };
  return { suggestedName: `${base}.html`, content: standaloneReportHtml(comparison, css), filterName: 'HTML report', extension: 'html' };
}

export interface CompareViewEffects {
  /** Asks where to save and writes the file; the location written, or undefined when the user cancelled. */
  saveReport(file: ReportFile): Promise<string | undefined>;
  post(message: CompareHostMessage): void;
}

/** Handles one message from the webview; unknown messages are ignored. Returns the file written, if any. */
export async function handleCompareViewMessage(raw: unknown, comparison: Comparison, css: string, effects: CompareViewEffects): Promise<string | undefined> {
  const message = parseCompareViewMessage(raw);
  if (message?.type !== 'export') return undefined;
  try {
    const location = await effects.saveReport(reportFile(comparison, message.format, css));
    effects.post(location === undefined ? { type: 'exportCancelled' } : { type: 'exported', format: message.format, location });
    return location;
  } catch (err) {
    effects.post({ type: 'exportFailed', message: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}
