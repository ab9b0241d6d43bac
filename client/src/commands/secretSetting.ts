// A credential kept in VS Code's secret storage (never in settings) and handed to the language server:
// the Hub token and the registry password are both set, removed and re-sent this way.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { LineageServices } from '../services';

export type SecretOutcome = 'stored' | 'removed' | 'invalid' | undefined;

export interface SecretSetting {
  /** The secret storage key. */
  key: string;
  /** How messages name it ("Hugging Face token"). */
  noun: string;
  title: string;
  prompt: () => string;
  /** What a valid value looks like (the protocol's shape, shared with the server). */
  shape: RegExp;
  invalidMessage: string;
  /** The value as stored (a token is trimmed; a password is taken as typed). */
  normalize: (entered: string) => string;
  /** Sends the value, or its absence, to the server. */
  notify: (client: LanguageClient, value: string | undefined) => Promise<void>;
}

/** Sends the stored value (or its absence) to the server: at start-up and whenever the secret changes. */
export async function sendStoredSecret(setting: SecretSetting, context: vscode.ExtensionContext, client: LanguageClient): Promise<void> {
  await setting.notify(client, await context.secrets.get(setting.key));
}

export function watchSecret(setting: SecretSetting, context: vscode.ExtensionContext, client: LanguageClient): vscode.Disposable {
  return context.secrets.onDidChange((event) => {
    if (event.key === setting.key) void sendStoredSecret(setting, context, client);
  });
}

/** The command: asks for the value (or takes `arg`), stores or removes it, and tells the server at once. */
export async function setSecret(setting: SecretSetting, services: LineageServices, arg?: unknown): Promise<SecretOutcome> {
  const entered =
    typeof arg === 'string'
      ? arg
      : await vscode.window.showInputBox({
          title: setting.title,
          prompt: setting.prompt(),
          password: true,
          ignoreFocusOut: true,
          validateInput: (value) => {
            const normalized = setting.normalize(value);
            return normalized === '' || setting.shape.test(normalized) ? undefined : setting.invalidMessage;
          },
        });
  if (entered === undefined) return undefined;
  const value = setting.normalize(entered);
  if (value === '') {
    await services.context.secrets.delete(setting.key);
    await sendStoredSecret(setting, services.context, services.client);
    void vscode.window.showInformationMessage(`Lineage: ${setting.noun} removed from secret storage.`);
    return 'removed';
  }
  if (!setting.shape.test(value)) return 'invalid';
  await services.context.secrets.store(setting.key, value);
  // onDidChange sends it too; sending now makes the command's effect immediate and testable.
  await sendStoredSecret(setting, services.context, services.client);
  void vscode.window.showInformationMessage(`Lineage: ${setting.noun} stored in secret storage.`);
  return 'stored';
}
