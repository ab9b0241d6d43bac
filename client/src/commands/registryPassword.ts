// `Lineage: Set Registry Password…`: keeps the password of the organisation registry
// (`lineage.registry.url`) in VS Code's secret storage, never in settings, and hands it to the language
// server. An empty entry removes it; PGPASSWORD and ~/.pgpass apply again.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { REGISTRY_PASSWORD_SHAPE, RegistryPasswordNotification, type RegistryPasswordParams } from '../../../server/src/protocol';
import type { LineageServices } from '../services';
import { sendStoredSecret, setSecret, watchSecret, type SecretOutcome, type SecretSetting } from './secretSetting';

const REGISTRY_PASSWORD: SecretSetting = {
  key: 'lineage.registryPassword',
  noun: 'registry password',
  title: 'Lineage: organisation registry password',
  prompt: () => {
    const url = vscode.workspace.getConfiguration('lineage').get<string>('registry.url', '');
    return `Password for ${url === '' ? 'the registry of lineage.registry.url' : url}; kept in VS Code secret storage. Leave empty to remove it.`;
  },
  shape: REGISTRY_PASSWORD_SHAPE,
  invalidMessage: 'A password is printable characters',
  normalize: (entered) => entered,
  notify: async (client, password) => {
    const params: RegistryPasswordParams = password === undefined ? {} : { password };
    await client.sendNotification(RegistryPasswordNotification, params);
  },
};

export type RegistryPasswordOutcome = SecretOutcome;

export const sendStoredRegistryPassword = (context: vscode.ExtensionContext, client: LanguageClient): Promise<void> => sendStoredSecret(REGISTRY_PASSWORD, context, client);
export const watchRegistryPassword = (context: vscode.ExtensionContext, client: LanguageClient): vscode.Disposable => watchSecret(REGISTRY_PASSWORD, context, client);
export const setRegistryPassword = (services: LineageServices, arg?: unknown): Promise<RegistryPasswordOutcome> => setSecret(REGISTRY_PASSWORD, services, arg);
