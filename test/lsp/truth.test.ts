// Issue 11 over the real server (dist/server.js, stdio): false cards are contradicted (offline, by
// shape), a renamed copy is named a re-upload, the homoglyph typosquat is flagged with a working
// Replace fix, local GGUFs are references with facts, and not-downloaded models raise no problem.
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { CodeAction, Diagnostic, WorkspaceDiagnosticReport } from 'vscode-languageserver-protocol/node';
import { ListReferencesRequest, ScanRequest, type ListReferencesResult, type ReferenceStatus } from '../../server/src/protocol';
import { textAt } from '../references/helpers';
import { fileUri, LspTestClient, SERVER_PATH } from './lspClient';
import { APP_PY_LINES, buildTruthWorkspaces, TRAIN_PY_LINES, TRUTH_COMMITS, truthServerEnv, type TruthWorkspaces } from './truthWorkspaces';

const LANGUAGES: Record<string, string> = { 'train.py': 'python', 'config.yml': 'yaml', 'README.md': 'markdown', Dockerfile: 'dockerfile', 'app.py': 'python', Modelfile: 'modelfile' };

function messageOf(diagnostic: Diagnostic): string {
  return typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value;
}

function onLine(diagnostics: Diagnostic[], line: number, code?: string): Diagnostic[] {
  return diagnostics.filter((d) => d.range.start.line === line && (code === undefined || d.code === code));
}

/** What VS Code lists in the Problems panel: errors, warnings and information (hints are not listed). */
function problems(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => (d.severity ?? 1) <= 3);
}

