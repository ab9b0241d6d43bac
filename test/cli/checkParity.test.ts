// One analysis for the editor and the pipeline: on the LSP fixture workspace (plus a policy and a lock),
// the language server's diagnostics for every document equal what `lineage check` reports.
import * as assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { listWorkspaceFiles } from '../../server/src/analysis/workspaceFiles';
import { buildFixtureWorkspace, serverEnv, UNKNOWN_PINNED, type FixtureWorkspace } from '../lsp/fixtureWorkspace';
import { fileUri, LspTestClient } from '../lsp/lspClient';
import { runCli } from '../support/cli';

const LSP_SEVERITY = ['', 'error', 'warning', 'information', 'hint'];

interface JsonReport {
  files: Array<{ path: string; findings: Array<{ code: string; severity: string; line: number; column: number; endLine: number; endColumn: number; message: string }> }>;
}

describe('lineage check and the editor report the same findings', function () {
  this.timeout(300_000);
  let fixture: FixtureWorkspace;
  let lsp: LspTestClient | undefined;

  before(async () => {
    fixture = await buildFixtureWorkspace();
    // A policy (a blocked organisation, an expired ignore, a working one) and a lock one reference is missing from.
    await writeFile(path.join(fixture.workspace, '.lineage.yaml'), [
      'blocked_organisations: [nobody]',
      'required_base_verdicts: [identical, same-weights, quantized, derived]',
      'ignores:',
      '  - { code: LL007, path: app.py, reason: demo pipeline, expires: 2099-12-31 }',
      '  - { code: LL008, reason: reviewed, expires: 2020-01-01 }',
      '',
    ].join('\n'));
    const env = serverEnv(fixture);
    const lock = runCli(['lock', '--root', fixture.workspace], env);
    assert.equal(lock.status, 0, lock.stderr);
    await writeFile(path.join(fixture.workspace, 'added.py'), `from transformers import AutoModel\nm = AutoModel.from_pretrained("acme/added-later", revision="${UNKNOWN_PINNED}")\n`);
    // A look-alike of an id another file references (train.yml's acme/tiny-gpt2-medical), and a real sibling.
    await writeFile(path.join(fixture.workspace, 'judge.py'), `from transformers import AutoModel\nj = AutoModel.from_pretrained("acme/tiny-gpt2-rnedical", revision="${UNKNOWN_PINNED}")\nk = AutoModel.from_pretrained("acme/tiny-gpt2-large", revision="${UNKNOWN_PINNED}")\n`);
  });

  after(async () => {
    await lsp?.stop();
    await rm(fixture.root, { recursive: true, force: true });
  });

  it('on every document of the workspace', async () => {
    const env = serverEnv(fixture);
    const run = runCli(['check', '--root', fixture.workspace, '--format', 'json', '--fail-on', 'never'], env);
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as JsonReport;
    const fromCheck = report.files.flatMap((f) => f.findings.map((x) => `${f.path}:${x.line}:${x.column}-${x.endLine}:${x.endColumn} ${x.severity} ${x.code} ${x.message}`)).sort();

    lsp = await LspTestClient.start({ workspaceFolder: fixture.workspace, env });
    const { files } = await listWorkspaceFiles(fixture.workspace);
    const fromEditor: string[] = [];
    for (const file of files) {
      const uri = fileUri(file);
      await lsp.open(uri, 'plaintext', await readFile(file, 'utf8'));
      await lsp.waitForAnalyzed(uri, 1, 120_000);
      const relative = path.relative(fixture.workspace, file).split(path.sep).join('/');
      for (const d of lsp.diagnosticsOf(uri)) {
        fromEditor.push(`${relative}:${d.range.start.line + 1}:${d.range.start.character + 1}-${d.range.end.line + 1}:${d.range.end.character + 1} ${LSP_SEVERITY[d.severity ?? 0]} ${String(d.code)} ${d.message}`);
      }
    }
    fromEditor.sort();
    assert.deepEqual(fromCheck, fromEditor);
    // The comparison covers the new rules too, not just the old ones.
    const codes = new Set(fromCheck.map((line) => line.split(' ')[2]));
    for (const code of ['LL002', 'LL003', 'LL004', 'LL005', 'LL006', 'LL009', 'LL011', 'LL012', 'LL013']) assert.ok(codes.has(code), `${code} is among the compared findings`);
    assert.ok(!fromCheck.some((line) => line.startsWith('app.py:') && line.includes(' LL007 ')), 'the ignore applies on both sides');
    const crossFile = fromCheck.filter((line) => line.startsWith('judge.py:') && line.includes(' LL008 '));
    assert.equal(crossFile.length, 1, JSON.stringify(crossFile));
    assert.match(crossFile[0]!, /^judge\.py:2:.* acme\/tiny-gpt2-rnedical looks like acme\/tiny-gpt2-medical, referenced in /);
  });
});
