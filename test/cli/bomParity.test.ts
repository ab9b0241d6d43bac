// One BOM for one workspace: the editor's "Export AI Bill of Materials" (lineage/exportBom over the
// language server) equals what `lineage bom` writes for the same repository, weight-file hashes included.
import * as assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { CycloneDxBom, ExportBomResult } from '../../server/src/protocol';
import { buildFixtureWorkspace, serverEnv, type FixtureWorkspace } from '../lsp/fixtureWorkspace';
import { LspTestClient } from '../lsp/lspClient';
import { runCli } from '../support/cli';

/** Fields that differ by run: when and by which run the BOM was made. */
function withoutRunStamp(bom: CycloneDxBom): CycloneDxBom {
  return { ...bom, serialNumber: '', metadata: { ...bom.metadata, timestamp: '' } };
}

describe('the editor exports the BOM lineage bom writes', function () {
  this.timeout(300_000);
  let fixture: FixtureWorkspace;
  let lsp: LspTestClient | undefined;

  before(async () => {
    fixture = await buildFixtureWorkspace();
  });

  after(async () => {
    await lsp?.stop();
    if (fixture) await rm(fixture.root, { recursive: true, force: true });
  });

  it('on the fixture workspace, with the sha256 of the workspace model files', async () => {
    const env = serverEnv(fixture);
    const run = runCli(['bom', '--root', fixture.workspace], env);
    assert.equal(run.status, 0, run.stderr);
    const fromCli = JSON.parse(run.stdout) as CycloneDxBom;

    lsp = await LspTestClient.start({ workspaceFolder: fixture.workspace, env });
    const toolVersion = fromCli.metadata.tools.components[0]!.version!;
    const { bom: fromEditor, truncated } = await lsp.request<ExportBomResult>('lineage/exportBom', {
      workspaceName: path.basename(fixture.workspace), workspaceRoot: fixture.workspace, toolVersion, timestamp: 'now', serialUuid: '00000000-0000-4000-8000-000000000000',
    });
    assert.equal(truncated, false);
    assert.deepEqual(withoutRunStamp(fromEditor), withoutRunStamp(fromCli));
    // The comparison covers hashed workspace weights, not only cache blobs.
    const local = fromCli.components.find((c) => JSON.stringify(c).includes('local-gpt2'));
    assert.ok(local, fromCli.components.map((c) => c.name).join(', '));
    assert.ok(JSON.stringify(local).includes('"SHA-256"'), JSON.stringify(local));
  });
});
