// Quick fixes: pin a revision to the cached, registry or Hub commit, add use_safetensors=True, name a
// pipeline's default model, replace a look-alike id, and correct or add a card's base_model. Pure:
// edits come from the analysis.
import { CodeActionKind, type CodeAction, type Diagnostic, type TextEdit } from 'vscode-languageserver';
import type { ArgumentInsertion } from '../../references';
import { addBaseModelEdit, baseModelRelation, touchesFrontMatter, verifiedAncestors } from '../../analysis/cardBaseModel';
import type { AnalyzedReference, DocumentAnalysis, UndeclaredCardBase } from '../../analysis/documentAnalysis';
import { describePinOrigin, hubRepoFactsOf, shortCommit } from '../../protocol';
import { isPickleFormat, pinCommitOf } from '../../analysis/referenceFacts';
import { transformersPipelineDefault } from '../../analysis/pipelineDefaults';
import { DiagnosticCodes, type Range } from '../../protocol';
import { appendAll } from '../../core/util/arrays';

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

/** Every unpinned reference of the document whose commit is known, with the edit that pins it. */
function pinnableReferences(analysis: DocumentAnalysis): Array<{ reference: AnalyzedReference; edit: TextEdit }> {
  const found: Array<{ reference: AnalyzedReference; edit: TextEdit }> = [];
  const seen = new Set<string>();
  for (const reference of analysis.references) {
    const target = pinCommitOf(reference.status);
    if (!target || reference.status.pinned || reference.site.kind === 'base-model-claim' || reference.lookAlike || reference.site.flags.implicitDefault) continue;
    const pin = pinRevisionEdit(reference, target.commit);
    // Two sites sharing one `--revision` flag need one edit.
    const key = pin ? `${pin.range.start.line}:${pin.range.start.character}` : '';
    if (!pin || seen.has(key)) continue;
    seen.add(key);
    found.push({ reference, edit: pin });
  }
  return found;
}

export function computeCodeActions(analysis: DocumentAnalysis, range: Range, contextDiagnostics: Diagnostic[]): CodeAction[] {
  const actions: CodeAction[] = [];
  const edit = (edits: TextEdit[]) => ({ changes: { [analysis.uri]: edits } });
  const pinnable = pinnableReferences(analysis);
  let pinAllOffered = false;
  analysis.references.forEach((reference, referenceIndex) => {
    const { site, status } = reference;
    const touched = rangesIntersect(site.range, range) || (site.revision !== undefined && rangesIntersect(site.revision.range, range)) || (site.flags.trustRemoteCodeRange !== undefined && rangesIntersect(site.flags.trustRemoteCodeRange, range));
    if (!touched) return;

    const pinTarget = pinCommitOf(status);
    if (pinTarget && !status.pinned && site.kind !== 'base-model-claim' && !site.flags.implicitDefault) {
      const pin = pinRevisionEdit(reference, pinTarget.commit);
      if (pin) {
        actions.push({
          title: `Pin revision to ${shortCommit(pinTarget.commit)}… (${describePinOrigin(pinTarget)})`,
          kind: CodeActionKind.QuickFix,
          diagnostics: [...diagnosticsFor(reference, referenceIndex, contextDiagnostics, DiagnosticCodes.unpinnedRevision), ...diagnosticsFor(reference, referenceIndex, contextDiagnostics, DiagnosticCodes.trustRemoteCode)],
          isPreferred: true,
          edit: edit([pin]),
        });
      }
      // One action for the whole file, offered beside each single pin (LL003 is usually on every line).
      if (pin && pinnable.length > 1 && !pinAllOffered) {
        pinAllOffered = true;
        actions.push({
          title: `Pin all ${pinnable.length} unpinned references in this file to their known commits`,
          kind: CodeActionKind.QuickFix,
          diagnostics: contextDiagnostics.filter((d) => d.code === DiagnosticCodes.unpinnedRevision),
          edit: edit(pinnable.map((p) => p.edit)),
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

    const pipelineDefault = site.flags.implicitDefault && site.task !== undefined ? transformersPipelineDefault(site.task) : undefined;
    // The table holds Python transformers' defaults; transformers.js picks other (ONNX) models.
    if (pipelineDefault && site.insertion?.style === 'python-keyword') {
      // transformers pins its defaults by short hash, which LL003 rightly calls movable: the fix writes the
      // full commit the Hub resolves it to, or, with no Hub answer, the model alone (LL003 then offers a pin).
      const hub = hubRepoFactsOf(status);
      const fullCommit = hub && hub.repoId.toLowerCase() === pipelineDefault.repoId.toLowerCase() && hub.commit.startsWith(pipelineDefault.revision) ? hub.commit : undefined;
      const revision = site.revision === undefined && fullCommit !== undefined ? `, revision="${fullCommit}"` : '';
      const how = fullCommit !== undefined ? `, revision ${shortCommit(fullCommit)}…` : '';
      actions.push({
        title: `Name the model explicitly: model="${pipelineDefault.repoId}"${how} (transformers' current default for "${site.task}")`,
        kind: CodeActionKind.QuickFix,
        diagnostics: diagnosticsFor(reference, referenceIndex, contextDiagnostics, DiagnosticCodes.implicitDefaultModel),
        isPreferred: true,
        edit: edit([{ range: { start: site.insertion.position, end: site.insertion.position }, newText: argumentText(site.insertion, 'model', pipelineDefault.repoId, true) + revision }]),
      });
    }

    // The id as written spans the whole range only when nothing else (a URL, an `@rev`) is written with it.
    const lookAlike = reference.lookAlike;
    if (lookAlike && site.reference?.kind === 'hub' && site.id === site.reference.repoId) {
      actions.push({
        title: `Replace with ${lookAlike.wellKnownId}`,
        kind: CodeActionKind.QuickFix,
        diagnostics: diagnosticsFor(reference, referenceIndex, contextDiagnostics, DiagnosticCodes.lookAlikeId),
        isPreferred: true,
        edit: edit([{ range: site.range, newText: lookAlike.wellKnownId }]),
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
  if (analysis.undeclaredCardBase && touchesFrontMatter(analysis.undeclaredCardBase.frontMatter, range)) {
    appendAll(actions, addBaseModelActions(analysis.undeclaredCardBase, edit));
  }
  return actions;
}

/** A card offers at most this many verified bases (a model can match several copies of one base). */
const MAX_BASE_MODEL_ACTIONS = 3;

/** "Add base_model: X" for a card that names no base, one action per verified ancestor, strongest first. */
function addBaseModelActions(cardBase: UndeclaredCardBase, edit: (edits: TextEdit[]) => CodeAction['edit']): CodeAction[] {
  const ancestors = verifiedAncestors(cardBase.lineage).slice(0, MAX_BASE_MODEL_ACTIONS);
  // Equal evidence for two repos means they hold copies of one base; which is the original is not known here.
  const [first, second] = ancestors;
  const firstIsClear = first !== undefined && (second === undefined || second.verdict !== first.verdict || second.log10P !== first.log10P);
  const actions: CodeAction[] = [];
  for (const match of ancestors) {
    const textEdit = addBaseModelEdit(cardBase.frontMatter, match.repoId, baseModelRelation(match.verdict, cardBase.model));
    if (!textEdit) continue;
    actions.push({
      title: `Add base_model: ${match.repoId} (verified by fingerprint)`,
      kind: CodeActionKind.QuickFix,
      isPreferred: match === first && firstIsClear,
      edit: edit([textEdit]),
    });
  }
  return actions;
}
