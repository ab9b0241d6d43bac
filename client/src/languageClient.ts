// Starts the bundled language server (dist/server.js) over IPC as client `lineage`, on the documents
// the server reads, with `lineage.*` settings and the workspace policy file kept in sync.
import * as vscode from 'vscode';
import type { LanguageClient, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import { SERVER_NODE_FLAGS } from '../../server/src/protocol';
import { CLIENT_ID, CONFIGURATION_SECTION, DOCUMENT_LANGUAGES } from './constants';

/** Plain filters: valid both as a VS Code and as an LSP document selector. */
export const DOCUMENT_SELECTOR: Array<{ scheme: string; language?: string; pattern?: string }> = [
  ...DOCUMENT_LANGUAGES.map((language) => ({ scheme: 'file', language })),
  // Files the server reads by name whatever language VS Code assigned them (Modelfile without our grammar, Containerfile).
  { scheme: 'file', pattern: '**/{Modelfile,Modelfile.*,*.modelfile,Containerfile,Dockerfile.*}' },
];

/**
 * Creates the client. The library is more than half of the extension's bundle: it is required here, on
 * first use after activate() returned, not when the bundle loads (esbuild evaluates a bundled CommonJS
 * package where it is first required), so activation does not pay for it (bench:ext).
 */
export function createLanguageClient(context: vscode.ExtensionContext, output: vscode.LogOutputChannel): LanguageClient {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { LanguageClient: Client, TransportKind } = require('vscode-languageclient/node') as typeof import('vscode-languageclient/node');
  const serverModule = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: [...SERVER_NODE_FLAGS] } },
    debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: [...SERVER_NODE_FLAGS, '--nolazy', '--inspect=6011'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENT_SELECTOR,
    outputChannel: output,
    synchronize: {
      configurationSection: CONFIGURATION_SECTION,
      fileEvents: vscode.workspace.createFileSystemWatcher('**/.lineage.{yaml,yml}'),
    },
    // An empty `lineage.cache.folder` means the CLI's folder (~/.cache/lineage-lens): the editor and
    // `lineage db add` share one registry and one fingerprint cache.
    // Untrusted workspaces get no remote fingerprints (lineage.hub.remoteFingerprint: auto) until trusted.
    // The registry password (secret storage) follows in lineage/registryPassword just after start.
    initializationOptions: { settings: vscode.workspace.getConfiguration(CONFIGURATION_SECTION), workspaceTrusted: vscode.workspace.isTrusted, registryPasswordFromClient: true },
  };
  return new Client(CLIENT_ID, 'Lineage Lens', serverOptions, clientOptions);
}
