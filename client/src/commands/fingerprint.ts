// `Lineage: Fingerprint Folder…`: runs the bundled CLI (dist/cli.js fingerprint) in a child process so
// a large model never blocks the extension host; progress notification, Cancel kills the process.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { WEIGHT_FILE_EXTENSIONS } from '../constants';
import { errorText, type LineageServices } from '../services';
import { firstWeightFile } from './weightFiles';

export async function fingerprintFolder(services: LineageServices, folderArg?: unknown, outputArg?: unknown): Promise<string | undefined> {
  let folder = folderArg instanceof vscode.Uri ? folderArg : undefined;
  if (!folder) {
    [folder] = (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, title: 'Lineage: Fingerprint folder', openLabel: 'Fingerprint' })) ?? [];
  }
  if (!folder) return undefined;
  if ((await firstWeightFile(folder.fsPath)) === undefined) {
    void vscode.window.showErrorMessage(`Lineage: ${path.basename(folder.fsPath)} holds no weight files (${WEIGHT_FILE_EXTENSIONS.join(', ')}): there is nothing to fingerprint.`);
    return undefined;
  }
  let output = outputArg instanceof vscode.Uri ? outputArg : undefined;
  if (!output) {
    output = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(path.dirname(folder.fsPath), `${path.basename(folder.fsPath)}.fingerprint.json`)),
      filters: { 'Fingerprint JSON': ['json'] },
      saveLabel: 'Save fingerprint',
    });
  }
  if (!output) return undefined;
  const cli = services.context.asAbsolutePath('dist/cli.js');
  const name = path.basename(folder.fsPath);
  const source = folder.fsPath;
  const destination = output.fsPath;
  try {
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Lineage: fingerprinting ${name}`, cancellable: true }, (progress, token) =>
      new Promise<void>((resolve, reject) => {
        // ELECTRON_RUN_AS_NODE makes a desktop VS Code's executable behave as plain Node (as the language client does).
        const child = spawn(process.execPath, [cli, 'fingerprint', source, '-o', destination], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => {
          stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
          const last = stderr.trim().split(/[\r\n]+/).pop();
          if (last) progress.report({ message: last.slice(0, 120) });
        });
        token.onCancellationRequested(() => child.kill());
        child.on('error', reject);
        child.on('close', (code) => {
          if (token.isCancellationRequested) reject(new vscode.CancellationError());
          else if (code === 0) resolve();
          else reject(new Error(stderr.trim().split(/[\r\n]+/).pop() ?? `exit code ${code}`));
        });
      }),
    );
  } catch (err) {
    if (err instanceof vscode.CancellationError) {
      services.output.appendLine(`fingerprint of ${source} cancelled`);
      return undefined;
    }
    void vscode.window.showErrorMessage(`Lineage: fingerprinting ${name} failed: ${errorText(err)}`);
    return undefined;
  }
  services.output.appendLine(`fingerprint of ${source} written to ${destination}`);
  void vscode.window.showInformationMessage(`Lineage: fingerprint of ${name} saved`, 'Open').then((choice) => {
    if (choice) void vscode.window.showTextDocument(vscode.Uri.file(destination));
  });
  return destination;
}
