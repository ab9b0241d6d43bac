// Protocol tests of the built language server (dist/server.js over stdio) on a fixture workspace whose
// Hugging Face cache holds zoo models: diagnostics, hovers, code lenses, quick-fix edits, custom requests.
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { CodeAction, Diagnostic, Range, TextEdit } from 'vscode-languageserver-protocol/node';
import type { Comparison } from '../../server/src/core/compare/types';
import {
  CompareRequest,
  ListCachedModelsRequest,
  ListReferencesRequest,
  ScanRequest,
  type ListCachedModelsResult,
  type ListReferencesResult,
  type ScanResult,
} from '../../server/src/protocol';
import { textAt } from '../references/helpers';
import { buildFixtureWorkspace, COMMITS, PY_LINES, serverEnv, type FixtureWorkspace } from './fixtureWorkspace';
import { fileUri, LspTestClient, SERVER_PATH } from './lspClient';

const DOCUMENT_LANGUAGES: Record<string, string> = {
  'app.py': 'python',
  'train.yml': 'yaml',
  'web/index.ts': 'typescript',
  Dockerfile: 'dockerfile',
  'serve.sh': 'shellscript',
  Modelfile: 'plaintext',
  'model-config/config.json': 'json',
  'my-model/README.md': 'markdown',
  'undeclared-bare/README.md': 'markdown',
  'undeclared-front-matter/README.md': 'markdown',
};

/** Applies non-overlapping edits to a text (last first, so earlier offsets stay valid). */
function applyEdits(text: string, edits: TextEdit[]): string {
  const lineStarts = [0];
  for (const match of text.matchAll(/\n/g)) lineStarts.push(match.index + 1);
  const offset = (p: Range['start']): number => lineStarts[p.line]! + p.character;
  return [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start)).reduce((t, e) => t.slice(0, offset(e.range.start)) + e.newText + t.slice(offset(e.range.end)), text);
}

/** LSP 3.18 allows markup in diagnostic messages; this server sends plain strings. */
function messageOf(diagnostic: Diagnostic): string {
  return typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value;
}

function line(text: string, index: number): string {
  return text.split('\n')[index]!;
}

function codesOnLine(diagnostics: Diagnostic[], lineIndex: number): string[] {
  return diagnostics.filter((d) => d.range.start.line === lineIndex).map((d) => String(d.code)).sort();
}

function only(diagnostics: Diagnostic[], lineIndex: number, code: string): Diagnostic {
  const found = diagnostics.filter((d) => d.range.start.line === lineIndex && d.code === code);
  assert.equal(found.length, 1, `one ${code} on line ${lineIndex}: ${JSON.stringify(diagnostics.filter((d) => d.range.start.line === lineIndex))}`);
  return found[0]!;
}

function editsOf(action: CodeAction, uri: string): TextEdit[] {
  return action.edit?.changes?.[uri] ?? [];
}

