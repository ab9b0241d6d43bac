// Hosts the Compare view: one webview panel, reused for each comparison, rendered by compareHtml.ts
// under a strict CSP; export requests from the page go through messages.ts.
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Comparison } from '../../../server/src/protocol';
import { COMPARE_VIEW_TYPE } from '../constants';
import { compareWebviewHtml, makeNonce, reportTitle } from './compareHtml';
import { handleCompareViewMessage, type ReportFile } from './messages';

/** Where the Compare view opens: the group the user is working in. */
export const COMPARE_VIEW_COLUMN = vscode.ViewColumn.Active;

export class ComparePanelHost implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private comparison: Comparison | undefined;
  private css: Promise<string> | undefined;

  constructor(private readonly extensionUri: vscode.Uri) {}

  get current(): Comparison | undefined {
    return this.panel ? this.comparison : undefined;
  }

  private mediaUri(name: string): vscode.Uri {
    return vscode.Uri.joinPath(this.extensionUri, 'media', name);
  }

  /** The stylesheet text, inlined into exported HTML reports. */
  private stylesheet(): Promise<string> {
    this.css ??= Promise.resolve(vscode.workspace.fs.readFile(this.mediaUri('compare.css'))).then((bytes) => Buffer.from(bytes).toString('utf8'));
    return this.css;
  }

  show(comparison: Comparison): vscode.WebviewPanel {
    this.comparison = comparison;
    if (!this.panel) {
      // The active editor group: a side column is too narrow for the tables (issue 11).
      this.panel = vscode.window.createWebviewPanel(COMPARE_VIEW_TYPE, 'Lineage: Compare', { viewColumn: COMPARE_VIEW_COLUMN, preserveFocus: false }, {
        enableScripts: true,
        localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'media')],
      });
      this.panel.onDidDispose(() => (this.panel = undefined));
      this.panel.webview.onDidReceiveMessage((message: unknown) => {
        const shown = this.comparison;
        if (!shown || !this.panel) return;
        const panel = this.panel;
        void this.stylesheet().then((css) =>
          handleCompareViewMessage(message, shown, css, { saveReport: (file) => saveReport(file), post: (reply) => void panel.webview.postMessage(reply) }),
        );
      });
    }
    const webview = this.panel.webview;
    this.panel.title = `Lineage: ${reportTitle(comparison)}`;
    webview.html = compareWebviewHtml(comparison, {
      cspSource: webview.cspSource,
      nonce: makeNonce((size) => randomBytes(size)),
      scriptUri: webview.asWebviewUri(this.mediaUri('compare.js')).toString(),
      styleUri: webview.asWebviewUri(this.mediaUri('compare.css')).toString(),
    });
    this.panel.reveal(COMPARE_VIEW_COLUMN, false);
    return this.panel;
  }

  dispose(): void {
    this.panel?.dispose();
  }
}

async function saveReport(file: ReportFile): Promise<string | undefined> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const target = await vscode.window.showSaveDialog({
    defaultUri: folder ? vscode.Uri.joinPath(folder, file.suggestedName) : vscode.Uri.file(path.join(homedir(), file.suggestedName)),
    filters: { [file.filterName]: [file.extension] },
    saveLabel: 'Export report',
  });
  if (!target) return undefined;
  await vscode.workspace.fs.writeFile(target, Buffer.from(file.content, 'utf8'));
  return target.fsPath;
}
