// The second-model picker offers the suggested model first, then workspace references, then the cache,
// never the first side twice, and turns typed text into a target.
import * as assert from 'node:assert/strict';
import { buildCandidateItems, typedCandidate } from '../../client/src/pickers/compareCandidates';
import { repoIdFromCacheFolder } from '../../server/src/core/model/hfCache';
import { referenceStatus } from './referenceStatus';

describe('client compare picker candidates', () => {
  it('orders suggested, workspace, cache, browse and removes duplicates and the first side', () => {
    const items = buildCandidateItems({
      suggested: 'sshleifer/tiny-gpt2',
      references: [
        referenceStatus({ id: 'sshleifer/tiny-gpt2' }),
        referenceStatus({ id: 'acme/tiny-gpt2-medical' }),
        referenceStatus({ id: 'nobody/missing', resolution: { kind: 'unavailable' } }),
        referenceStatus({ id: 'acme/data', kind: 'dataset' }),
      ],
      cachedModelIds: ['acme/tiny-gpt2-medical', 'acme/stories-gguf', 'acme/first'],
      exclude: 'acme/first',
    });
    assert.deepEqual(items.map((i) => [i.group, i.label]), [
      ['suggested', 'sshleifer/tiny-gpt2'],
      ['workspace', 'acme/tiny-gpt2-medical'],
      ['cache', 'acme/stories-gguf'],
      ['browse', '$(folder) Choose a model folder…'],
      ['browse', '$(file) Choose a weight or fingerprint file…'],
    ]);
  });

  it('never offers A as its own partner under another spelling (revision, ./ prefix, case)', () => {
    const items = buildCandidateItems({
      references: [referenceStatus({ id: 'acme/tiny-gpt2-medical', revision: 'b'.repeat(40) }), referenceStatus({ id: './models/local-gpt2', resolution: { kind: 'workspace', path: '/ws/models/local-gpt2' } })],
      cachedModelIds: ['ACME/tiny-gpt2-medical', 'sshleifer/tiny-gpt2'],
      exclude: ['acme/tiny-gpt2-medical@main', 'models/local-gpt2/'],
    });
    assert.deepEqual(items.filter((i) => i.group !== 'browse').map((i) => i.label), ['sshleifer/tiny-gpt2']);
  });

  it('uses typed ids and paths as they are', () => {
    assert.deepEqual(typedCandidate('  /zoo/tiny-gpt2-medical ')?.action, { kind: 'reference', reference: '/zoo/tiny-gpt2-medical' });
    assert.equal(typedCandidate('   '), undefined);
  });

  it('reads Hub ids from cache folder names', () => {
    assert.equal(repoIdFromCacheFolder('models--sshleifer--tiny-gpt2'), 'sshleifer/tiny-gpt2');
    assert.equal(repoIdFromCacheFolder('datasets--org--data'), undefined);
    assert.equal(repoIdFromCacheFolder('models--broken--'), undefined);
  });
});