describe('issue 11: the editor tells the truth at a glance (dist/server.js)', function () {
  this.timeout(180_000);
  let workspaces: TruthWorkspaces;

  before(async function () {
    if (!existsSync(SERVER_PATH)) throw new Error(`${SERVER_PATH} is missing: run npm run build first`);
    workspaces = await buildTruthWorkspaces();
  });

  after(async () => {
    if (workspaces) await rm(workspaces.root, { recursive: true, force: true });
  });

  describe('a training repository with nothing downloaded', () => {
    let client: LspTestClient;
    const uriOf = (relativePath: string): string => fileUri(path.join(workspaces.training, relativePath));

    before(async () => {
      const emptyCache = path.join(workspaces.root, 'empty-cache');
      await mkdir(emptyCache, { recursive: true });
      client = await LspTestClient.start({ workspaceFolder: workspaces.training, env: truthServerEnv(workspaces, emptyCache), settings: { offline: true, registry: { includeShipped: false } } });
      for (const [relativePath, text] of Object.entries(workspaces.documents.training)) await client.open(uriOf(relativePath), LANGUAGES[relativePath]!, text);
      for (const relativePath of Object.keys(workspaces.documents.training)) await client.waitForAnalyzed(uriOf(relativePath), 1, 60_000);
    });

    after(async () => {
      if (client) assert.equal(await client.stop(), 0);
    });

    it('train.py shows at most one problem per reference, none for "not downloaded"', () => {
      const diagnostics = client.diagnosticsOf(uriOf('train.py'));
      for (const line of Object.values(TRAIN_PY_LINES)) {
        assert.ok(problems(onLine(diagnostics, line)).length <= 1, `line ${line}: ${JSON.stringify(onLine(diagnostics, line))}`);
      }
      assert.deepEqual(problems(diagnostics).filter((d) => d.code === 'LL009'), [], 'LL009 is a hint, not a problem');
      for (const hint of diagnostics.filter((d) => d.code === 'LL009')) {
        assert.equal(hint.severity, 4);
        assert.doesNotMatch(messageOf(hint), /ENOTFOUND|hf-cache|empty-cache|\(\//, 'no cache paths or raw errors in the message');
      }
      assert.ok(problems(diagnostics).length <= Object.keys(TRAIN_PY_LINES).length);
    });

    it('flags the homoglyph typosquat -lnstruct, with a Replace quick fix that writes the real id', async () => {
      const uri = uriOf('train.py');
      const [squat] = onLine(client.diagnosticsOf(uri), TRAIN_PY_LINES.squat, 'LL008');
      assert.ok(squat, JSON.stringify(client.diagnosticsOf(uri)));
      assert.equal(squat.severity, 2);
      assert.equal(textAt(workspaces.documents.training['train.py']!, squat.range), 'meta-llama/Llama-3.1-8B-lnstruct');
      assert.match(messageOf(squat), /looks like the well-known meta-llama\/Llama-3\.1-8B-Instruct \(differs only in look-alike characters\)/);
      assert.deepEqual(onLine(client.diagnosticsOf(uri), TRAIN_PY_LINES.squat, 'LL003'), [], 'a look-alike is not offered a pin');
      const actions = ((await client.codeActions(uri, squat.range, [squat])) ?? []) as CodeAction[];
      const replace = actions.find((a) => a.title === 'Replace with meta-llama/Llama-3.1-8B-Instruct');
      assert.ok(replace, JSON.stringify(actions.map((a) => a.title)));
      assert.deepEqual(replace.diagnostics?.map((d) => d.code), ['LL008']);
      assert.deepEqual(replace.edit?.changes?.[uri], [{ range: squat.range, newText: 'meta-llama/Llama-3.1-8B-Instruct' }]);
      assert.deepEqual(onLine(client.diagnosticsOf(uri), TRAIN_PY_LINES.base, 'LL008'), [], 'the real id is not flagged');
    });

    it('refuses Scan of a model that is not on disk in one plain sentence', async () => {
      await assert.rejects(client.connection.sendRequest(ScanRequest.method, { target: { reference: 'Qwen/Qwen2.5-0.5B-Instruct' } }), (err: Error) => {
        assert.match(err.message, /Qwen\/Qwen2\.5-0\.5B-Instruct is not on this machine: Compare and Scan read a model's files, so download it first/);
        assert.doesNotMatch(err.message, /empty-cache|Hugging Face cache \(/, 'no cache folder list');
        return true;
      });
    });

    it('states "not downloaded" in the standing of each reference', async () => {
      const { references } = await client.connection.sendRequest<ListReferencesResult>(ListReferencesRequest.method, { uris: [uriOf('train.py')], waitForLineage: true });
      const byLine = (line: number): ReferenceStatus => references.find((r) => r.range.start.line === line)!;
      assert.deepEqual(byLine(TRAIN_PY_LINES.draft).standing, { status: 'unverified', summary: 'not downloaded: nothing on this machine to check' });
      assert.equal(byLine(TRAIN_PY_LINES.squat).standing?.status, 'risky');
    });
  });

  describe('workspace diagnostics (LSP 3.17 pull, workspace/diagnostic)', () => {
    let client: LspTestClient;

    before(async () => {
      const emptyCache = path.join(workspaces.root, 'empty-cache-pull');
      await mkdir(emptyCache, { recursive: true });
      client = await LspTestClient.start({ workspaceFolder: workspaces.training, env: truthServerEnv(workspaces, emptyCache), settings: { offline: true, registry: { includeShipped: false } } });
    });

    after(async () => {
      if (client) assert.equal(await client.stop(), 0);
    });

    it('reports findings of files no editor has open, with progress, then "unchanged" for files that did not change', async () => {
      const uriOf = (relativePath: string): string => fileUri(path.join(workspaces.training, relativePath));
      const first = await client.connection.sendRequest<WorkspaceDiagnosticReport>('workspace/diagnostic', { previousResultIds: [] });
      const reportOf = (report: WorkspaceDiagnosticReport, relativePath: string) => report.items.find((i) => i.uri === uriOf(relativePath));
      const train = reportOf(first, 'train.py');
      assert.ok(train && train.kind === 'full', JSON.stringify(first.items.map((i) => i.uri)));
      const squat = train.items.find((d) => d.code === 'LL008');
      assert.equal(squat?.range.start.line, TRAIN_PY_LINES.squat);
      assert.ok(train.items.every((d) => d.code !== 'LL009' || d.severity === 4));
      for (const other of ['config.yml', 'Dockerfile', 'README.md']) assert.equal(reportOf(first, other)?.kind, 'full', other);
      assert.ok(client.progressTokens.length > 0, 'the pull reports progress');

      // The server's start-up (settings, registry listing) may finish during the first pull and make its
      // reports stale (a refresh the client is told about); once settled, an unchanged file stays unchanged.
      const idsOf = (report: WorkspaceDiagnosticReport) => report.items.map((i) => ({ uri: i.uri, value: i.resultId! }));
      const settled = await client.connection.sendRequest<WorkspaceDiagnosticReport>('workspace/diagnostic', { previousResultIds: idsOf(first) });
      const second = await client.connection.sendRequest<WorkspaceDiagnosticReport>('workspace/diagnostic', { previousResultIds: idsOf(settled) });
      assert.deepEqual(second.items.map((i) => i.kind), settled.items.map(() => 'unchanged'));
    });

    it('leaves open documents to the push model (nothing reported twice)', async () => {
      const uri = fileUri(path.join(workspaces.training, 'train.py'));
      await client.open(uri, 'python', workspaces.documents.training['train.py']!);
      await client.waitForAnalyzed(uri, 1, 60_000);
      const report = await client.connection.sendRequest<WorkspaceDiagnosticReport>('workspace/diagnostic', { previousResultIds: [] });
      assert.equal(report.items.some((i) => i.uri === uri), false);
      const pulled = await client.connection.sendRequest<{ kind: string; items: unknown[] }>('textDocument/diagnostic', { textDocument: { uri } });
      assert.deepEqual(pulled, { kind: 'full', items: [] });
      assert.ok(client.diagnosticsOf(uri).some((d) => d.code === 'LL008'), 'pushed as before');
    });
  });

  describe('a repository of local models', () => {
    let client: LspTestClient;
    const uriOf = (relativePath: string): string => fileUri(path.join(workspaces.localModels, relativePath));
    let references: ReferenceStatus[];

    before(async () => {
      client = await LspTestClient.start({ workspaceFolder: workspaces.localModels, env: truthServerEnv(workspaces), settings: { offline: true, registry: { includeShipped: false } } });
      for (const [relativePath, text] of Object.entries(workspaces.documents.localModels)) await client.open(uriOf(relativePath), LANGUAGES[relativePath]!, text);
      for (const relativePath of Object.keys(workspaces.documents.localModels)) await client.waitForAnalyzed(uriOf(relativePath), 1, 120_000);
      references = (await client.connection.sendRequest<ListReferencesResult>(ListReferencesRequest.method, { uris: [uriOf('app.py'), uriOf('Modelfile')], waitForLineage: true })).references;
    });

    after(async () => {
      if (client) assert.equal(await client.stop(), 0);
    });

    const statusOn = (line: number, uri = 'app.py'): ReferenceStatus => references.find((r) => r.uri === fileUri(path.join(workspaces.localModels, uri)) && r.range.start.line === line)!;

    it('contradicts a card whose declared base has another shape, offline (LL002)', () => {
      const [contradicted] = onLine(client.diagnosticsOf(uriOf('app.py')), APP_PY_LINES.medical, 'LL002');
      assert.ok(contradicted, JSON.stringify(client.diagnosticsOf(uriOf('app.py'))));
      assert.equal(contradicted.severity, 2);
      assert.match(messageOf(contradicted), /declares base openai-community\/gpt2 \(card\), but its shape rules out a fine-tune of openai-community\/gpt2: hidden size 2 \(openai-community\/gpt2: 768\), 2 layers \(openai-community\/gpt2: 12\)/);
      assert.match(messageOf(contradicted), /Verified instead: derived from (sshleifer\/tiny-gpt2|bigcorp\/sentinel-1b)/);
      assert.equal(statusOn(APP_PY_LINES.medical).standing?.status, 'contradicted');
    });

    it('names the renamed copy a re-upload (LL010) and refutes its 7B claim; never green', () => {
      const diagnostics = client.diagnosticsOf(uriOf('app.py'));
      const [copy] = onLine(diagnostics, APP_PY_LINES.sentinel, 'LL010');
      assert.ok(copy, JSON.stringify(diagnostics));
      assert.equal(copy.severity, 2);
      assert.match(messageOf(copy), /bigcorp\/sentinel-1b has byte-identical weights as sshleifer\/tiny-gpt2/);
      assert.match(messageOf(onLine(diagnostics, APP_PY_LINES.sentinel, 'LL002')[0]!), /declares base mistralai\/Mistral-7B-v0\.1 .* hidden size 2 \(mistralai\/Mistral-7B-v0\.1: 4096\)/);
      const sentinel = statusOn(APP_PY_LINES.sentinel).standing;
      assert.equal(sentinel?.status, 'contradicted');
      // The original is identical to a model under another name too: which came first is not in the bytes.
      assert.equal(statusOn(APP_PY_LINES.tiny).standing?.status, 're-upload');
      assert.ok(references.every((r) => r.standing?.status !== 'verified' || (r.lineage.matches[0]?.verdict !== 'identical')), 'identical to another name is never verified');
    });

    it('lists the GGUF named by Llama(model_path=...) and by the Modelfile, fingerprinted like a cached model', () => {
      for (const status of [statusOn(APP_PY_LINES.gguf), statusOn(0, 'Modelfile')]) {
        assert.equal(status.resolution.kind, 'workspace', JSON.stringify(status.resolution));
        assert.equal(status.model?.format, 'gguf');
        assert.ok((status.model?.parameterCount ?? 0) > 200_000);
        assert.notEqual(status.lineage.status, 'pending');
        assert.ok(status.standing, 'a standing for the Models view');
      }
      assert.equal(statusOn(APP_PY_LINES.gguf).model?.contentIdentity, statusOn(0, 'Modelfile').model?.contentIdentity, 'one model, one identity');
      assert.deepEqual(client.diagnosticsOf(uriOf('Modelfile')).filter((d) => d.code === 'LL003'), [], 'a file path needs no pin');
    });

    it('offers the cached commit as a pin for the unpinned cached references (LL003)', async () => {
      const uri = uriOf('app.py');
      const [unpinned] = onLine(client.diagnosticsOf(uri), APP_PY_LINES.medical, 'LL003');
      assert.ok(unpinned);
      const actions = ((await client.codeActions(uri, unpinned.range, [unpinned])) ?? []) as CodeAction[];
      const pin = actions.find((a) => a.title.startsWith('Pin revision'));
      assert.ok(pin, JSON.stringify(actions.map((a) => a.title)));
      assert.match(JSON.stringify(pin.edit), new RegExp(TRUTH_COMMITS.medical));
      const pinAll = actions.find((a) => a.title.startsWith('Pin all'));
      assert.equal(pinAll?.title, 'Pin all 3 unpinned references in this file to their known commits');
      const written = (pinAll.edit?.changes?.[uri] ?? []).map((e) => e.newText).sort();
      assert.deepEqual(written, [TRUTH_COMMITS.medical, TRUTH_COMMITS.sentinel, TRUTH_COMMITS.tiny].map((c) => `, revision="${c}"`).sort());
    });

    it('tells the client the Hub is not asked (the status bar\'s offline indicator)', async () => {
      const state = await client.waitFor('a Hub state', () => client.hubStates.at(-1));
      assert.equal(state.state, 'offline');
      assert.match(state.detail, /lineage\.offline is set/);
    });
  });
});
