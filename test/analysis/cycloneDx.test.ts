// The AI-BOM export: a CycloneDX 1.6 document whose model components carry what an auditor needs
// (purl with the loaded commit, file hashes, verified and declared lineage, where each model is used).
import * as assert from 'node:assert/strict';
import { buildCycloneDxBom, huggingFacePurl } from '../../server/src/analysis/bom/cycloneDx';
import { modelFacts, referenceStatus } from '../client/referenceStatus';
import { cycloneDx16Validator } from '../support/cycloneDxSchema';

const SHA = 'b'.repeat(64);
const options = { workspaceName: 'ws', workspaceRoot: '/ws', toolVersion: '0.1.0', timestamp: '2026-11-24T00:00:00.000Z', serialUuid: '00000000-0000-4000-8000-000000000000' };

describe('client CycloneDX AI-BOM', () => {
  const medical = referenceStatus({
    id: 'acme/tiny-gpt2-medical',
    resolution: { kind: 'hf-cache', repoId: 'acme/tiny-gpt2-medical', commit: '2222222222222222222222222222222222222222' },
    model: modelFacts({ integrity: [{ relativePath: 'model.safetensors', blobName: SHA, status: 'ok' }], declaredBases: [{ baseModel: 'sshleifer/tiny-gpt2', source: 'card' }] }),
    lineage: {
      status: 'verified',
      matches: [{ repoId: 'sshleifer/tiny-gpt2', commit: '1111111111111111111111111111111111111111', verdict: 'derived', log10P: -111.8, reason: 'B shares A\'s weights', source: 'local-cache' }],
      declared: [{ baseModel: 'sshleifer/tiny-gpt2', source: 'card', status: 'confirmed', verdict: 'derived', detail: 'weights confirm it' }],
      candidatesCompared: 5,
    },
  });
  const again = { ...medical, uri: 'file:///ws/serve.sh', range: { start: { line: 0, character: 11 }, end: { line: 0, character: 33 } } };
  const dataset = referenceStatus({ id: 'acme/data', kind: 'dataset' });

  it('writes one machine-learning-model component per model and commit, with occurrences', () => {
    const bom = buildCycloneDxBom([medical, again, dataset], options);
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.specVersion, '1.6');
    assert.match(bom.serialNumber, /^urn:uuid:[0-9a-f-]{36}$/);
    assert.equal(bom.components.length, 1);
    const [model] = bom.components;
    assert.equal(model!.type, 'machine-learning-model');
    assert.equal(model!.group, 'acme');
    assert.equal(model!.name, 'tiny-gpt2-medical');
    assert.equal(model!.purl, 'pkg:huggingface/acme/tiny-gpt2-medical@2222222222222222222222222222222222222222');
    assert.deepEqual(model!.evidence!.occurrences, [{ location: 'app.py', line: 2, offset: 10 }, { location: 'serve.sh', line: 1, offset: 11 }]);
    assert.deepEqual(bom.dependencies, [{ ref: 'workspace:ws', dependsOn: [model!['bom-ref']] }]);
  });

  it('carries file hashes, verified ancestors and declared lineage', () => {
    const [model] = buildCycloneDxBom([medical], options).components;
    assert.deepEqual(model!.components, [{ type: 'file', name: 'model.safetensors', hashes: [{ alg: 'SHA-256', content: SHA }] }]);
    const ancestor = model!.pedigree!.ancestors![0]!;
    assert.equal(ancestor.purl, 'pkg:huggingface/sshleifer/tiny-gpt2@1111111111111111111111111111111111111111');
    assert.ok(ancestor.properties!.some((p) => p.name === 'lineage:verdict' && p.value === 'derived'));
    const properties = new Map(model!.properties!.map((p) => [p.name, p.value]));
    assert.equal(properties.get('lineage:status'), 'verified');
    assert.equal(properties.get('lineage:declaredBase'), 'sshleifer/tiny-gpt2 (card): confirmed');
    assert.match(properties.get('lineage:verifiedMatch')!, /derived sshleifer\/tiny-gpt2 \(p [=<≤] \d(?:\.\d)?e-\d+/);
    assert.equal(properties.get('lineage:pinned'), 'false');
  });

  it('only builds purls from valid Hub ids and full commits', () => {
    assert.equal(huggingFacePurl('./models/local', undefined), undefined);
    assert.equal(huggingFacePurl('org/name', 'main'), 'pkg:huggingface/org/name');
  });

  it('validates against the CycloneDX 1.6 schema, and the validator rejects what the schema forbids', () => {
    const validate = cycloneDx16Validator();
    const bom = buildCycloneDxBom([medical, again, dataset], options);
    assert.ok(validate(bom), JSON.stringify(validate.errors?.slice(0, 5), null, 2));
    assert.equal(validate({ ...bom, components: [{ ...bom.components[0]!, type: 'weights' }] }), false);
  });

  it('lists parents only as ancestors: a fine-tune found by the scan is related, not an ancestor', () => {
    const base = referenceStatus({
      id: 'sshleifer/tiny-gpt2',
      lineage: { status: 'verified', matches: [{ repoId: 'acme/tiny-gpt2-medical', verdict: 'derived', log10P: -111.8, reason: 'B shares A\'s weights', source: 'local-cache', relation: 'child' }], declared: [], candidatesCompared: 5 },
    });
    const [component] = buildCycloneDxBom([base], options).components;
    assert.equal(component!.pedigree, undefined);
    assert.ok(component!.properties!.some((p) => p.name === 'lineage:relatedModel' && p.value === 'derived acme/tiny-gpt2-medical (derived from this model)'));
    const child = referenceStatus({
      id: 'acme/child',
      lineage: { status: 'verified', matches: [{ repoId: 'acme/parent', verdict: 'quantized', reason: 'r', source: 'registry', relation: 'parent' }], declared: [], candidatesCompared: 5 },
    });
    assert.deepEqual(buildCycloneDxBom([child], options).components[0]!.pedigree!.ancestors!.map((a) => a.name), ['parent']);
  });

  it('takes the architecture from the config, groups URL and id spellings, and lists risks', () => {
    const facts = modelFacts({ format: 'pytorch-zip', architecture: { family: 'gpt2', architectures: ['GPT2LMHeadModel'] }, weightFiles: ['pytorch_model.bin'], files: [{ relativePath: 'pytorch_model.bin', sizeBytes: 10, role: 'weights' }] });
    const resolution = { kind: 'hf-cache' as const, repoId: 'acme/pickled', commit: '3333333333333333333333333333333333333333' };
    const byId = referenceStatus({ id: 'acme/pickled', resolution, model: facts, trustRemoteCode: true });
    const byUrl = referenceStatus({ id: 'https://huggingface.co/acme/pickled', resolution, model: facts, uri: 'file:///ws/README.md' });
    const bom = buildCycloneDxBom([byId, byUrl], options);
    assert.equal(bom.components.length, 1);
    const [component] = bom.components;
    assert.deepEqual(component!.modelCard, { modelParameters: { architectureFamily: 'gpt2', modelArchitecture: 'GPT2LMHeadModel' } });
    assert.equal(component!.evidence!.occurrences.length, 2);
    assert.deepEqual(component!.properties!.filter((p) => p.name === 'lineage:risk').map((p) => p.value), ['pickle-weights', 'trust_remote_code', 'unpinned']);
    assert.ok(cycloneDx16Validator()(bom));
  });
});
