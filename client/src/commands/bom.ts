// `Lineage: Export AI Bill of Materials`: waits for every reference's lineage,
// has the server build the CycloneDX 1.6 ML-BOM (lineage/exportBom) and writes it where the user chooses.
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import { ExportBomRequest, type CycloneDxBom, type ExportBomParams } from '../../../server/src/protocol';
import { errorText, type LineageServices } from '../services';

export async function exportBom(services: LineageServices, outputArg?: unknown): Promise<{ location: string; bom: CycloneDxBom } | undefined> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  let output = outputArg instanceof vscode.Uri ? outputArg : undefined;
  if (!output) {
    output = await vscode.window.showSaveDialog({
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder.uri, 'ai-bom.cdx.json') } : {}),
      filters: { 'CycloneDX JSON': ['json'] },
      saveLabel: 'Export AI-BOM',
    });
  }
  if (!output) return undefined;
  const destination = output;
  try {
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Lineage: checking every model reference', cancellable: true }, (_progress, token) => {
      const params: ExportBomParams = {
        workspaceName: vscode.workspace.name ?? folder?.name ?? 'workspace',
        ...(folder ? { workspaceRoot: folder.uri.fsPath } : {}),
        toolVersion: String(services.context.extension.packageJSON.version ?? '0.0.0'),
        timestamp: new Date().toISOString(),
        serialUuid: randomUUID(),
      };
      return services.client.sendRequest(ExportBomRequest, params, token);
    });
    const bom = result.bom;
    await vscode.workspace.fs.writeFile(destination, Buffer.from(`${JSON.stringify(bom, null, 2)}\n`, 'utf8'));
    services.output.appendLine(`AI-BOM with ${bom.components.length} model component(s) written to ${destination.fsPath}${result.truncated ? ' (workspace walk truncated)' : ''}`);
    void vscode.window.showInformationMessage(`Lineage: AI-BOM with ${bom.components.length} model(s) written`, 'Open').then((choice) => {
      if (choice) void vscode.window.showTextDocument(destination);
    });
    return { location: destination.fsPath, bom };
  } catch (err) {
    void vscode.window.showErrorMessage(`Lineage: AI-BOM export failed: ${errorText(err)}`);
    return undefined;
  }
}
