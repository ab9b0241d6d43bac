// Code lenses above each model reference: the lineage in one line ("derived from org/base
// (p < 1e-40)" or "unverified · resolved to <commit>") and "Compare with…". Pure.
import type { CodeLens } from 'vscode-languageserver';
import type { AnalyzedReference, DocumentAnalysis } from '../../analysis/documentAnalysis';
import { compareArguments } from './hover';
import { describeMatch, describeResolution, shortCommit } from '../../protocol';
import { ClientCommands, type ShowReferenceArguments } from '../../protocol';

export function lensTitle(reference: AnalyzedReference): string | undefined {
  const { status, site } = reference;
  const lineage = status.lineage;
  const best = lineage.matches[0];
  const contradicted = lineage.declared.find((d) => d.status === 'contradicted');
  if (contradicted) return `declared base ${contradicted.baseModel} contradicted${best ? ` · ${describeMatch(best)}` : ''}`;
  if (lineage.status === 'verified' && best) return describeMatch(best);
  if (lineage.status === 'pending') return 'fingerprinting…';
  const resolution = status.resolution;
  if (lineage.status === 'unverified') {
    const where = resolution.commit ? `resolved to ${shortCommit(resolution.commit)}` : describeResolution(status);
    return `unverified · ${where}`;
  }
  if (site.flags.implicitDefault) return 'default model chosen by the library';
  if (resolution.kind === 'unavailable' && site.kind !== 'base-model-claim') return 'not available locally';
  return undefined;
}

export function computeCodeLenses(analysis: DocumentAnalysis): CodeLens[] {
  const lenses: CodeLens[] = [];
  for (const reference of analysis.references) {
    const title = lensTitle(reference);
    if (title === undefined) continue;
    const range = { start: reference.site.range.start, end: reference.site.range.start };
    const show: ShowReferenceArguments = { uri: reference.status.uri, range: reference.site.range };
    lenses.push({ range, command: { title, command: ClientCommands.showReference, arguments: [show] } });
    if (reference.status.model || reference.status.claimant) {
      lenses.push({ range, command: { title: 'Compare with…', command: ClientCommands.compareWith, arguments: [compareArguments(reference)] } });
    }
  }
  return lenses;
}
