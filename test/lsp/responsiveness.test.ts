// The server answers requests while a fingerprint job occupies a worker thread, and reports the long
// work as LSP work-done progress. The worker is held busy by a test hook that blocks its thread.
import * as assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ListReferencesRequest, type ListReferencesResult } from '../../server/src/protocol';
import { buildFixtureWorkspace, serverEnv, type FixtureWorkspace } from './fixtureWorkspace';
import { fileUri, LspTestClient } from './lspClient';

const WORKER_BLOCK_MS = 1_500;

describe('language server responsiveness while workers fingerprint', function () {
  this.timeout(120_000);
  let fixture: FixtureWorkspace;
  let client: LspTestClient;

  before(async () => {
    fixture = await buildFixtureWorkspace();
    client = await LspTestClient.start({ workspaceFolder: fixture.workspace, env: serverEnv(fixture, { LINEAGE_LSP_TEST_INSPECT_BLOCK_MS: String(WORKER_BLOCK_MS), LINEAGE_LSP_WORKERS: '1' }) });
  });

  after(async () => {
    await client?.stop();
    if (fixture) await rm(fixture.root, { recursive: true, force: true });
  });

  it('answers hover and lineage/listReferences while a fingerprint job runs', async () => {
    const file = path.join(fixture.workspace, 'busy.py');
    const text = 'from transformers import AutoModel\nm = AutoModel.from_pretrained("acme/tiny-gpt2-medical")\n';
    await writeFile(file, text);
    const uri = fileUri(file);
    const openedAt = Date.now();
    await client.open(uri, 'python', text);
    // The resolved stage is published before any fingerprint: LL003 needs no weights.
    await client.waitFor('resolved-stage diagnostics', () => (client.diagnosticsOf(uri).some((d) => d.code === 'LL003') ? true : undefined));

    // Ordering, not timing: both answers arrive while the blocked worker still holds the fingerprint
    // (latency numbers belong to `npm run bench:lsp`, not to a test on a shared machine).
    const hover = await client.hover(uri, 1, 40);
    const listed = await client.request<ListReferencesResult>(ListReferencesRequest.method, { uris: [uri] });

    assert.equal(client.analyzed.some((a) => a.uri === uri), false, 'the fingerprint job is still running');
    assert.ok(hover && typeof hover.contents === 'object' && 'value' in hover.contents && hover.contents.value.includes('fingerprinting…'));
    assert.equal(listed.references[0]?.lineage.status, 'pending');
    assert.ok(client.progressTokens.length > 0, 'work-done progress was created for the fingerprint');

    const done = await client.waitForAnalyzed(uri, 1, 90_000);
    assert.ok(Date.now() - openedAt >= WORKER_BLOCK_MS, 'the analysis waited for the blocked worker');
    assert.equal(done.referenceCount, 1);
  });
});
