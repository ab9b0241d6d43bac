// Tells the language server which documents the editor shows and which one has focus, so that it
// analyses them before the backlog of other open documents.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { VisibleDocumentsNotification, type VisibleDocumentsParams } from '../../server/src/protocol';

function visibleDocuments(): VisibleDocumentsParams {
  const uris = [...new Set(vscode.window.visibleTextEditors.map((editor) => editor.document.uri.toString()))];
  const active = vscode.window.activeTextEditor?.document.uri.toString();
  return active === undefined ? { uris } : { uris, activeUri: active };
}

/** Sends the visible documents now and whenever the visible or the active editor changes. */
export function watchVisibleDocuments(client: LanguageClient): vscode.Disposable {
  const send = (): void => void client.sendNotification(VisibleDocumentsNotification, visibleDocuments()).catch(() => undefined);
  send();
  return vscode.Disposable.from(vscode.window.onDidChangeVisibleTextEditors(send), vscode.window.onDidChangeActiveTextEditor(send));
}
