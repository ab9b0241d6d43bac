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

/** The JSON-RPC wrapping the language client puts around a server's message: protocol text, not news. */
const PROTOCOL_PREFIX = /^Request [\w/$.-]+ failed with (?:message|unhandled error): /;

/** An error as a user reads it: the server's own sentence, without the JSON-RPC wrapping. */
export function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(PROTOCOL_PREFIX, '');
}
