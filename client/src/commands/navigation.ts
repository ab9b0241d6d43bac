// Navigation commands: reveal a reference (code lens, Models view) with its hover, and show the
// Models view (status bar click).
import * as vscode from 'vscode';
import type { ShowReferenceArguments } from '../../../server/src/protocol';
import { MODELS_VIEW_ID } from '../constants';

function isShowReferenceArguments(value: unknown): value is ShowReferenceArguments {
  return typeof value === 'object' && value !== null && typeof (value as ShowReferenceArguments).uri === 'string' && typeof (value as ShowReferenceArguments).range === 'object';
}

export async function showReference(arg?: unknown): Promise<vscode.TextEditor | undefined> {
  if (!isShowReferenceArguments(arg)) return undefined;
  const { start, end } = arg.range;
  const range = new vscode.Range(start.line, start.character, end.line, end.character);
  const editor = await vscode.window.showTextDocument(vscode.Uri.parse(arg.uri), { selection: range, preserveFocus: false });
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  // The hover holds the lineage details; showing it is what "show reference" means.
  await vscode.commands.executeCommand('editor.action.showHover');
  return editor;
}

export async function showInventory(): Promise<void> {
  await vscode.commands.executeCommand(`${MODELS_VIEW_ID}.focus`);
}
