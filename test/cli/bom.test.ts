// `lineage bom` on the generated 50-reference repository: a CycloneDX 1.6 ML-BOM that validates against
// the official schema, built by the editor's builder from the same analysis as `lineage check`.
import * as assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { buildReferenceRepo, REPO_COMMITS, repoEnv, type ReferenceRepo } from '../fixtures/referenceRepo';
import { runCli } from '../support/cli';
import { cycloneDx16Validator } from '../support/cycloneDxSchema';
import type { CycloneDxBom } from '../../server/src/protocol';

describe('lineage bom', function () {
  this.timeout(240_000);
  let fixture: ReferenceRepo;

  before(async () => {
    fixture = await buildReferenceRepo();
  });
  after(async () => {
    await rm(fixture.root, { recursive: true, force: true });
  });

  it('writes a CycloneDX 1.6 ML-BOM that validates, one component per model and commit whatever the spelling', () => {
    const run = runCli(['bom', '--root', fixture.repo], repoEnv(fixture));
    assert.equal(run.status, 0, run.stderr);
    const bom = JSON.parse(run.stdout) as CycloneDxBom;
    const validate = cycloneDx16Validator();
    assert.ok(validate(bom), JSON.stringify(validate.errors?.slice(0, 5), null, 2));

    const medical = bom.components.filter((c) => c.group === 'acme' && c.name === 'tiny-gpt2-medical');
    assert.deepEqual(medical.map((c) => c.version), [REPO_COMMITS.medical], 'the id, the Hub URL and pinned forms are one component');
    const component = medical[0]!;
    assert.ok(component.evidence!.occurrences.some((o) => o.location === 'cards/medical/README.md'), 'the Hub link in a card is an occurrence of it');
    assert.deepEqual(component.modelCard, { modelParameters: { architectureFamily: 'gpt2', modelArchitecture: 'GPT2LMHeadModel' } });
    const blob = fixture.cache.repos.find((r) => r.repoId === 'acme/tiny-gpt2-medical')!.blobs['model.safetensors']!;
    assert.deepEqual(component.components, [{ type: 'file', name: 'model.safetensors', hashes: [{ alg: 'SHA-256', content: blob.sha256 }] }]);
    assert.deepEqual(component.pedigree!.ancestors!.map((a) => `${a.group}/${a.name}`), ['sshleifer/tiny-gpt2']);
    assert.ok(component.properties!.some((p) => p.name === 'lineage:risk' && p.value === 'unpinned'));

    // The base is never listed as descending from its own fine-tune.
    const base = bom.components.find((c) => c.group === 'sshleifer' && c.name === 'tiny-gpt2' && c.version === REPO_COMMITS.base)!;
    assert.ok(!(base.pedigree?.ancestors ?? []).some((a) => a.name === 'tiny-gpt2-medical'));
    const served = bom.components.find((c) => c.name === 'served-model')!;
    assert.ok(served.properties!.some((p) => p.name === 'lineage:risk' && p.value === 'trust_remote_code'));
  });
});
