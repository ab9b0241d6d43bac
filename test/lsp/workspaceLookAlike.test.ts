// LL008 across files over the real server (dist/server.js, stdio): an id imitating a reference of another
// file of the workspace is flagged with the file named and a Replace fix, whether that file is open or
// only on disk; the warning goes when the partner file is changed or deleted; real siblings stay quiet.
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { DidChangeWatchedFilesNotification, FileChangeType, type CodeAction, type Diagnostic } from 'vscode-languageserver-protocol/node';
import { textAt } from '../references/helpers';
import { fileUri, LspTestClient, SERVER_PATH } from './lspClient';

const SQUAT = 'acme-labs/sentinel-1b-lnstruct';
const REAL = 'acme-labs/sentinel-1b-Instruct';

const A_PY = [
  'from transformers import AutoModelForCausalLM',
  `judge = AutoModelForCausalLM.from_pretrained("${SQUAT}")`,
  'known = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-3.1-8B-lnstruct")',
  'big = AutoModelForCausalLM.from_pretrained("acme-labs/Llama-3.1-70B")',
  'xl = AutoModelForCausalLM.from_pretrained("acme-labs/gpt2-xl")',
  '',
].join('\n');
const CONFIG_YML = `base_model: ${REAL}\nbase_model_config: meta-llama/Llama-3.1-8B-Instruct\n`;
const SIBLINGS_PY = 'from transformers import AutoModel\nsmall = AutoModel.from_pretrained("acme-labs/Llama-3.1-8B")\ngpt = AutoModel.from_pretrained("acme-labs/gpt2")\n';

function messageOf(diagnostic: Diagnostic | undefined): string {
  if (!diagnostic) return '';
  return typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value;
}

function lookAlikes(diagnostics: Diagnostic[], line?: number): Diagnostic[] {
  return diagnostics.filter((d) => d.code === 'LL008' && (line === undefined || d.range.start.line === line));
}

