// Runs inside the real VS Code extension host (code-server): activation, diagnostics from the server,
// the hover provider, and every contributed command executed with arguments that need no dialog.
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Comparison } from '../../../server/src/core/compare/types';
import { RegistryInfoRequest, type AddToRegistryResult, type RegistryInfoResult, type ScanResult, type ShowReferenceArguments } from '../../../server/src/protocol';
import type { CycloneDxBom } from '../../../server/src/protocol';
import type { HubTokenOutcome } from '../../../client/src/commands/hubToken';
import type { RegistryPasswordOutcome } from '../../../client/src/commands/registryPassword';
import type { PinOutcome } from '../../../client/src/commands/pin';
import { Commands, EXTENSION_ID } from '../../../client/src/constants';
import type { LineageApi } from '../../../client/src/extension';

const ZOO = process.env['LINEAGE_ZOO'] ?? path.resolve(__dirname, '..', '..', '..', 'shared', 'zoo');

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function workspaceFile(relative: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'a workspace folder is open');
  return vscode.Uri.joinPath(folder.uri, relative);
}

/** Position inside the first occurrence of `needle` on a line of the document. */
function positionOf(document: vscode.TextDocument, needle: string): vscode.Position {
  const offset = document.getText().indexOf(needle);
  assert.ok(offset >= 0, `${needle} in ${document.uri.fsPath}`);
  return document.positionAt(offset + 2);
}

function hoverText(hovers: vscode.Hover[] | undefined): string {
  return (hovers ?? []).flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
}

