// The Models view's data: references grouped by model with the server's standing (worst first), a
// copy or a refuted claim never shown as verified.
import * as assert from 'node:assert/strict';
import { buildInventory, describeModel, referenceStatus as statusOf } from '../../client/src/models/modelInventory';
import { modelFacts, referenceStatus } from './referenceStatus';

describe('client model inventory', () => {
  const derived = { status: 'verified' as const, matches: [{ repoId: 'sshleifer/tiny-gpt2', verdict: 'derived' as const, log10P: -111.8, reason: 'shares weights', source: 'local-cache' as const }], declared: [], candidatesCompared: 4 };
  const verified = referenceStatus({ id: 'acme/tiny-gpt2-medical', model: modelFacts(), lineage: derived, standing: { status: 'verified', summary: 'derived from sshleifer/tiny-gpt2 (p < 1e-111), as declared' } });
  const sameModelElsewhere = referenceStatus({ id: 'ACME/tiny-gpt2-medical', uri: 'file:///ws/serve.sh', model: modelFacts(), lineage: derived, standing: verified.standing! });
  const contradicted = referenceStatus({ id: 'acme/false-card', model: modelFacts(), standing: { status: 'contradicted', summary: 'declares openai-community/gpt2 as its base, but its shape rules that out' } });
  const copy = referenceStatus({ id: 'bigcorp/sentinel-1b', model: modelFacts(), lineage: { ...derived, matches: [{ ...derived.matches[0]!, verdict: 'identical' }] }, standing: { status: 're-upload', summary: 'the same weights as sshleifer/tiny-gpt2, published under another name' } });
  const tampered = referenceStatus({ id: 'acme/tampered-gpt2', model: modelFacts(), standing: { status: 'risky', summary: 'a cached file was altered after download' } });
  const unknown = referenceStatus({ id: 'nobody/not-downloaded', resolution: { kind: 'unavailable' }, standing: { status: 'unverified', summary: 'not downloaded: nothing on this machine to check' } });
  const dataset = referenceStatus({ id: 'acme/data', kind: 'dataset' });

  it('groups references to one model case-insensitively and leaves datasets out', () => {
    const models = buildInventory([verified, sameModelElsewhere, dataset]);
    assert.equal(models.length, 1);
    assert.equal(models[0]!.references.length, 2);
    assert.equal(describeModel(models[0]!), '2 references · derived from sshleifer/tiny-gpt2 (p < 1e-111), as declared');
  });

  it('lists risky, contradicted, re-uploads and unverified models before verified ones, each with its reason', () => {
    const models = buildInventory([verified, contradicted, copy, tampered, unknown]);
    assert.deepEqual(models.map((m) => [m.label, m.status]), [
      ['acme/tampered-gpt2', 'risky'],
      ['acme/false-card', 'contradicted'],
      ['bigcorp/sentinel-1b', 're-upload'],
      ['nobody/not-downloaded', 'unverified'],
      ['acme/tiny-gpt2-medical', 'verified'],
    ]);
    assert.match(describeModel(models[2]!), /same weights as sshleifer\/tiny-gpt2/);
    assert.deepEqual(models[1]!.reasons, ['contradicted: declares openai-community/gpt2 as its base, but its shape rules that out']);
  });

  it('takes the worst status of a model\'s references, and is never green without the server\'s standing', () => {
    const pinnedRisky = { ...tampered, id: 'acme/tiny-gpt2-medical', uri: 'file:///ws/other.py' };
    const [model] = buildInventory([verified, pinnedRisky]);
    assert.equal(model!.status, 'risky');
    const { standing: _none, ...old } = verified;
    assert.equal(statusOf(old), 'unverified', 'a verified lineage without a standing is not shown green');
  });

  it('groups two paths to one local file as one model', () => {
    const gguf = (id: string, uri: string) => referenceStatus({ id, uri, resolution: { kind: 'workspace', path: '/ws/models/stories260K.gguf' }, standing: { status: 'unverified', summary: 'no known fingerprint matches' } });
    const models = buildInventory([gguf('models/stories260K.gguf', 'file:///ws/app.py'), gguf('./models/stories260K.gguf', 'file:///ws/Modelfile')]);
    assert.equal(models.length, 1);
    assert.equal(models[0]!.references.length, 2);
  });

  it('shows the settled status of a model when another file only listed it (pending)', () => {
    const listed = referenceStatus({ id: './models/x.gguf', uri: 'file:///ws/Modelfile', resolution: { kind: 'workspace', path: '/ws/models/x.gguf' }, standing: { status: 'pending', summary: 'fingerprinting…' } });
    const analysed = referenceStatus({ id: 'models/x.gguf', resolution: { kind: 'workspace', path: '/ws/models/x.gguf' }, standing: { status: 'verified', summary: 'identical to karpathy/tinyllamas-stories260K' } });
    assert.equal(buildInventory([listed, analysed])[0]!.status, 'verified');
    assert.equal(buildInventory([analysed, listed])[0]!.status, 'verified');
    assert.equal(buildInventory([listed])[0]!.status, 'pending');
  });
});
