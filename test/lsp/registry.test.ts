// The registries inside the language server, over the protocol: the shipped reference database
// recognises a renamed copy, resolves an id that is on no disk, feeds the look-alike check and checks a
// card's declared base; lineage/addToRegistry turns an unverified model (LL001) into a verified one.
import * as assert from 'node:assert/strict';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Diagnostic } from 'vscode-languageserver-protocol/node';
import { DidChangeConfigurationNotification } from 'vscode-languageserver-protocol/node';
import {
  AddToRegistryRequest,
  RegistryInfoRequest,
  type AddToRegistryParams,
  type AddToRegistryResult,
  type RegistryInfoResult,
} from '../../server/src/protocol';
import { makeSyntheticLlama } from '../fixtures/syntheticModels';
import { fineTuneDrift } from '../fixtures/transformations';
import { writeModelFolder } from '../fixtures/writeModel';
import { zooPath } from '../support/zoo';
import { buildFixtureWorkspace, serverEnv, UNKNOWN_PINNED, type FixtureWorkspace } from './fixtureWorkspace';
import { fileUri, LspTestClient } from './lspClient';

const LINES = { copy: 1, registryOnly: 2, squat: 3, orphan: 4 } as const;

const REGISTRY_PY = [
  'from transformers import AutoModelForCausalLM',
  'copy = AutoModelForCausalLM.from_pretrained("acme/tiny-gpt2-medical")',
  'known = AutoModelForCausalLM.from_pretrained("karpathy/tinyllamas-stories260K")',
  `squat = AutoModelForCausalLM.from_pretrained("camara-mohamed22/tiny-gpt2-medical", revision="${UNKNOWN_PINNED}")`,
  'orphan = AutoModelForCausalLM.from_pretrained("./models/synthetic-finetune")',
  '',
].join('\n');

/** A card in a model folder whose weights are the medical fine-tune, claiming the stories model as its base. */
const WRONG_CLAIM_CARD = '---\nbase_model: karpathy/tinyllamas-stories260K\n---\n# Notes model\n';

function codesOn(diagnostics: Diagnostic[], line: number): string[] {
  return diagnostics.filter((d) => d.range.start.line === line).map((d) => String(d.code)).sort();
}

function messageOn(diagnostics: Diagnostic[], line: number, code: string): string {
  const found = diagnostics.find((d) => d.range.start.line === line && d.code === code);
  assert.ok(found, `${code} on line ${line}: ${JSON.stringify(diagnostics.filter((d) => d.range.start.line === line))}`);
  return typeof found.message === 'string' ? found.message : found.message.value;
}

async function hoverText(client: LspTestClient, uri: string, line: number, character: number): Promise<string> {
  const hover = await client.hover(uri, line, character);
  const contents = hover?.contents as { value?: string } | undefined;
  return contents?.value ?? '';
}

