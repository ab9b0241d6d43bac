// `Lineage: Set Registry Password…`: keeps the password of the organisation registry
// (`lineage.registry.url`) in VS Code's secret storage, never in settings, and hands it to the language
// server. An empty entry removes it; PGPASSWORD and ~/.pgpass apply again.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { REGISTRY_PASSWORD_SHAPE, RegistryPasswordNotification, type RegistryPasswordParams } from '../../../server/src/protocol';
import type { LineageServices } from '../services';

const SECRET_KEY = 'lineage.registryPassword';

export type RegistryPasswordOutcome = 'stored' | 'removed' | 'invalid' | undefined;

/** Sends the stored password (or its absence) to the server: at start-up and whenever the secret changes. */
export async function sendStoredRegistryPassword(context: vscode.ExtensionContext, client: LanguageClient): Promise<void> {
  const password = await context.secrets.get(SECRET_KEY);
  const params: RegistryPasswordParams = password === undefined ? {} : { password };
  await client.sendNotification(RegistryPasswordNotification, params);
}

export function watchRegistryPassword(context: vscode.ExtensionContext, client: LanguageClient): vscode.Disposable {
  return context.secrets.onDidChange((event) => {
    if (event.key === SECRET_KEY) void sendStoredRegistryPassword(context, client);
  });
}

export async function setRegistryPassword(services: LineageServices, arg?: unknown): Promise<RegistryPasswordOutcome> {
  const url = vscode.workspace.getConfiguration('lineage').get<string>('registry.url', '');
  const entered =
    typeof arg === 'string'
      ? arg
      : await vscode.window.showInputBox({
          title: 'Lineage: organisation registry password',
          prompt: `Password for ${url === '' ? 'the registry of lineage.registry.url' : url}; kept in VS Code secret storage. Leave empty to remove it.`,
          password: true,
          ignoreFocusOut: true,
          validateInput: (value) => (value === '' || REGISTRY_PASSWORD_SHAPE.test(value) ? undefined : 'A password is printable characters'),
        });
  if (entered === undefined) return undefined;
  if (entered === '') {
    await services.context.secrets.delete(SECRET_KEY);
    await sendStoredRegistryPassword(services.context, services.client);
    void vscode.window.showInformationMessage('Lineage: registry password removed from secret storage.');
    return 'removed';
  }
  if (!REGISTRY_PASSWORD_SHAPE.test(entered)) return 'invalid';
  await services.context.secrets.store(SECRET_KEY, entered);
  // onDidChange sends it too; sending now makes the command's effect immediate and testable.
  await sendStoredRegistryPassword(services.context, services.client);
  void vscode.window.showInformationMessage('Lineage: registry password stored in secret storage.');
  return 'stored';
}
