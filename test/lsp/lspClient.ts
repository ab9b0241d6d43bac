// A minimal LSP client for protocol tests: starts the built server (dist/server.js) over stdio,
// records published diagnostics and analysis notifications, and wraps the requests tests send.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CodeActionRequest,
  CodeLensRequest,
  createProtocolConnection,
  DidChangeTextDocumentNotification,
  DidOpenTextDocumentNotification,
  ExitNotification,
  HoverRequest,
  InitializedNotification,
  InitializeRequest,
  PublishDiagnosticsNotification,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  type CodeAction,
  type CodeLens,
  type Command,
  type Diagnostic,
  type Hover,
  type ProtocolConnection,
  type PublishDiagnosticsParams,
  type Range,
} from 'vscode-languageserver-protocol/node';
import { DocumentAnalyzedNotification, SERVER_NODE_FLAGS, type DocumentAnalyzedParams } from '../../server/src/protocol';

export const SERVER_PATH = path.resolve(__dirname, '..', '..', 'dist', 'server.js');

export interface StartOptions {
  workspaceFolder: string;
  env?: NodeJS.ProcessEnv;
  /** Sent as initializationOptions.settings. */
  settings?: unknown;
  /** Sent as initializationOptions.workspaceTrusted, as VS Code's client does; absent: not sent. */
  workspaceTrusted?: boolean;
}

export class LspTestClient {
  readonly diagnostics = new Map<string, PublishDiagnosticsParams>();
  readonly analyzed: DocumentAnalyzedParams[] = [];
  readonly progressTokens: string[] = [];
  /** lineage/hubState notifications, oldest first. */
  readonly hubStates: Array<{ state: string; detail: string }> = [];
  readonly stderr: string[] = [];
  /** window/showMessage and window/logMessage texts, in order (what a user or an output channel sees). */
  readonly messages: Array<{ kind: 'show' | 'log'; type: number; message: string }> = [];
  private readonly waiters: Array<() => void> = [];
  /** Called on every publishDiagnostics, in arrival order (the map above keeps only the last per document). */
  readonly publishListeners: Array<(params: PublishDiagnosticsParams) => void> = [];

  private constructor(readonly connection: ProtocolConnection, readonly process: ChildProcessWithoutNullStreams) {}

  static async start(options: StartOptions): Promise<LspTestClient> {
    const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, SERVER_PATH, '--stdio'], { env: { ...process.env, ...options.env }, stdio: 'pipe' });
    const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    const client = new LspTestClient(connection, child);
    child.stderr.on('data', (chunk: Buffer) => client.stderr.push(chunk.toString()));
    connection.onNotification(PublishDiagnosticsNotification.type, (params) => {
      client.diagnostics.set(params.uri, params);
      for (const listener of client.publishListeners) listener(params);
      client.notify();
    });
    connection.onNotification(DocumentAnalyzedNotification.method, (params: DocumentAnalyzedParams) => {
      client.analyzed.push(params);
      client.notify();
    });
    connection.onNotification('lineage/hubState', (params: { state: string; detail: string }) => {
      client.hubStates.push(params);
      client.notify();
    });
    connection.onRequest('window/workDoneProgress/create', (params: { token: string }) => {
      client.progressTokens.push(String(params.token));
      return null;
    });
    connection.onRequest('workspace/configuration', () => [null]);
    connection.onRequest('workspace/codeLens/refresh', () => null);
    connection.onNotification('window/logMessage', (params: { type: number; message: string }) => void client.messages.push({ kind: 'log', ...params }));
    connection.onNotification('window/showMessage', (params: { type: number; message: string }) => void client.messages.push({ kind: 'show', ...params }));
    connection.onNotification('$/progress', () => undefined);
    connection.listen();
    const folderUri = pathToFileURL(options.workspaceFolder).toString();
    await connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: folderUri,
      workspaceFolders: [{ uri: folderUri, name: path.basename(options.workspaceFolder) }],
      capabilities: { window: { workDoneProgress: true }, workspace: { configuration: true, codeLens: { refreshSupport: true } } },
      initializationOptions: options.settings === undefined && options.workspaceTrusted === undefined ? undefined : { settings: options.settings, workspaceTrusted: options.workspaceTrusted },
    });
    await connection.sendNotification(InitializedNotification.type, {});
    return client;
  }

  private notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Resolves when `predicate` holds, re-checked after every notification. */
  async waitFor<T>(what: string, predicate: () => T | undefined, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate();
      if (value !== undefined) return value;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting for ${what}; server stderr: ${this.stderr.join('').slice(-2000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitForAnalyzed(uri: string, version: number, timeoutMs?: number): Promise<DocumentAnalyzedParams> {
    return this.waitFor(`analysis of ${uri} v${version}`, () => this.analyzed.find((a) => a.uri === uri && a.version === version), timeoutMs);
  }

  async open(uri: string, languageId: string, text: string, version = 1): Promise<void> {
    await this.connection.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId, version, text } });
  }

  async replace(uri: string, version: number, text: string): Promise<void> {
    await this.connection.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri, version }, contentChanges: [{ text }] });
  }

  diagnosticsOf(uri: string): Diagnostic[] {
    return this.diagnostics.get(uri)?.diagnostics ?? [];
  }

  hover(uri: string, line: number, character: number): Promise<Hover | null> {
    return this.connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line, character } });
  }

  codeLenses(uri: string): Promise<CodeLens[] | null> {
    return this.connection.sendRequest(CodeLensRequest.type, { textDocument: { uri } });
  }

  codeActions(uri: string, range: Range, diagnostics: Diagnostic[]): Promise<Array<CodeAction | Command> | null> {
    return this.connection.sendRequest(CodeActionRequest.type, { textDocument: { uri }, range, context: { diagnostics } });
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.connection.sendRequest(method, params);
  }

  async stop(): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => this.process.once('exit', (code) => resolve(code)));
    try {
      await this.connection.sendRequest(ShutdownRequest.type);
      await this.connection.sendNotification(ExitNotification.type);
    } catch {
      this.process.kill();
    }
    const code = await Promise.race([exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 5_000))]);
    if (code === null) this.process.kill();
    this.connection.dispose();
    return code;
  }
}

export function fileUri(file: string): string {
  return pathToFileURL(file).toString();
}
