// The Models view's data: references grouped by model with the status a user acts on (risky first).
import * as assert from 'node:assert/strict';
import { buildInventory, describeModel, referenceStatus as statusOf } from '../../client/src/models/modelInventory';
import { modelFacts, referenceStatus } from './referenceStatus';

describe('client model inventory', () => {
  const verified = referenceStatus({ id: 'acme/tiny-gpt2-medical', model: modelFacts(), lineage: { status: 'verified', matches: [{ repoId: 'sshleifer/tiny-gpt2', verdict: 'derived', log10P: -111.8, reason: 'shares weights', source: 'local-cache' }], declared: [], candidatesCompared: 4 } });
  const sameModelElsewhere = referenceStatus({ id: 'ACME/tiny-gpt2-medical', uri: 'file:///ws/serve.sh', model: modelFacts(), lineage: { status: 'verified', matches: verified.lineage.matches, declared: [], candidatesCompared: 4 } });
  const declaredOnly = referenceStatus({ id: 'acme/card-claim', kind: 'base-model-claim', lineage: { status: 'unverified', matches: [], declared: [{ baseModel: 'org/base', source: 'card', status: 'unverifiable', detail: 'base not cached' }], candidatesCompared: 0 } });
  const tampered = referenceStatus({ id: 'acme/tampered-gpt2', model: modelFacts({ integrity: [{ relativePath: 'model.safetensors', blobName: 'a'.repeat(64), status: 'mismatch' }] }) });
  const evilPickle = referenceStatus({ id: 'acme/evil-pickle', model: modelFacts({ format: 'pytorch-zip', findings: [{ severity: 'critical', code: 'pickle-global', file: 'pytorch_model.bin', message: 'imports posix.system' }] }) });
  const unknown = referenceStatus({ id: 'nobody/not-downloaded', resolution: { kind: 'unavailable', detail: 'not cached' } });
  const dataset = referenceStatus({ id: 'acme/data', kind: 'dataset' });

  it('groups references to one model case-insensitively and leaves datasets out', () => {
    const models = buildInventory([verified, sameModelElsewhere, dataset]);
    assert.equal(models.length, 1);
    assert.equal(models[0]!.references.length, 2);
    assert.match(describeModel(models[0]!), /2 references · derived sshleifer\/tiny-gpt2/);
  });

  it('marks altered cache blobs, dangerous pickles and contradicted bases as risky and lists them first', () => {
    const models = buildInventory([verified, declaredOnly, tampered, evilPickle, unknown]);
    assert.deepEqual(models.map((m) => [m.label, m.status]), [
      ['acme/evil-pickle', 'risky'],
      ['acme/tampered-gpt2', 'risky'],
      ['nobody/not-downloaded', 'unverified'],
      ['acme/card-claim', 'declared'],
      ['acme/tiny-gpt2-medical', 'verified'],
    ]);
    assert.match(models[1]!.reasons.join(), /altered after download: model.safetensors/);
    assert.equal(statusOf({ ...verified, lineage: { ...verified.lineage, status: 'contradicted' } }), 'risky');
  });

  it('takes the worst status of a model\'s references', () => {
    const pinnedRisky = { ...tampered, id: 'acme/tiny-gpt2-medical', uri: 'file:///ws/other.py' };
    const [model] = buildInventory([verified, pinnedRisky]);
    assert.equal(model!.status, 'risky');
  });
});
