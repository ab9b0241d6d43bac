// `Lineage: Set Hugging Face Token…`: keeps a Hub token in VS Code's secret storage (never in
// settings) and hands it to the language server, which uses it for metadata of private and gated
// repositories. An empty entry removes the token; HF_TOKEN and the token file apply again.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { HUB_TOKEN_SHAPE, HubTokenNotification, type HubTokenParams } from '../../../server/src/protocol';
import type { LineageServices } from '../services';

const SECRET_KEY = 'lineage.huggingFaceToken';

export type HubTokenOutcome = 'stored' | 'removed' | 'invalid' | undefined;

/** Sends the stored token (if any) to the server: at start-up and whenever the secret changes. */
export async function sendStoredHubToken(context: vscode.ExtensionContext, client: LanguageClient): Promise<void> {
  const token = await context.secrets.get(SECRET_KEY);
  const params: HubTokenParams = token === undefined ? {} : { token };
  await client.sendNotification(HubTokenNotification, params);
}

export function watchHubToken(context: vscode.ExtensionContext, client: LanguageClient): vscode.Disposable {
  return context.secrets.onDidChange((event) => {
    if (event.key === SECRET_KEY) void sendStoredHubToken(context, client);
  });
}

export async function setHubToken(services: LineageServices, arg?: unknown): Promise<HubTokenOutcome> {
  const entered =
    typeof arg === 'string'
      ? arg
      : await vscode.window.showInputBox({
          title: 'Lineage: Hugging Face token',
          prompt: 'Used only for Hub metadata of private and gated repositories; kept in VS Code secret storage. Leave empty to remove it.',
          password: true,
          ignoreFocusOut: true,
          validateInput: (value) => (value.trim() === '' || HUB_TOKEN_SHAPE.test(value.trim()) ? undefined : 'A token is printable characters without spaces'),
        });
  if (entered === undefined) return undefined;
  const token = entered.trim();
  if (token === '') {
    await services.context.secrets.delete(SECRET_KEY);
    await sendStoredHubToken(services.context, services.client);
    void vscode.window.showInformationMessage('Lineage: Hugging Face token removed from secret storage.');
    return 'removed';
  }
  if (!HUB_TOKEN_SHAPE.test(token)) return 'invalid';
  await services.context.secrets.store(SECRET_KEY, token);
  // onDidChange sends it too; sending now makes the command's effect immediate and testable.
  await sendStoredHubToken(services.context, services.client);
  void vscode.window.showInformationMessage('Lineage: Hugging Face token stored in secret storage.');
  return 'stored';
}
