// What the command handlers share: the language client, the output channel, the model inventory and
// the Compare view host, created once in activate().
import type * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { ModelInventoryStore } from './models/modelsView';
import type { LineageStatusBar } from './statusBar';
import type { ComparePanelHost } from './webview/comparePanel';

export interface LineageServices {
  context: vscode.ExtensionContext;
  client: LanguageClient;
  output: vscode.LogOutputChannel;
  inventory: ModelInventoryStore;
  comparePanel: ComparePanelHost;
  statusBar: LineageStatusBar;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
