// `Lineage: Pin All Revisions`: applies the server's own "Pin revision" quick fix to every unpinned
// reference with a checked commit (cached snapshot or registry entry), as one undoable workspace edit.
import * as vscode from 'vscode';
import { errorText, type LineageServices } from '../services';
import { describeSkipped, pinTargetsByDocument, type PinTarget } from './pinPlan';

export interface PinOutcome {
  pinned: number;
  files: number;
  /** References with a cached commit but no quick fix (e.g. a revision inside a URL). */
  skipped: number;
  /** "app.py:12 org/model (the revision is written inside the id)", one per skipped reference. */
  skippedReferences: string[];
}


function toRange(target: PinTarget): vscode.Range {
  const { start, end } = target.reference.range;
  return new vscode.Range(start.line, start.character, end.line, end.character);
}

/** The pin edit among the server's actions for a reference: the one whose edit writes the cached commit. */
function pinEdits(actions: readonly vscode.CodeAction[], uri: vscode.Uri, commit: string): vscode.TextEdit[] | undefined {
  for (const action of actions) {
    const edits = action.edit?.get(uri) ?? [];
    if (edits.length > 0 && edits.every((e) => e.newText.includes(commit))) return edits;
  }
  return undefined;
}

export async function pinAllRevisions(services: LineageServices): Promise<PinOutcome> {
  await services.inventory.refresh();
  const plan = pinTargetsByDocument(services.inventory.references);
  const edit = new vscode.WorkspaceEdit();
  const outcome: PinOutcome = { pinned: 0, files: 0, skipped: 0, skippedReferences: [] };
  const skip = (target: PinTarget, uri: vscode.Uri, why: string): void => {
    outcome.skipped++;
    outcome.skippedReferences.push(`${vscode.workspace.asRelativePath(uri)}:${target.reference.range.start.line + 1} ${target.reference.id} (${why})`);
  };
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Lineage: pinning revisions' }, async (progress) => {
    for (const [uriText, targets] of plan) {
      const uri = vscode.Uri.parse(uriText);
      progress.report({ message: vscode.workspace.asRelativePath(uri) });
      // Opening the document hands it to the server, whose quick fixes work on open documents.
      await vscode.workspace.openTextDocument(uri);
      const written = new Set<string>();
      let pinnedHere = 0;
      for (const target of targets) {
        try {
          const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, toRange(target), vscode.CodeActionKind.QuickFix.value);
          const edits = pinEdits(actions ?? [], uri, target.commit);
          if (!edits) {
            skip(target, uri, 'no place to write a revision: it is inside the id or a URL');
            continue;
          }
          for (const e of edits) {
            const key = `${e.range.start.line}:${e.range.start.character}:${e.range.end.line}:${e.range.end.character}`;
            if (written.has(key)) continue;
            written.add(key);
            edit.replace(uri, e.range, e.newText);
          }
          pinnedHere++;
        } catch (err) {
          services.output.appendLine(`pin ${target.reference.id} in ${uriText}: ${errorText(err)}`);
          skip(target, uri, errorText(err));
        }
      }
      if (pinnedHere > 0) outcome.files++;
      outcome.pinned += pinnedHere;
    }
  });
  if (outcome.pinned > 0) await vscode.workspace.applyEdit(edit);
  const message = outcome.pinned > 0 ? `Lineage: pinned ${outcome.pinned} reference(s) in ${outcome.files} file(s) to their cached or registered commits (unsaved; review and save).` : 'Lineage: no unpinned reference with a cached or registered commit to pin.';
  for (const line of outcome.skippedReferences) services.output.appendLine(`Pin All: not pinned: ${line}`);
  void vscode.window.showInformationMessage(outcome.skipped > 0 ? `${message} ${describeSkipped(outcome.skippedReferences)}` : message);
  return outcome;
}