describe('language server over stdio (dist/server.js)', function () {
  this.timeout(120_000);
  let fixture: FixtureWorkspace;
  let client: LspTestClient;
  const uriOf = (relativePath: string): string => fileUri(path.join(fixture.workspace, relativePath));
  const textOf = (relativePath: string): string => fixture.documents[relativePath]!;

  before(async function () {
    if (!existsSync(SERVER_PATH)) throw new Error(`${SERVER_PATH} is missing: run npm run build first`);
    fixture = await buildFixtureWorkspace();
    // The shipped reference database is left out here (test/lsp/registry.test.ts covers it): these
    // tests check the local-cache and declared-base evidence on their own.
    client = await LspTestClient.start({ workspaceFolder: fixture.workspace, env: serverEnv(fixture), settings: { registry: { includeShipped: false } } });
    for (const [relativePath, languageId] of Object.entries(DOCUMENT_LANGUAGES)) await client.open(uriOf(relativePath), languageId, textOf(relativePath));
    for (const relativePath of Object.keys(DOCUMENT_LANGUAGES)) await client.waitForAnalyzed(uriOf(relativePath), 1, 90_000);
  });

  after(async () => {
    if (client) assert.equal(await client.stop(), 0, 'the server exits with 0 after shutdown/exit');
    if (fixture) await rm(fixture.root, { recursive: true, force: true });
  });

  it('publishes each Python diagnostic with its code, exact range and severity', () => {
    const text = textOf('app.py');
    const diagnostics = client.diagnosticsOf(uriOf('app.py'));
    // acme/pickle-gpt2 holds the same tensors in a pickle: one of the two names is a re-upload of the other.
    assert.deepEqual(codesOnLine(diagnostics, PY_LINES.base), ['LL010'], 'a pinned clean model is flagged only as the copy of another name');
    const copy = only(diagnostics, PY_LINES.base, 'LL010');
    assert.equal(copy.severity, 2);
    assert.match(messageOf(copy), /the same weights in another file format as acme\/pickle-gpt2/);
    const unpinned = only(diagnostics, PY_LINES.medical, 'LL003');
    assert.equal(textAt(text, unpinned.range), 'acme/tiny-gpt2-medical');
    assert.equal(unpinned.severity, 2);
    assert.match(messageOf(unpinned), /cached snapshot is at 222222222222/);

    const branch = only(diagnostics, PY_LINES.stories, 'LL003');
    assert.equal(textAt(text, branch.range), 'main', 'a branch revision is flagged on the revision itself');
    const contradicted = only(diagnostics, PY_LINES.stories, 'LL002');
    assert.equal(textAt(text, contradicted.range), 'acme/stories-gguf');
    assert.match(messageOf(contradicted), /declares base sshleifer\/tiny-gpt2 .* unrelated/);

    const pickle = only(diagnostics, PY_LINES.pickle, 'LL005');
    assert.equal(pickle.severity, 2);
    assert.match(messageOf(pickle), /pickle weights only \(pytorch_model\.bin\)/);
    const evil = only(diagnostics, PY_LINES.evil, 'LL005');
    assert.equal(evil.severity, 1, 'dangerous pickle globals are errors');
    assert.match(messageOf(evil), /posix\.system/);

    const integrity = only(diagnostics, PY_LINES.tampered, 'LL006');
    assert.equal(integrity.severity, 1);
    assert.match(messageOf(integrity), /model\.safetensors does not match its content hash/);

    const remote = only(diagnostics, PY_LINES.remote, 'LL004');
    assert.equal(textAt(text, remote.range), 'trust_remote_code=True');
    assert.equal(remote.severity, 1, 'remote code on an unpinned reference is an error');

    const implicit = only(diagnostics, PY_LINES.implicit, 'LL007');
    assert.equal(textAt(text, implicit.range), 'sentiment-analysis');
    assert.deepEqual(codesOnLine(diagnostics, PY_LINES.squat), ['LL008', 'LL009']);
    assert.match(messageOf(only(diagnostics, PY_LINES.squat, 'LL008')), /looks like the well-known meta-llama\/Llama-3\.1-8B/);
    const missing = only(diagnostics, PY_LINES.missing, 'LL009');
    assert.equal(missing.severity, 4, 'not downloaded is a hint');
    assert.equal(messageOf(missing), 'nobody/not-downloaded is not downloaded.', 'no cache folders in the message');
    assert.deepEqual(codesOnLine(diagnostics, PY_LINES.local), [], 'a workspace folder needs no pin and is verified');
    assert.ok(diagnostics.every((d) => d.source === 'lineage'));
  });

  it('reports unverified lineage (LL001) for a model no known fingerprint matches', () => {
    const diagnostic = only(client.diagnosticsOf(uriOf('app.py')), PY_LINES.evil, 'LL001');
    assert.equal(diagnostic.severity, 3);
    assert.match(messageOf(diagnostic), /lineage of acme\/evil-pickle is unverified/);
  });

  it('hovers with verdict, p-value, declared vs verified lineage, commit, files and a Compare link', async () => {
    const hover = await client.hover(uriOf('app.py'), PY_LINES.medical, 50);
    assert.ok(hover && typeof hover.contents === 'object' && 'value' in hover.contents);
    const markdown = hover.contents.value;
    assert.match(markdown, /\*\*Lineage:\*\* verified: derived from sshleifer\/tiny-gpt2 \(p [=<≤] \d(?:\.\d)?e-\d+/);
    assert.match(markdown, /declares `sshleifer\/tiny-gpt2` \(card\): \*\*confirmed\*\*/);
    assert.ok(markdown.includes(COMMITS.medical), 'shows the resolved commit');
    assert.match(markdown, /\*\*Format:\*\* safetensors · 102,714 parameters · gpt2/);
    assert.match(markdown, /`model\.safetensors` \(403\.6 KiB\)/);
    assert.match(markdown, /\[Compare with…\]\(command:lineage\.compareWith\?/);
    const link = /command:lineage\.compareWith\?([^)]+)\)/.exec(markdown)![1]!;
    const [args] = JSON.parse(decodeURIComponent(link)) as [{ target: string; suggestedOther?: string }];
    assert.equal(args.target, 'acme/tiny-gpt2-medical');
    assert.equal(args.suggestedOther, 'sshleifer/tiny-gpt2');

    const evil = await client.hover(uriOf('app.py'), PY_LINES.evil, 50);
    assert.ok(evil && typeof evil.contents === 'object' && 'value' in evil.contents);
    assert.match(evil.contents.value, /critical: `pytorch_model\.bin`: .*posix\.system/);
  });

  it('puts a lineage lens and a Compare lens above each resolved reference', async () => {
    const lenses = (await client.codeLenses(uriOf('app.py'))) ?? [];
    const titlesOn = (lineIndex: number): string[] => lenses.filter((l) => l.range.start.line === lineIndex).map((l) => l.command?.title ?? '');
    const medical = titlesOn(PY_LINES.medical);
    assert.match(medical[0]!, /^\$\(pass-filled\) verified: derived from sshleifer\/tiny-gpt2 \(p [=<≤] \d(?:\.\d)?e-\d+\), as declared$/);
    assert.equal(medical[1], 'Compare with…');
    assert.deepEqual(titlesOn(PY_LINES.evil), ['$(warning) risky: pickle weights that import dangerous functions', 'Compare with…']);
    assert.match(titlesOn(PY_LINES.stories)[0]!, /^\$\(error\) contradicted: declares sshleifer\/tiny-gpt2 as its base, but the weights say unrelated$/);
    assert.deepEqual(titlesOn(PY_LINES.missing), ['$(question) unverified: not downloaded: nothing on this machine to check']);
    const compare = lenses.find((l) => l.range.start.line === PY_LINES.medical && l.command?.command === 'lineage.compareWith');
    assert.ok(compare, 'the Compare lens runs lineage.compareWith');
  });

  it('quick-fixes an unpinned reference by inserting the cached commit', async () => {
    const uri = uriOf('app.py');
    const diagnostic = only(client.diagnosticsOf(uri), PY_LINES.medical, 'LL003');
    const actions = ((await client.codeActions(uri, diagnostic.range, [diagnostic])) ?? []) as CodeAction[];
    const pin = actions.find((a) => a.title.startsWith('Pin revision'));
    assert.ok(pin, JSON.stringify(actions));
    assert.deepEqual(pin.diagnostics?.map((d) => d.code), ['LL003']);
    const fixed = applyEdits(textOf('app.py'), editsOf(pin, uri));
    assert.equal(line(fixed, PY_LINES.medical), `med = AutoModelForCausalLM.from_pretrained("acme/tiny-gpt2-medical", revision="${COMMITS.medical}")`);
  });

  it('quick-fixes a branch revision by replacing it with the full sha', async () => {
    const uri = uriOf('app.py');
    const diagnostic = only(client.diagnosticsOf(uri), PY_LINES.stories, 'LL003');
    const actions = ((await client.codeActions(uri, diagnostic.range, [diagnostic])) ?? []) as CodeAction[];
    const fixed = applyEdits(textOf('app.py'), editsOf(actions.find((a) => a.title.startsWith('Pin revision'))!, uri));
    assert.equal(line(fixed, PY_LINES.stories), `story = AutoModelForCausalLM.from_pretrained("acme/stories-gguf", revision="${COMMITS.stories}")`);
  });

  it('offers use_safetensors=True for pickle-only weights', async () => {
    const uri = uriOf('app.py');
    const diagnostic = only(client.diagnosticsOf(uri), PY_LINES.pickle, 'LL005');
    const actions = ((await client.codeActions(uri, diagnostic.range, [diagnostic])) ?? []) as CodeAction[];
    const safetensors = actions.find((a) => a.title.startsWith('Add use_safetensors=True'));
    assert.ok(safetensors, JSON.stringify(actions.map((a) => a.title)));
    const fixed = applyEdits(textOf('app.py'), editsOf(safetensors, uri));
    assert.equal(line(fixed, PY_LINES.pickle), `pick = AutoModelForCausalLM.from_pretrained("acme/pickle-gpt2", revision="${COMMITS.pickle}", use_safetensors=True)`);
  });

  it('pins references in TypeScript and shell documents in their own syntax', async () => {
    const tsUri = uriOf('web/index.ts');
    const tsDiagnostic = client.diagnosticsOf(tsUri).find((d) => d.code === 'LL003')!;
    const tsActions = ((await client.codeActions(tsUri, tsDiagnostic.range, [tsDiagnostic])) ?? []) as CodeAction[];
    const tsFixed = applyEdits(textOf('web/index.ts'), editsOf(tsActions[0]!, tsUri));
    assert.equal(line(tsFixed, 1), `const generate = await pipeline('text-generation', 'acme/tiny-gpt2-medical', { revision: '${COMMITS.medical}' });`);

    const shUri = uriOf('serve.sh');
    const shDiagnostic = client.diagnosticsOf(shUri).find((d) => d.code === 'LL003')!;
    assert.equal(textAt(textOf('serve.sh'), shDiagnostic.range), 'main');
    const shActions = ((await client.codeActions(shUri, shDiagnostic.range, [shDiagnostic])) ?? []) as CodeAction[];
    assert.equal(line(applyEdits(textOf('serve.sh'), editsOf(shActions[0]!, shUri)), 0), `vllm serve acme/tiny-gpt2-medical --revision ${COMMITS.medical}`);
  });

  it('corrects a card base_model that the weights contradict to the verified match', async () => {
    const uri = uriOf('my-model/README.md');
    const text = textOf('my-model/README.md');
    const diagnostic = only(client.diagnosticsOf(uri), 2, 'LL002');
    assert.equal(textAt(text, diagnostic.range), 'acme/stories-gguf');
    assert.match(messageOf(diagnostic), /Verified instead: identical to acme\/tiny-gpt2-medical/);
    const actions = ((await client.codeActions(uri, diagnostic.range, [diagnostic])) ?? []) as CodeAction[];
    const fix = actions.find((a) => a.title.startsWith('Set base_model'));
    assert.ok(fix, JSON.stringify(actions.map((a) => a.title)));
    assert.equal(line(applyEdits(text, editsOf(fix, uri)), 2), 'base_model: acme/tiny-gpt2-medical');
    assert.deepEqual(client.diagnosticsOf(uri).filter((d) => d.code === 'LL003'), [], 'a link in prose is not asked to be pinned');
  });

  it('adds the verified base_model to a card that names none: a new front matter block, or keys in the existing one', async () => {
    const bareUri = uriOf('undeclared-bare/README.md');
    const bare = textOf('undeclared-bare/README.md');
    const lineZero = { start: { line: 0, character: 2 }, end: { line: 0, character: 2 } };
    const bareActions = ((await client.codeActions(bareUri, lineZero, [])) ?? []) as CodeAction[];
    const titles = bareActions.map((a) => a.title);
    const addBare = bareActions.find((a) => a.title === 'Add base_model: sshleifer/tiny-gpt2 (verified by fingerprint)');
    assert.ok(addBare, JSON.stringify(titles));
    assert.equal(applyEdits(bare, editsOf(addBare, bareUri)), `---\nbase_model: sshleifer/tiny-gpt2\nbase_model_relation: finetune\n---\n${bare}`);
    assert.ok(!titles.some((t) => t.includes('acme/tiny-gpt2-medical')), 'a cached copy of the same weights is not a base');
    assert.ok(!titles.some((t) => t.includes('acme/tampered-gpt2')), 'a cache entry that fails its integrity check is not evidence');
    assert.deepEqual(client.diagnosticsOf(bareUri), [], 'no diagnostic code means "verified but undeclared"; the action stands alone');

    const withFrontMatterUri = uriOf('undeclared-front-matter/README.md');
    const withFrontMatter = textOf('undeclared-front-matter/README.md');
    const inFrontMatter = ((await client.codeActions(withFrontMatterUri, { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, [])) ?? []) as CodeAction[];
    const addInBlock = inFrontMatter.find((a) => a.title === 'Add base_model: sshleifer/tiny-gpt2 (verified by fingerprint)');
    assert.ok(addInBlock, JSON.stringify(inFrontMatter.map((a) => a.title)));
    assert.equal(applyEdits(withFrontMatter, editsOf(addInBlock, withFrontMatterUri)), '---\nlicense: mit\ntags: [medical]\nbase_model: sshleifer/tiny-gpt2\nbase_model_relation: finetune\n---\n# Notes model\n');

    const inBody = ((await client.codeActions(withFrontMatterUri, { start: { line: 4, character: 0 }, end: { line: 4, character: 0 } }, [])) ?? []) as CodeAction[];
    assert.ok(!inBody.some((a) => a.title.startsWith('Add base_model')), 'offered on the front matter only');
    const declaring = ((await client.codeActions(uriOf('my-model/README.md'), { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, [])) ?? []) as CodeAction[];
    assert.ok(!declaring.some((a) => a.title.startsWith('Add base_model')), 'a card that names a base is corrected through LL002 instead');
  });

  it('pins pipeline("task") to the default model transformers documents for the task (LL007)', async () => {
    const uri = uriOf('app.py');
    const diagnostic = only(client.diagnosticsOf(uri), PY_LINES.implicit, 'LL007');
    const actions = ((await client.codeActions(uri, diagnostic.range, [diagnostic])) ?? []) as CodeAction[];
    const pin = actions.find((a) => a.title.startsWith('Name the model explicitly'));
    assert.ok(pin, JSON.stringify(actions.map((a) => a.title)));
    // Offline the full commit of transformers' short hash is unknown: no movable short hash is written (LL003 would flag it).
    assert.equal(pin.title, 'Name the model explicitly: model="distilbert/distilbert-base-uncased-finetuned-sst-2-english" (transformers\' current default for "sentiment-analysis")');
    assert.deepEqual(pin.diagnostics?.map((d) => d.code), ['LL007']);
    const fixed = applyEdits(textOf('app.py'), editsOf(pin, uri));
    assert.equal(line(fixed, PY_LINES.implicit), 'clf = pipeline("sentiment-analysis", model="distilbert/distilbert-base-uncased-finetuned-sst-2-english")');
  });

  it('flags remote code and branch revisions in YAML configs', () => {
    const diagnostics = client.diagnosticsOf(uriOf('train.yml'));
    const remote = diagnostics.find((d) => d.code === 'LL004')!;
    assert.equal(textAt(textOf('train.yml'), remote.range), 'trust_remote_code: true');
    assert.equal(remote.severity, 1);
    assert.ok(diagnostics.some((d) => d.code === 'LL003' && textAt(textOf('train.yml'), d.range) === 'main'));
  });

  it('lists the references of every document kind with their status (lineage/listReferences)', async () => {
    const result = await client.request<ListReferencesResult>(ListReferencesRequest.method, { waitForLineage: true });
    const byFile = (suffix: string) => result.references.filter((r) => r.uri.endsWith(suffix));
    for (const suffix of ['app.py', 'train.yml', 'index.ts', '/Dockerfile', 'serve.sh', '/Modelfile', 'config.json', 'README.md', 'finder-fixtures/loaders.py', 'finder-fixtures/deploy.yaml']) {
      assert.ok(byFile(suffix).length > 0, `references in ${suffix}`);
    }
    const medical = byFile('app.py').find((r) => r.id === 'acme/tiny-gpt2-medical')!;
    assert.equal(medical.resolution.kind, 'hf-cache');
    assert.equal(medical.resolution.commit, COMMITS.medical);
    assert.equal(medical.lineage.status, 'verified');
    assert.equal(byFile('/Modelfile')[0]!.resolution.kind, 'hf-cache', 'hf.co/org/repo:QUANT resolves to the cached repo');
    assert.equal(byFile('app.py').find((r) => r.id === './models/local-gpt2')!.resolution.kind, 'workspace');
    assert.equal(result.truncated, false);
  });

  it('compares two references and scans one (lineage/compare, lineage/scan)', async () => {
    const comparison = await client.request<Comparison>(CompareRequest.method, {
      a: { reference: 'sshleifer/tiny-gpt2' },
      b: { uri: uriOf('app.py'), position: { line: PY_LINES.medical, character: 50 } },
    });
    assert.equal(comparison.schema, 'lineage-lens/comparison');
    assert.equal(comparison.verdict, 'derived');
    const scan = await client.request<ScanResult>(ScanRequest.method, { target: { reference: 'acme/tiny-gpt2-medical' } });
    assert.equal(scan.lineage.status, 'verified');
    assert.ok(scan.lineage.matches.some((m) => m.repoId === 'sshleifer/tiny-gpt2' && m.verdict === 'derived' && (m.log10P ?? 0) < -12));
  });

  it('cancels stale work on edits: only the newest version is analysed and published', async () => {
    const uri = uriOf('app.py');
    const base = textOf('app.py');
    await client.replace(uri, 2, base + 'extra = AutoModelForCausalLM.from_pretrained("acme/evil-pickle")\n');
    await client.replace(uri, 3, base + 'extra = AutoModelForCausalLM.from_pretrained("nobody/second-missing")\n');
    await client.waitForAnalyzed(uri, 3);
    assert.equal(client.analyzed.some((a) => a.uri === uri && a.version === 2), false, 'version 2 was superseded before it finished');
    const published = client.diagnostics.get(uri)!;
    assert.equal(published.version, 3);
    assert.deepEqual(codesOnLine(published.diagnostics, 12), ['LL003', 'LL009']);
  });

  it('lists the cached models that hold weights for pickers (lineage/listCachedModels)', async () => {
    const { models } = await client.connection.sendRequest<ListCachedModelsResult>(ListCachedModelsRequest.method);
    assert.deepEqual(models.map((m) => m.repoId).sort(), ['acme/evil-pickle', 'acme/pickle-gpt2', 'acme/stories-gguf', 'acme/tampered-gpt2', 'acme/tiny-gpt2-medical', 'sshleifer/tiny-gpt2']);
    assert.equal(models.find((m) => m.repoId === 'sshleifer/tiny-gpt2')?.commit, COMMITS.base);
  });

  it('applies severity settings and the workspace .lineage.yaml policy', async () => {
    const policyWorkspace = path.join(fixture.root, 'policy-workspace');
    await mkdir(policyWorkspace, { recursive: true });
    await writeFile(path.join(policyWorkspace, '.lineage.yaml'), 'require_pinned_revisions: true\nseverity:\n  LL007: error\n  LL009: hint\n');
    const text = 'from transformers import AutoModel, pipeline\nm = AutoModel.from_pretrained("acme/tiny-gpt2-medical")\np = pipeline("sentiment-analysis")\nq = AutoModel.from_pretrained("nobody/missing", revision="' + COMMITS.base + '")\n';
    await writeFile(path.join(policyWorkspace, 'main.py'), text);
    const other = await LspTestClient.start({ workspaceFolder: policyWorkspace, env: serverEnv(fixture), settings: { registry: { includeShipped: false }, diagnostics: { severity: { LL009: 'off', LL001: 'off' } } } });
    try {
      const uri = fileUri(path.join(policyWorkspace, 'main.py'));
      await other.open(uri, 'python', text);
      await other.waitForAnalyzed(uri, 1, 60_000);
      const diagnostics = other.diagnosticsOf(uri);
      assert.equal(only(diagnostics, 1, 'LL003').severity, 1, 'policy require_pinned_revisions makes LL003 an error');
      assert.equal(only(diagnostics, 2, 'LL007').severity, 1, 'policy severity override');
      assert.deepEqual(codesOnLine(diagnostics, 3), [], 'the user setting LL009: off wins over the policy');
    } finally {
      await other.stop();
    }
  });
});
