// The weight-byte budget of a fingerprint (lineage.fingerprint.maxBytesPerModel in the editor):
// refused before any tensor is read when the sampling plan needs more, honoured exactly otherwise.
import * as assert from 'node:assert/strict';
import { FingerprintBudgetError } from '../../../server/src/core/errors';
import { extractFingerprint } from '../../../server/src/core/fingerprint/extract';
import { openModel } from '../../../server/src/core/model/openModel';
import { zooPath } from '../../support/zoo';

describe('fingerprint byte budget', () => {
  it('refuses a plan above the budget without reading tensors, and fingerprints within it', async () => {
    const model = await openModel(zooPath('tiny-gpt2'));
    try {
      const full = await extractFingerprint(model);
      const weightBytes = full.bytesRead;
      assert.ok(weightBytes > 0);
      const before = await model.store.bytesRead();
      await assert.rejects(extractFingerprint(model, { maxWeightBytes: 1024 }), (err: unknown) => {
        assert.ok(err instanceof FingerprintBudgetError);
        assert.equal(err.budgetBytes, 1024);
        assert.ok(err.plannedBytes > 1024);
        assert.match(err.message, /tiny-gpt2: the fingerprint would read \d+ bytes of weights, more than the budget of 1024 bytes/);
        return true;
      });
      assert.equal(await model.store.bytesRead(), before, 'no tensor bytes were read for the refused plan');
      const within = await extractFingerprint(model, { maxWeightBytes: 1 << 30 });
      assert.equal(within.bytesRead, weightBytes);
    } finally {
      await model.close();
    }
  });
});
