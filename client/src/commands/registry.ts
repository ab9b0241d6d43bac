// `Lineage: Add to Registry`: asks the server to store a model's fingerprint in the reference database.
// Until the server implements the request (registry in progress) it explains that, instead of failing.
import * as vscode from 'vscode';
import { ErrorCodes, ResponseError } from 'vscode-languageclient/node';
import { AddToRegistryRequestName, type AddToRegistryParams, type AddToRegistryResult } from '../constants';
import { errorText, type LineageServices } from '../services';
import { pickModel, targetFromArgument, targetText } from './targets';

export type AddToRegistryOutcome = { added: AddToRegistryResult } | { unavailable: string } | undefined;

export const REGISTRY_UNAVAILABLE = 'The Lineage Lens registry is not available yet in this version of the language server; fingerprints can be saved with "Lineage: Fingerprint Folder…" meanwhile.';

export async function addToRegistry(services: LineageServices, arg?: unknown): Promise<AddToRegistryOutcome> {
  const subject = targetFromArgument(arg) ?? (await pickModel(services, 'Lineage: Add to registry'));
  if (!subject) return undefined;
  const params: AddToRegistryParams = { target: { reference: 'reference' in subject.target ? subject.target.reference : targetText(subject.target) } };
  try {
    const added = await services.client.sendRequest<AddToRegistryResult>(AddToRegistryRequestName, params);
    void vscode.window.showInformationMessage(`Lineage: added ${subject.label} to the registry as ${added.id}`);
    return { added };
  } catch (err) {
    if (err instanceof ResponseError && err.code === ErrorCodes.MethodNotFound) {
      services.output.appendLine(`add to registry: ${REGISTRY_UNAVAILABLE}`);
      void vscode.window.showInformationMessage(REGISTRY_UNAVAILABLE);
      return { unavailable: REGISTRY_UNAVAILABLE };
    }
    void vscode.window.showErrorMessage(`Lineage: could not add ${subject.label} to the registry: ${errorText(err)}`);
    return undefined;
  }
}