describe('language server: registries (shipped reference database and the user registry)', function () {
  this.timeout(180_000);
  let fixture: FixtureWorkspace;
  let client: LspTestClient;
  let userRegistry: string;
  let appUri: string;
  let cardUri: string;

  before(async () => {
    fixture = await buildFixtureWorkspace();
    userRegistry = path.join(fixture.root, 'user-registry', 'registry.sqlite');
    const base = makeSyntheticLlama({ hidden: 256, layers: 2, heads: 8, kvHeads: 4, ffn: 512, vocab: 1000, seed: 'lsp-registry-base' });
    await writeModelFolder(base, path.join(fixture.workspace, 'models', 'synthetic-base'), { format: 'safetensors' });
    await writeModelFolder(fineTuneDrift(base, { relativeScale: 0.02, seed: 'lsp-registry-tune' }), path.join(fixture.workspace, 'models', 'synthetic-finetune'), { format: 'safetensors' });
    const claimFolder = path.join(fixture.workspace, 'wrong-claim');
    await mkdir(claimFolder, { recursive: true });
    for (const name of ['model.safetensors', 'config.json', 'vocab.json', 'merges.txt']) await copyFile(zooPath('tiny-gpt2-medical', name), path.join(claimFolder, name));
    await writeFile(path.join(claimFolder, 'README.md'), WRONG_CLAIM_CARD);
    await writeFile(path.join(fixture.workspace, 'registry.py'), REGISTRY_PY);

    client = await LspTestClient.start({ workspaceFolder: fixture.workspace, env: serverEnv(fixture), settings: { registry: { path: userRegistry } } });
    appUri = fileUri(path.join(fixture.workspace, 'registry.py'));
    cardUri = fileUri(path.join(claimFolder, 'README.md'));
    await client.open(appUri, 'python', REGISTRY_PY);
    await client.open(cardUri, 'markdown', WRONG_CLAIM_CARD);
    await client.waitForAnalyzed(appUri, 1, 120_000);
    await client.waitForAnalyzed(cardUri, 1, 120_000);
  });

  after(async () => {
    if (client) assert.equal(await client.stop(), 0);
    if (fixture) await rm(fixture.root, { recursive: true, force: true });
  });

  it('lists the registries it consults: the user registry (not created yet) and the shipped database', async () => {
    const info = await client.connection.sendRequest<RegistryInfoResult>(RegistryInfoRequest.method);
    assert.deepEqual(info.registries.map((r) => [r.role, r.exists]), [['user', false], ['embedded', true]]);
    assert.equal(info.registries[0]!.path, userRegistry);
    assert.ok(info.registries[1]!.entries >= 20, `the shipped database has its entries (${info.registries[1]!.entries})`);
    assert.equal(info.entries, info.registries[1]!.entries);
  });

  it('recognises a renamed re-upload: identical to the registered original', async () => {
    const text = await hoverText(client, appUri, LINES.copy, 50);
    assert.match(text, /\*\*Lineage:\*\* verified: identical to camara-mohamed23\/tiny-gpt2-medical/);
    assert.match(text, /`camara-mohamed23\/tiny-gpt2-medical`: identical \(registry\)/);
    assert.match(text, /\*\*Tokenizer family:\*\* GPT-2/);
    // Identical to a registered model under another name: a re-upload, named as one (LL010), never green.
    assert.deepEqual(codesOn(client.diagnosticsOf(appUri), LINES.copy), ['LL003', 'LL010'], 'no LL001, and the copy is named');
    assert.match(messageOn(client.diagnosticsOf(appUri), LINES.copy, 'LL010'), /byte-identical weights as camara-mohamed23\/tiny-gpt2-medical/);
    // The hover escapes ids (they come from registries and the Hub): `\-` renders as `-`.
    assert.match(text, /^\*\*Re-upload:\*\* the same weights as camara\\-mohamed23\\\/tiny\\-gpt2\\-medical\\, published under another name$/m);
  });

  it('resolves an id that is on no disk through the registry', async () => {
    const message = messageOn(client.diagnosticsOf(appUri), LINES.registryOnly, 'LL009');
    assert.match(message, /karpathy\/tinyllamas-stories260K is not downloaded; the registry holds its fingerprint/);
    const text = await hoverText(client, appUri, LINES.registryOnly, 50);
    assert.match(text, /\*\*Lineage:\*\* in the registry \(a registered fingerprint; no related entry\)/);
    assert.match(text, /\*\*Resolved:\*\* registry only/);
  });

  it('flags an id one edit away from a registered model (LL008 from registry ids)', () => {
    const message = messageOn(client.diagnosticsOf(appUri), LINES.squat, 'LL008');
    assert.match(message, /looks like the well-known camara-mohamed23\/tiny-gpt2-medical/);
  });

  it('checks a card claim against the registry fingerprint of a base that is not on this machine (LL002)', () => {
    const message = messageOn(client.diagnosticsOf(cardUri), 1, 'LL002');
    assert.match(message, /declares base karpathy\/tinyllamas-stories260K .*checked against the registry's fingerprint of karpathy\/tinyllamas-stories260K/);
  });

  it('adds a model to the user registry (lineage/addToRegistry) and re-checks open documents: LL001 becomes a verified match', async () => {
    assert.match(messageOn(client.diagnosticsOf(appUri), LINES.orphan, 'LL001'), /no known fingerprint matches/);
    const analysesBefore = client.analyzed.filter((a) => a.uri === appUri).length;
    const params: AddToRegistryParams = { target: { reference: path.join(fixture.workspace, 'models', 'synthetic-base') }, id: 'acme/synthetic-base' };
    const added = await client.connection.sendRequest<AddToRegistryResult>(AddToRegistryRequest.method, params);
    assert.equal(added.id, 'acme/synthetic-base');
    assert.equal(added.outcome, 'added');
    assert.equal(added.kind, 'weights');
    assert.equal(added.registryPath, userRegistry);
    const info = await client.connection.sendRequest<RegistryInfoResult>(RegistryInfoRequest.method);
    assert.equal(added.registrySize, info.entries);
    assert.deepEqual(info.registries.map((r) => [r.role, r.exists, r.role === 'user' ? r.entries : undefined]), [['user', true, 1], ['embedded', true, undefined]]);

    await client.waitFor('re-analysis after the addition', () => (client.analyzed.filter((a) => a.uri === appUri).length > analysesBefore ? true : undefined), 120_000);
    assert.deepEqual(codesOn(client.diagnosticsOf(appUri), LINES.orphan), [], 'the fine-tune is verified against the new entry');
    const text = await hoverText(client, appUri, LINES.orphan, 50);
    assert.match(text, /verified: derived from acme\/synthetic-base \(p [=<≤] \d(?:\.\d)?e-\d+/);
    assert.match(text, /`acme\/synthetic-base`: derived, p [=<≤] \d(?:\.\d)?e-\d+(?: \(the test's floor\))? \(registry\)/);
  });

  it('reports a corrupt registry by name and keeps analysing', async () => {
    const corrupt = path.join(fixture.root, 'corrupt.sqlite');
    await writeFile(corrupt, 'this is not a database, and it is long enough to have a header....');
    await client.connection.sendNotification(DidChangeConfigurationNotification.type, { settings: { lineage: { registry: { path: corrupt } } } });
    // The notification is handled asynchronously: ask until the server lists the new file.
    let info: RegistryInfoResult | undefined;
    for (let attempt = 0; attempt < 100 && info?.registries[0]?.path !== corrupt; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      info = await client.connection.sendRequest<RegistryInfoResult>(RegistryInfoRequest.method);
    }
    const user = info?.registries.find((r) => r.role === 'user');
    assert.ok(user?.error, JSON.stringify(info));
    assert.match(user.error, /corrupt\.sqlite.*not an SQLite file/);
    const hover = await hoverText(client, appUri, LINES.copy, 50);
    assert.match(hover, /identical to camara-mohamed23\/tiny-gpt2-medical/, 'the shipped database still answers');
  });
});
