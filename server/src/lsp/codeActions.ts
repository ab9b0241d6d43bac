// Quick fixes for model references: pin the revision to the cached commit, add use_safetensors=True,
// and correct a card's base_model to the verified match. Pure: edits come from finder insertion points.
import { CodeActionKind, type CodeAction, type Diagnostic, type TextEdit } from 'vscode-languageserver';
import type { ArgumentInsertion } from '../references';
import type { AnalyzedReference, DocumentAnalysis } from './documentAnalysis';
import { isPickleFormat, shortCommit } from './describe';
import { DiagnosticCodes, type Range } from './protocol';

function rangesIntersect(a: Range, b: Range): boolean {
  const before = (p: Range['start'], q: Range['start']): boolean => p.line < q.line || (p.line === q.line && p.character < q.character);
  return !before(a.end, b.start) && !before(b.end, a.start);
}

/** Text that adds a keyword argument, option property or CLI flag at a finder's insertion point. */
export function argumentText(insertion: ArgumentInsertion, name: string, value: string, quoted: boolean): string {
  const comma = insertion.needsComma ? ', ' : '';
  switch (insertion.style) {
    case 'python-keyword':
      return `${comma}${name}=${quoted ? `"${value}"` : value}`;
    case 'js-options-property':
      return `${comma}${name}: ${quoted ? `'${value}'` : value}`;
    case 'js-options-object':
      return `${comma}{ ${name}: ${quoted ? `'${value}'` : value} }`;
    case 'cli-flag':
      return ` --${name.replace(/_/g, '-')} ${value}`;
  }
}

/** The edit pinning a reference to `commit`: replace a written revision, or add one. */
export function pinRevisionEdit(reference: AnalyzedReference, commit: string): TextEdit | undefined {
  const { site } = reference;
  if (site.revision && !site.revision.dynamic) return { range: site.revision.range, newText: commit };
  // A revision inside the id (`org/x@v1`, a URL) has no separate range to replace.
  if (site.reference?.kind === 'hub' && site.reference.revision !== undefined) return undefined;
  if (!site.insertion) return undefined;
  return { range: { start: site.insertion.position, end: site.insertion.position }, newText: argumentText(site.insertion, 'revision', commit, true) };
}

function diagnosticsFor(reference: AnalyzedReference, referenceIndex: number, diagnostics: Diagnostic[], code: string): Diagnostic[] {
  return diagnostics.filter((d) => d.code === code && ((d.data as { referenceIndex?: number } | undefined)?.referenceIndex === referenceIndex || rangesIntersect(d.range, reference.site.range)));
}

export function computeCodeActions(analysis: DocumentAnalysis, range: Range, contextDiagnostics: Diagnostic[]): CodeAction[] {
  const actions: CodeAction[] = [];
  const edit = (edits: TextEdit[]) => ({ changes: { [analysis.uri]: edits } });
  analysis.references.forEach((reference, referenceIndex) => {
    const { site, status } = reference;
    const touched = rangesIntersect(site.range, range) || (site.revision !== undefined && rangesIntersect(site.revision.range, range)) || (site.flags.trustRemoteCodeRange !== undefined && rangesIntersect(site.flags.trustRemoteCodeRange, range));
    if (!touched) return;

    const commit = status.resolution.kind === 'hf-cache' ? status.resolution.commit : undefined;
    if (commit && !status.pinned && site.kind !== 'base-model-claim') {
      const pin = pinRevisionEdit(reference, commit);
      if (pin) {
        actions.push({
          title: `Pin revision to ${shortCommit(commit)}… (the cached commit)`,
          kind: CodeActionKind.QuickFix,
          diagnostics: [...diagnosticsFor(reference, referenceIndex, contextDiagnostics, DiagnosticCodes.unpinnedRevision), ...diagnosticsFor(reference, referenceIndex, contextDiagnostics, DiagnosticCodes.trustRemoteCode)],
          isPreferred: true,
          edit: edit([pin]),
        });
      }
    }

    const pickle = status.model !== undefined && isPickleFormat(status.model.format);
    if (pickle && site.insertion?.style === 'python-keyword' && site.flags.useSafetensors === undefined) {
      actions.push({
        title: 'Add use_safetensors=True (refuse pickle weights)',
        kind: CodeActionKind.QuickFix,
        diagnostics: diagnosticsFor(reference, referenceIndex, contextDiagnostics, DiagnosticCodes.pickleWeights),
        edit: edit([{ range: { start: site.insertion.position, end: site.insertion.position }, newText: argumentText(site.insertion, 'use_safetensors', 'True', false) }]),
      });
    }

    const best = status.lineage.matches[0];
    const contradicted = status.lineage.declared.some((d) => d.status === 'contradicted');
    if (site.kind === 'base-model-claim' && contradicted && best && best.repoId.toLowerCase() !== site.id.toLowerCase()) {
      actions.push({
        title: `Set base_model to ${best.repoId} (verified by fingerprint)`,
        kind: CodeActionKind.QuickFix,
        diagnostics: diagnosticsFor(reference, referenceIndex, contextDiagnostics, DiagnosticCodes.declaredBaseContradicted),
        isPreferred: true,
        edit: edit([{ range: site.range, newText: best.repoId }]),
      });
    }
  });
  return actions;
}
