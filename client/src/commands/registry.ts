// `Lineage: Add to Registry`: the server fingerprints the model and stores it in the user's registry
// (never the shipped reference database); verdicts of open documents are recomputed against it.
import * as vscode from 'vscode';
import { AddToRegistryRequest, type AddToRegistryParams, type AddToRegistryResult } from '../../../server/src/protocol';
import { errorText, type LineageServices } from '../services';
import { pickModel, targetFromArgument } from './targets';

/** Hub-style ids the registry accepts: what `lineage db add --id` accepts, minus the control characters. */
const ENTRY_ID = /^[\w.-]+(?:\/[\w.-]+)?$/;

export async function addToRegistry(services: LineageServices, arg?: unknown, entryId?: unknown): Promise<AddToRegistryResult | undefined> {
  const subject = targetFromArgument(arg) ?? (await pickModel(services, 'Lineage: Add to registry'));
  if (!subject) return undefined;
  const params: AddToRegistryParams = { target: subject.target };
  // The id is asked only when the command runs interactively; the server defaults to the repo id or folder name.
  if (typeof entryId === 'string' && ENTRY_ID.test(entryId)) params.id = entryId;
  try {
    const added = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Lineage: fingerprinting ${subject.label} for the registry`, cancellable: true },
      (_progress, token) => services.client.sendRequest(AddToRegistryRequest, params, token),
    );
    services.statusBar.setRegistrySize(added.registrySize);
    const tokenizerOnly = added.kind === 'tokenizer' ? ' (tokenizer only: no weights were found, so it names a tokenizer family, never weight lineage)' : '';
    services.output.appendLine(`registry: ${added.outcome} ${added.id}${tokenizerOnly} in ${added.registryPath} (${added.registrySize} entries)`);
    void vscode.window.showInformationMessage(`Lineage: ${added.outcome} ${added.id} in your registry${tokenizerOnly}; ${added.registrySize} known models.`);
    return added;
  } catch (err) {
    void vscode.window.showErrorMessage(`Lineage: could not add ${subject.label} to the registry: ${errorText(err)}`);
    return undefined;
  }
}