describe('Lineage Lens in the VS Code extension host', function () {
  let api: LineageApi;
  let app: vscode.TextDocument;
  const executed = new Set<string>();
  const execute = async <T>(command: string, ...args: unknown[]): Promise<T> => {
    executed.add(command);
    return vscode.commands.executeCommand<T>(command, ...args);
  };

  before(async () => {
    const extension = vscode.extensions.getExtension<LineageApi>(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is installed`);
    api = await extension.activate();
    await api.ready;
    app = await vscode.workspace.openTextDocument(workspaceFile('app.py'));
    await vscode.window.showTextDocument(app);
  });

  it('activates quickly, starts the language server and shows the status bar item', () => {
    assert.ok(api.activationMs < 1_000, `activation took ${api.activationMs} ms`);
    assert.equal(api.client.isRunning(), true);
    assert.match(api.statusText(), /Lineage/);
  });

  it('publishes the server\'s diagnostics for app.py (pinning, default model, look-alike id)', async () => {
    const diagnostics = await until('LL003, LL007 and LL008 on app.py', () => {
      const found = vscode.languages.getDiagnostics(app.uri);
      const codes = new Set(found.map((d) => String(typeof d.code === 'object' ? d.code.value : d.code)));
      return ['LL003', 'LL007', 'LL008'].every((c) => codes.has(c)) ? found : undefined;
    });
    assert.ok(diagnostics.every((d) => d.source === 'lineage'));
    const squat = diagnostics.find((d) => d.code === 'LL008' || (typeof d.code === 'object' && d.code.value === 'LL008'));
    assert.match(squat!.message, /meta-llama/);
  });

  it('answers hovers on a from_pretrained reference with the verified lineage', async () => {
    const position = positionOf(app, 'acme/tiny-gpt2-medical');
    const text = await until('a hover with the verified lineage', async () => {
      const hover = hoverText(await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', app.uri, position));
      return /\*\*Lineage:\*\* verified/.test(hover) ? hover : undefined;
    });
    // The renamed re-upload is recognised by the shipped reference database; its base by the local cache.
    assert.match(text, /\*\*Lineage:\*\* verified: identical to camara-mohamed23\/tiny-gpt2-medical/);
    assert.match(text, /`sshleifer\/tiny-gpt2` @ 111111111111: derived/);
    assert.match(text, /command:lineage\.compareWith/);
  });

  it('runs Compare with… on a zoo pair and shows the derived verdict in the Compare view', async () => {
    const comparison = await execute<Comparison>(Commands.compareWith, { a: { reference: path.join(ZOO, 'tiny-gpt2') }, b: { reference: path.join(ZOO, 'tiny-gpt2-medical') } });
    assert.equal(comparison.verdict, 'derived');
    assert.equal(api.shownComparison()?.verdict, 'derived');
  });

  it('runs Scan Model… on a workspace model folder (Explorer context menu)', async () => {
    // lineage/scan accepts only folders inside the workspace (server rule for document-named paths).
    const result = await execute<ScanResult>(Commands.scanModel, workspaceFile('models/local-gpt2'));
    assert.ok(result.model, 'the model was opened');
    assert.equal(result.model.format, 'safetensors');
  });

  it('runs Fingerprint Folder… and writes a fingerprint JSON', async () => {
    const output = path.join(mkdtempSync(path.join(tmpdir(), 'lineage-itest-')), 'tiny-gpt2.fingerprint.json');
    const written = await execute<string>(Commands.fingerprintFolder, vscode.Uri.file(path.join(ZOO, 'tiny-gpt2')), vscode.Uri.file(output));
    assert.equal(written, output);
    assert.equal((JSON.parse(readFileSync(output, 'utf8')) as { model: { name: string } }).model.name, 'tiny-gpt2');
  });

  it('runs Add to Registry: the model lands in the user registry and the status bar counts it', async () => {
    const before = await api.client.sendRequest<RegistryInfoResult>(RegistryInfoRequest.method);
    const added = await execute<AddToRegistryResult>(Commands.addToRegistry, workspaceFile('models/local-gpt2'), 'acme/local-gpt2');
    assert.ok(added, 'the command returned the registry entry');
    assert.equal(added.id, 'acme/local-gpt2');
    assert.equal(added.kind, 'weights');
    assert.equal(added.registrySize, before.entries + 1);
    assert.ok(existsSync(added.registryPath), 'the user registry file was written');
    await until('the status bar with the new registry size', () => (api.statusText().endsWith(`· ${added.registrySize} known`) && api.statusTooltip().includes(`Registry: ${added.registrySize} known`) ? true : undefined));
  });

  it('runs Set Hugging Face Token…: stored in secret storage, then removed', async () => {
    assert.equal(await execute<HubTokenOutcome>(Commands.setHubToken, 'hf_itest_token'), 'stored');
    assert.equal(await execute<HubTokenOutcome>(Commands.setHubToken, 'not a token'), 'invalid');
    assert.equal(await execute<HubTokenOutcome>(Commands.setHubToken, ''), 'removed');
  });

  it('runs Set Registry Password…: stored in secret storage (never in settings), then removed', async () => {
    assert.equal(await execute<RegistryPasswordOutcome>(Commands.setRegistryPassword, 'itest-password'), 'stored');
    assert.equal(await execute<RegistryPasswordOutcome>(Commands.setRegistryPassword, 'bad\npassword'), 'invalid');
    const inspected = vscode.workspace.getConfiguration('lineage').inspect<string>('registry.url');
    for (const value of [inspected?.globalValue, inspected?.workspaceValue, inspected?.workspaceFolderValue]) assert.ok(!String(value ?? '').includes('itest-password'));
    assert.equal(await execute<RegistryPasswordOutcome>(Commands.setRegistryPassword, ''), 'removed');
  });

  it('runs Export AI Bill of Materials and writes a CycloneDX 1.6 ML-BOM', async () => {
    const output = vscode.Uri.file(path.join(mkdtempSync(path.join(tmpdir(), 'lineage-itest-')), 'ai-bom.cdx.json'));
    const { bom } = await execute<{ bom: CycloneDxBom }>(Commands.exportBom, output);
    assert.ok(existsSync(output.fsPath));
    assert.equal(bom.specVersion, '1.6');
    const medical = bom.components.find((c) => c.group === 'acme' && c.name === 'tiny-gpt2-medical');
    assert.ok(medical, 'the fine-tune is a component');
    assert.equal(medical.type, 'machine-learning-model');
    assert.ok(medical.pedigree?.ancestors?.some((a) => a.group === 'sshleifer' && a.name === 'tiny-gpt2'), 'its verified base is in the pedigree');
  });

  it('runs the navigation and view commands', async () => {
    const reference: ShowReferenceArguments = { uri: app.uri.toString(), range: { start: { line: 2, character: 44 }, end: { line: 2, character: 66 } } };
    const editor = await execute<vscode.TextEditor>(Commands.showReference, reference);
    assert.equal(editor.document.uri.toString(), app.uri.toString());
    assert.equal(editor.selection.start.line, 2);
    await execute(Commands.refreshModels);
    await execute(Commands.showInventory);
    await execute(Commands.showOutput);
  });

  it('toggles offline mode from the Hub indicator\'s command, and back', async () => {
    const section = vscode.workspace.getConfiguration('lineage');
    const before = section.get<boolean>('offline') ?? false;
    assert.equal(await execute<boolean>(Commands.toggleOffline), !before);
    assert.equal(vscode.workspace.getConfiguration('lineage').get<boolean>('offline'), !before);
    assert.equal(await execute<boolean>(Commands.toggleOffline), before);
  });

  it('runs Pin All Revisions with the server\'s quick fixes, then the edits are reverted', async () => {
    const outcome = await execute<PinOutcome>(Commands.pinAllRevisions);
    assert.ok(outcome.pinned >= 1, `pinned ${JSON.stringify(outcome)}`);
    assert.match(app.getText(), /from_pretrained\("acme\/tiny-gpt2-medical", revision="2222222222222222222222222222222222222222"\)/);
    for (const document of vscode.workspace.textDocuments.filter((d) => d.isDirty)) {
      await vscode.window.showTextDocument(document);
      await vscode.commands.executeCommand('workbench.action.files.revert');
    }
  });

  it('has run every contributed command', () => {
    const contributed = (vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { contributes: { commands: Array<{ command: string }> } }).contributes.commands.map((c) => c.command);
    assert.deepEqual(contributed.filter((c) => !executed.has(c)), []);
  });
});
