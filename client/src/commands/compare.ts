// `Lineage: Compare with…` and `Lineage: Scan Model…`: pick the sides, ask the server (lineage/compare,
// lineage/scan) under a cancellable progress notification, then show the Compare view or the scan report.
import * as vscode from 'vscode';
import type { Comparison } from '../../../server/src/protocol';
import { CompareRequest, ScanRequest, type CompareParams, type CompareTarget, type ScanParams, type ScanResult } from '../../../server/src/protocol';
import { errorText, type LineageServices } from '../services';
import { formatScanReport, scanSummary } from './scanReport';
import { pickModel, targetAtCursor, targetFromArgument, targetText, type ResolvedTarget } from './targets';

/** Programmatic form (tests, other extensions): both sides given, no UI but the result view. */
interface ExplicitPair {
  a: CompareTarget;
  b: CompareTarget;
}

function isExplicitPair(value: unknown): value is ExplicitPair {
  return typeof value === 'object' && value !== null && 'a' in value && 'b' in value && typeof (value as ExplicitPair).a === 'object' && typeof (value as ExplicitPair).b === 'object';
}

async function withCancellableProgress<T>(title: string, task: (token: vscode.CancellationToken) => Promise<T>): Promise<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (_progress, token) => task(token));
}

export async function compareWith(services: LineageServices, arg?: unknown): Promise<Comparison | undefined> {
  let a: ResolvedTarget | undefined;
  let b: ResolvedTarget | undefined;
  if (isExplicitPair(arg)) {
    a = { target: arg.a, label: targetText(arg.a) };
    b = { target: arg.b, label: targetText(arg.b) };
  } else {
    a = targetFromArgument(arg) ?? targetAtCursor(services) ?? (await pickModel(services, 'Lineage: Compare — first model'));
    if (!a) return undefined;
    // A is never its own partner, whichever name (id, id@revision, path) the picker would list it under.
    const pickOptions: { suggested?: string; exclude?: string[] } = { exclude: [a.label, ...('reference' in a.target ? [a.target.reference] : [])] };
    if (a.suggestedOther !== undefined) pickOptions.suggested = a.suggestedOther;
    b = await pickModel(services, `Lineage: Compare ${a.label} with…`, pickOptions);
  }
  if (!b) return undefined;
  const params: CompareParams = { a: a.target, b: b.target };
  const sides = `${a.label} vs ${b.label}`;
  try {
    const comparison = await withCancellableProgress(`Lineage: comparing ${sides}`, (token) => services.client.sendRequest(CompareRequest, params, token));
    services.output.appendLine(`compare ${sides}: ${comparison.verdict}: ${comparison.reason}`);
    services.comparePanel.show(comparison);
    return comparison;
  } catch (err) {
    void vscode.window.showErrorMessage(`Lineage: could not compare ${sides}: ${errorText(err)}`);
    return undefined;
  }
}

export async function scanModel(services: LineageServices, arg?: unknown): Promise<ScanResult | undefined> {
  const subject = targetFromArgument(arg) ?? targetAtCursor(services) ?? (await pickModel(services, 'Lineage: Scan model'));
  if (!subject) return undefined;
  const params: ScanParams = { target: subject.target };
  try {
    const result = await withCancellableProgress(`Lineage: scanning ${subject.label}`, (token) => services.client.sendRequest(ScanRequest, params, token));
    services.output.appendLine(formatScanReport(result));
    void vscode.window.showInformationMessage(`Lineage scan: ${scanSummary(result)}`, 'Show details').then((choice) => {
      if (choice) services.output.show(true);
    });
    return result;
  } catch (err) {
    void vscode.window.showErrorMessage(`Lineage: could not scan ${subject.label}: ${errorText(err)}`);
    return undefined;
  }
}
