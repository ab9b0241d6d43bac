// The Models view in the Explorer: every model reference of the workspace (lineage/listReferences),
// grouped by model with a status icon, each reference a click away. Also feeds the status bar count.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { ListReferencesRequest, STANDING_CODICONS, type ListReferencesParams, type ListReferencesResult, type ReferenceStatus, type ShowReferenceArguments, type StandingStatus } from '../../../server/src/protocol';
import { Commands } from '../constants';
import { buildInventory, describeModel, standingOf, STATUS_LABELS, type InventoryModel, type InventoryStatus } from './modelInventory';

/** Theme colours of each standing: green only for verified; a copy or a refuted claim is never green. */
export const STANDING_COLORS: Readonly<Record<StandingStatus, string | undefined>> = {
  verified: 'testing.iconPassed',
  contradicted: 'list.errorForeground',
  're-upload': 'list.warningForeground',
  risky: 'list.warningForeground',
  unverified: 'descriptionForeground',
  pending: undefined,
  'not-applicable': 'disabledForeground',
};

export function standingIcon(status: StandingStatus): vscode.ThemeIcon {
  const color = STANDING_COLORS[status];
  return new vscode.ThemeIcon(STANDING_CODICONS[status], color === undefined ? undefined : new vscode.ThemeColor(color));
}

const STATUS_ICONS = Object.fromEntries(Object.keys(STANDING_CODICONS).map((s) => [s, standingIcon(s as StandingStatus)])) as Record<InventoryStatus, vscode.ThemeIcon>;

export type ModelsNode = { kind: 'model'; model: InventoryModel } | { kind: 'reference'; reference: ReferenceStatus; model: InventoryModel };

/** Holds the latest listReferences answer; the tree and the status bar render from it. */
export class ModelInventoryStore implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  references: ReferenceStatus[] = [];
  models: InventoryModel[] = [];
  private pending: Promise<void> | undefined;

  /** `client` is a getter: the language client library loads after activation (bench:ext). */
  constructor(private readonly client: () => LanguageClient, private readonly output: vscode.LogOutputChannel) {}

  /** One listing at a time; callers during a listing share it. */
  refresh(): Promise<void> {
    this.pending ??= (async () => {
      try {
        const params: ListReferencesParams = {};
        const result = await this.client().sendRequest(ListReferencesRequest, params);
        this.references = result.references;
        this.models = buildInventory(result.references);
        if (result.truncated) this.output.appendLine('Models view: the workspace has more files than the server walks; some references are not listed.');
        this.changed.fire();
      } catch (err) {
        this.output.appendLine(`Models view: listing references failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

function relativeToWorkspace(uri: vscode.Uri): string {
  return vscode.workspace.asRelativePath(uri, false);
}

export class ModelsTreeProvider implements vscode.TreeDataProvider<ModelsNode> {
  readonly onDidChangeTreeData: vscode.Event<void>;

  constructor(private readonly store: ModelInventoryStore) {
    this.onDidChangeTreeData = store.onDidChange;
  }

  getChildren(node?: ModelsNode): ModelsNode[] {
    if (!node) return this.store.models.map((model) => ({ kind: 'model', model }));
    if (node.kind === 'model') return node.model.references.map((reference) => ({ kind: 'reference', reference, model: node.model }));
    return [];
  }

  getTreeItem(node: ModelsNode): vscode.TreeItem {
    if (node.kind === 'model') {
      const item = new vscode.TreeItem(node.model.label, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `model:${node.model.key}`;
      item.iconPath = STATUS_ICONS[node.model.status];
      item.description = describeModel(node.model);
      item.tooltip = new vscode.MarkdownString([`**${node.model.label}**: ${STATUS_LABELS[node.model.status]}`, ...node.model.reasons.map((r) => `- ${r}`)].join('\n\n'));
      item.contextValue = 'lineageModel';
      return item;
    }
    const uri = vscode.Uri.parse(node.reference.uri);
    const line = node.reference.range.start.line + 1;
    const item = new vscode.TreeItem(`${path.basename(uri.fsPath)}:${line}`, vscode.TreeItemCollapsibleState.None);
    item.id = `ref:${node.reference.uri}:${node.reference.range.start.line}:${node.reference.range.start.character}`;
    item.description = `${relativeToWorkspace(uri)} · ${node.reference.loader}`;
    item.resourceUri = uri;
    const standing = standingOf(node.reference);
    item.iconPath = STATUS_ICONS[standing.status];
    item.tooltip = `${node.reference.id || '(dynamic id)'} in ${relativeToWorkspace(uri)}:${line}: ${STATUS_LABELS[standing.status]}, ${standing.summary}`;
    const args: ShowReferenceArguments = { uri: node.reference.uri, range: node.reference.range };
    item.command = { command: Commands.showReference, title: 'Go to reference', arguments: [args] };
    item.contextValue = 'lineageReference';
    return item;
  }
}
