// Issue 11's smaller faults in the client and the finders: errors without JSON-RPC wrapping, no
// fingerprint of a folder without weights, exported reports never read as references.
import * as assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { firstWeightFile } from '../../client/src/commands/weightFiles';
import { errorText } from '../../client/src/services';
import { findReferences, isGeneratedReport } from '../../server/src/references';

describe('issue 11 smaller faults', () => {
  it('shows the server\'s sentence, not "Request lineage/compare failed with message: …"', () => {
    assert.equal(errorText(new Error('Request lineage/compare failed with message: acme/x is not on this machine: download it first')), 'acme/x is not on this machine: download it first');
    assert.equal(errorText(new Error('plain')), 'plain');
    assert.equal(errorText('text'), 'text');
  });

  it('finds no weight file in a folder of configs, and finds one in a cache-style snapshot link', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'lineage-weights-'));
    try {
      await writeFile(path.join(root, 'config.json'), '{}');
      await writeFile(path.join(root, 'README.md'), '# no weights');
      assert.equal(await firstWeightFile(root), undefined);
      const snapshot = path.join(root, 'snapshots', 'abc');
      await mkdir(snapshot, { recursive: true });
      await writeFile(path.join(root, 'blob'), 'x');
      await symlink(path.join(root, 'blob'), path.join(snapshot, 'model.safetensors'));
      assert.equal(await firstWeightFile(root), path.join('snapshots', 'abc', 'model.safetensors'));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('does not read an exported CycloneDX BOM or a fingerprint as model references', async () => {
    const bom = JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'machine-learning-model', name: 'sshleifer/tiny-gpt2', purl: 'pkg:huggingface/sshleifer/tiny-gpt2' }], metadata: { component: { name: 'x' } }, _name_or_path: 'sshleifer/tiny-gpt2' }, null, 2);
    assert.ok(isGeneratedReport(bom, 'lineage-bom.json'));
    assert.deepEqual(await findReferences(bom, 'lineage-bom.json'), []);
    assert.ok(isGeneratedReport('{"schema": "lineage-lens/fingerprint", "source": {"repoId": "a/b"}}', 'x.fingerprint.json'));
    assert.equal(isGeneratedReport('{"_name_or_path": "sshleifer/tiny-gpt2"}', 'config.json'), false);
    assert.equal((await findReferences('{"_name_or_path": "sshleifer/tiny-gpt2"}', 'config.json')).length, 1);
  });
});
