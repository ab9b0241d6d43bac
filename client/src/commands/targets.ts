// Turns what a command was invoked on (hover link, code lens, Explorer item, Models view node, editor
// cursor, nothing) into a compare target, and asks the user for one when there is none.
import * as vscode from 'vscode';
import { ListCachedModelsRequest, type CompareTarget, type CompareWithArguments, type ListCachedModelsResult } from '../../../server/src/protocol';
import { WEIGHT_FILE_EXTENSIONS } from '../constants';
import type { ModelsNode } from '../models/modelsView';
import { buildCandidateItems, referenceTarget, typedCandidate, type CandidateItem } from '../pickers/compareCandidates';
import { errorText, type LineageServices } from '../services';

export interface ResolvedTarget {
  target: CompareTarget;
  /** How the target is shown to the user. */
  label: string;
  /** The model the server suggested comparing with (hover and lens arguments carry it). */
  suggestedOther?: string;
}

function isCompareWithArguments(value: unknown): value is CompareWithArguments {
  return typeof value === 'object' && value !== null && typeof (value as CompareWithArguments).target === 'string' && typeof (value as CompareWithArguments).uri === 'string';
}

function isModelsNode(value: unknown): value is ModelsNode {
  return typeof value === 'object' && value !== null && ((value as ModelsNode).kind === 'model' || (value as ModelsNode).kind === 'reference') && 'model' in value;
}

function isOpenDocument(uri: string): boolean {
  return vscode.workspace.textDocuments.some((d) => d.uri.toString() === uri);
}

/** The target a command argument names, or undefined when the command was run without one. */
export function targetFromArgument(arg: unknown): ResolvedTarget | undefined {
  if (arg instanceof vscode.Uri) return { target: { reference: arg.fsPath }, label: vscode.workspace.asRelativePath(arg) };
  if (typeof arg === 'string' && arg.trim() !== '') return { target: { reference: arg.trim() }, label: arg.trim() };
  if (isCompareWithArguments(arg)) {
    // The server resolves a site of an open document to the exact cached commit it analysed.
    const target: CompareTarget = isOpenDocument(arg.uri) ? { uri: arg.uri, position: arg.range.start } : { reference: arg.resolvedPath ?? arg.target };
    const resolved: ResolvedTarget = { target, label: arg.target };
    if (arg.suggestedOther !== undefined) resolved.suggestedOther = arg.suggestedOther;
    return resolved;
  }
  if (isModelsNode(arg)) {
    const reference = arg.kind === 'reference' ? arg.reference : arg.model.references[0];
    const text = reference && (reference.resolution.kind === 'workspace' ? reference.resolution.path : referenceTarget(reference));
    return text === undefined ? undefined : { target: { reference: text }, label: reference?.id || text };
  }
  return undefined;
}

/** The reference under the cursor of the active editor, when the server knows one there. */
export function targetAtCursor(services: LineageServices): ResolvedTarget | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return undefined;
  const uri = editor.document.uri.toString();
  const position = editor.selection.active;
  const reference = services.inventory.references.find(
    (r) => r.uri === uri && r.range.start.line <= position.line && r.range.end.line >= position.line && (r.range.start.line !== position.line || r.range.start.character <= position.character) && (r.range.end.line !== position.line || r.range.end.character >= position.character),
  );
  if (!reference) return undefined;
  const resolved: ResolvedTarget = { target: { uri, position: { line: position.line, character: position.character } }, label: reference.id || 'reference at cursor' };
  const other = reference.lineage.matches[0]?.repoId ?? reference.lineage.declared[0]?.baseModel;
  if (other !== undefined) resolved.suggestedOther = other;
  return resolved;
}

const GROUP_TITLES: Readonly<Record<CandidateItem['group'], string>> = { suggested: 'Suggested', workspace: 'Workspace references', cache: 'Hugging Face cache', browse: 'Browse', typed: 'Typed' };

type PickItem = vscode.QuickPickItem & { candidate?: CandidateItem };

function pickItems(candidates: readonly CandidateItem[]): PickItem[] {
  const items: PickItem[] = [];
  let group: CandidateItem['group'] | undefined;
  for (const candidate of candidates) {
    if (candidate.group !== group) {
      group = candidate.group;
      items.push({ label: GROUP_TITLES[group], kind: vscode.QuickPickItemKind.Separator });
    }
    const item: PickItem = { label: candidate.label, candidate, alwaysShow: candidate.group === 'typed' || candidate.group === 'browse' };
    if (candidate.description !== undefined) item.description = candidate.description;
    items.push(item);
  }
  return items;
}

/** Quick pick over references, cached models, folders, files and typed ids; undefined when dismissed. */
export async function pickModel(services: LineageServices, title: string, options: { suggested?: string; exclude?: string | readonly string[] } = {}): Promise<ResolvedTarget | undefined> {
  if (services.inventory.references.length === 0) await services.inventory.refresh();
  // The server lists the cache: it knows where the cache is (the environment it was started with).
  const cached = await services.client.sendRequest(ListCachedModelsRequest).catch((err: unknown) => {
    services.output.appendLine(`listing the Hugging Face cache failed: ${errorText(err)}`);
    return { models: [] };
  });
  const cachedModelIds = [...new Set(cached.models.map((m) => m.repoId))].sort((a, b) => a.localeCompare(b));
  const sources = { references: services.inventory.references, cachedModelIds, ...options };
  const fixed = buildCandidateItems(sources);
  const quickPick = vscode.window.createQuickPick<PickItem>();
  quickPick.title = title;
  quickPick.placeholder = 'A model id (org/name[@revision]), a path, or pick one below';
  quickPick.matchOnDescription = true;
  quickPick.items = pickItems(fixed);
  const chosen = await new Promise<CandidateItem | undefined>((resolve) => {
    quickPick.onDidChangeValue((value) => {
      const typed = typedCandidate(value);
      quickPick.items = pickItems(typed ? [typed, ...fixed] : fixed);
    });
    quickPick.onDidAccept(() => {
      const candidate = quickPick.selectedItems[0]?.candidate ?? typedCandidate(quickPick.value);
      resolve(candidate);
      quickPick.hide();
    });
    quickPick.onDidHide(() => resolve(undefined));
    quickPick.show();
  });
  quickPick.dispose();
  if (!chosen) return undefined;
  switch (chosen.action.kind) {
    case 'reference':
      return { target: { reference: chosen.action.reference }, label: chosen.action.reference };
    case 'browseFolder': {
      const [folder] = (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, title, openLabel: 'Use this model folder' })) ?? [];
      return folder ? { target: { reference: folder.fsPath }, label: vscode.workspace.asRelativePath(folder) } : undefined;
    }
    case 'browseFile': {
      const extensions = [...WEIGHT_FILE_EXTENSIONS.map((e) => e.slice(1)), 'json'];
      const [file] = (await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: false, title, openLabel: 'Use this file', filters: { 'Weights or fingerprint': extensions } })) ?? [];
      return file ? { target: { reference: file.fsPath }, label: vscode.workspace.asRelativePath(file) } : undefined;
    }
  }
}

export function targetText(target: CompareTarget): string {
  return 'reference' in target ? target.reference : `${target.uri}:${target.position.line + 1}`;
}
