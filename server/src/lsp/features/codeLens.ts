// Code lenses above each model reference: the standing in one line with its icon ("$(pass-filled)
// verified: derived from org/base (p < 1e-40), as declared") and "Compare with…". Pure.
import type { CodeLens } from 'vscode-languageserver';
import type { AnalyzedReference, DocumentAnalysis } from '../../analysis/documentAnalysis';
import { compareArguments } from './hover';
import { describeMatch, describeResolution, describeStanding, shortCommit, STANDING_CODICONS } from '../../protocol';
import { ClientCommands, type ShowReferenceArguments } from '../../protocol';

/** "$(error) contradicted: declares X as its base, but …": the standing's icon, word and reason. */
export function lensTitle(reference: AnalyzedReference): string | undefined {
  const standing = reference.status.standing;
  if (!standing) return legacyLensTitle(reference);
  if (standing.status === 'not-applicable') return reference.site.flags.implicitDefault ? 'default model chosen by the library' : undefined;
  if (standing.status === 'pending') return `$(${STANDING_CODICONS.pending}) fingerprinting…`;
  return `$(${STANDING_CODICONS[standing.status]}) ${describeStanding(standing)}`;
}

/** An analysis without standings (the CLI's, or a test's): the lineage alone. */
function legacyLensTitle(reference: AnalyzedReference): string | undefined {
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
