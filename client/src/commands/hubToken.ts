// `Lineage: Set Hugging Face Token…`: keeps a Hub token in VS Code's secret storage (never in
// settings) and hands it to the language server, which uses it for metadata of private and gated
// repositories. An empty entry removes the token; HF_TOKEN and the token file apply again.
import type * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { HUB_TOKEN_SHAPE, HubTokenNotification, type HubTokenParams } from '../../../server/src/protocol';
import type { LineageServices } from '../services';
import { sendStoredSecret, setSecret, watchSecret, type SecretOutcome, type SecretSetting } from './secretSetting';

const HUB_TOKEN: SecretSetting = {
  key: 'lineage.huggingFaceToken',
  noun: 'Hugging Face token',
  title: 'Lineage: Hugging Face token',
  prompt: () => 'Used only for Hub metadata of private and gated repositories; kept in VS Code secret storage. Leave empty to remove it.',
  shape: HUB_TOKEN_SHAPE,
  invalidMessage: 'A token is printable characters without spaces',
  normalize: (entered) => entered.trim(),
  notify: async (client, token) => {
    const params: HubTokenParams = token === undefined ? {} : { token };
    await client.sendNotification(HubTokenNotification, params);
  },
};

export type HubTokenOutcome = SecretOutcome;

export const sendStoredHubToken = (context: vscode.ExtensionContext, client: LanguageClient): Promise<void> => sendStoredSecret(HUB_TOKEN, context, client);
export const watchHubToken = (context: vscode.ExtensionContext, client: LanguageClient): vscode.Disposable => watchSecret(HUB_TOKEN, context, client);
export const setHubToken = (services: LineageServices, arg?: unknown): Promise<HubTokenOutcome> => setSecret(HUB_TOKEN, services, arg);