describe('look-alike ids across the files of the workspace (dist/server.js)', function () {
  this.timeout(120_000);
  let root: string;
  let workspace: string;
  let client: LspTestClient;
  const uriOf = (name: string): string => fileUri(path.join(workspace, name));

  before(async () => {
    if (!existsSync(SERVER_PATH)) throw new Error(`${SERVER_PATH} is missing: run npm run build first`);
    root = await mkdtemp(path.join(os.tmpdir(), 'lineage-lookalike-'));
    workspace = path.join(root, 'ws');
    await mkdir(path.join(workspace, 'configs'), { recursive: true });
    await mkdir(path.join(root, 'cache'), { recursive: true });
    await writeFile(path.join(workspace, 'a.py'), A_PY);
    await writeFile(path.join(workspace, 'configs', 'config.yml'), CONFIG_YML);
    await writeFile(path.join(workspace, 'siblings.py'), SIBLINGS_PY);
    const env = { HF_HUB_CACHE: path.join(root, 'cache'), HF_HOME: path.join(root, 'hf-home'), XDG_CACHE_HOME: path.join(root, 'xdg'), HOME: root, HF_HUB_OFFLINE: '1' };
    client = await LspTestClient.start({ workspaceFolder: workspace, env, settings: { offline: true, registry: { includeShipped: false } } });
    await client.open(uriOf('a.py'), 'python', A_PY);
    await client.waitForAnalyzed(uriOf('a.py'), 1, 60_000);
  });

  after(async () => {
    if (client) assert.equal(await client.stop(), 0);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('flags an id imitating a reference of a file that is not open, naming the file, with a Replace fix', async () => {
    const uri = uriOf('a.py');
    const [squat] = lookAlikes(client.diagnosticsOf(uri), 1);
    assert.ok(squat, JSON.stringify(client.diagnosticsOf(uri)));
    assert.equal(textAt(A_PY, squat.range), SQUAT);
    assert.equal(messageOf(squat), `${SQUAT} looks like ${REAL}, referenced in configs/config.yml (differs only in look-alike characters); make sure this is the repository you mean`);
    const actions = ((await client.codeActions(uri, squat.range, [squat])) ?? []) as CodeAction[];
    const replace = actions.find((a) => a.title === `Replace with ${REAL}`);
    assert.ok(replace, JSON.stringify(actions.map((a) => a.title)));
    assert.deepEqual(replace.edit?.changes?.[uri], [{ range: squat.range, newText: REAL }]);
    // A well-known id referenced in another file: the message says where the reader saw it.
    const [known] = lookAlikes(client.diagnosticsOf(uri), 2);
    assert.match(messageOf(known), /looks like the well-known meta-llama\/Llama-3\.1-8B-Instruct, referenced in configs\/config\.yml/);
  });

  it('leaves other sizes and suffixes of ids referenced elsewhere alone', () => {
    assert.deepEqual(lookAlikes(client.diagnosticsOf(uriOf('a.py')), 3), [], 'Llama-3.1-70B beside Llama-3.1-8B');
    assert.deepEqual(lookAlikes(client.diagnosticsOf(uriOf('a.py')), 4), [], 'gpt2-xl beside gpt2');
  });

  it('does not flag the real id in the partner file when it is opened', async () => {
    const uri = uriOf('configs/config.yml');
    await client.open(uri, 'yaml', CONFIG_YML);
    await client.waitForAnalyzed(uri, 1, 60_000);
    assert.deepEqual(lookAlikes(client.diagnosticsOf(uri)), []);
  });

  it('drops the warning when the partner stops referencing the id, and brings it back when it does again', async () => {
    const uri = uriOf('configs/config.yml');
    await client.replace(uri, 2, 'base_model: acme-labs/another-model\n');
    await client.waitFor('LL008 gone from a.py', () => (lookAlikes(client.diagnosticsOf(uriOf('a.py')), 1).length === 0 ? true : undefined));
    await client.replace(uri, 3, CONFIG_YML);
    await client.waitFor('LL008 back on a.py', () => (lookAlikes(client.diagnosticsOf(uriOf('a.py')), 1).length === 1 ? true : undefined));
  });

  it('follows the disk once the partner is closed: deleted, the warning goes; created again, it comes back', async () => {
    const uri = uriOf('configs/config.yml');
    await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
    await unlink(path.join(workspace, 'configs', 'config.yml'));
    await client.connection.sendNotification(DidChangeWatchedFilesNotification.type, { changes: [{ uri, type: FileChangeType.Deleted }] });
    await client.waitFor('LL008 gone after the delete', () => (lookAlikes(client.diagnosticsOf(uriOf('a.py')), 1).length === 0 ? true : undefined));
    await writeFile(path.join(workspace, 'configs', 'config.yml'), CONFIG_YML);
    await client.connection.sendNotification(DidChangeWatchedFilesNotification.type, { changes: [{ uri, type: FileChangeType.Created }] });
    await client.waitFor('LL008 back after the create', () => (lookAlikes(client.diagnosticsOf(uriOf('a.py')), 1).length === 1 ? true : undefined));
  });

  it('reports the look-alike in workspace diagnostics of a closed file too', async () => {
    await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri: uriOf('a.py') } });
    const report = await client.request<{ items: Array<{ uri: string; kind: string; items?: Diagnostic[] }> }>('workspace/diagnostic', { previousResultIds: [] });
    const a = report.items.find((i) => i.uri === uriOf('a.py'));
    assert.ok(a?.items, JSON.stringify(report.items.map((i) => i.uri)));
    assert.equal(messageOf(lookAlikes(a.items, 1)[0]).includes('referenced in configs/config.yml'), true, JSON.stringify(a.items));
    assert.deepEqual(lookAlikes(report.items.find((i) => i.uri === uriOf('configs/config.yml'))?.items ?? []), []);
  });
});
