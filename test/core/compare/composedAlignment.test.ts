// Issue 14: a fine-tune disguised by every function-preserving transform at once (norm folding, a residual rotation,
// MLP-neuron and attention-head permutations, per-channel rescaling) is still derived, on rows no selection used.
import { strict as assert } from 'node:assert';
import { polarFactor } from '../../../server/src/core/compare/composedAlignment';
import { createPrng } from '../../../server/src/core/util/prng';
import { foldNorms, llamaLogits, randomOrthogonal, stackedDisguise } from '../../fixtures/llamaDisguise';
import { makeSyntheticLlama } from '../../fixtures/syntheticModels';
import { fineTuneDrift, independentInit } from '../../fixtures/transformations';
import { compareFolders, describeComparison, FixtureFolders } from '../../support/compareFixtures';

describe('compare: alignment that composes (issue 14)', function () {
  this.timeout(300_000);
  const folders = new FixtureFolders();
  after(() => folders.dispose());
  // ffn 64: every gate/up/k/v row is sampled, so matched units meet (a real 7B needs the tier-3 full-row read).
  const base = makeSyntheticLlama({ hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 64, vocab: 400, seed: 'composed-base' });

  it('polarFactor recovers a rotation from a rotated, rescaled Gram matrix', () => {
    const d = 12;
    const prng = createPrng('polar');
    const q = randomOrthogonal(d, prng);
    // M = S·Q with S symmetric positive definite: the polar factor is Q.
    const x = Float64Array.from({ length: 40 * d }, () => prng.gaussian());
    const s = new Float64Array(d * d);
    for (let t = 0; t < 40; t++) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) s[i * d + j]! += x[t * d + i]! * x[t * d + j]!;
    const m = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) m[i * d + j]! += s[i * d + k]! * q[k * d + j]!;
    const polar = polarFactor(m, d)!;
    let worst = 0;
    for (let i = 0; i < d * d; i++) worst = Math.max(worst, Math.abs(polar[i]! - q[i]!));
    assert.ok(worst < 1e-9, `max |U - Q| = ${worst}`);
    assert.equal(polarFactor(new Float64Array(d * d), d), undefined);
  });

  it('the stacked disguise leaves the logits unchanged (tiny forward pass, to 1e-4)', () => {
    const child = fineTuneDrift(base, { relativeScale: 0.05, seed: 'composed-ft' });
    const disguised = stackedDisguise(child, 'composed');
    const tokens = [5, 17, 300, 42, 8, 99, 250, 3];
    const before = llamaLogits(child, tokens);
    const after = llamaLogits(disguised, tokens);
    let worst = 0;
    for (let i = 0; i < before.length; i++) worst = Math.max(worst, Math.abs(before[i]! - after[i]!));
    assert.ok(worst < 1e-4, `max |logit difference| = ${worst}`);
    // And the disguise really changes the weights: folding alone already moves every norm gain to 1.
    assert.ok(foldNorms(child).tensors.get('model.norm.weight')!.data.every((g) => g === 1));
  });

  it('a fine-tune under all five disguises at once is derived below 1e-12, after re-alignment', async () => {
    const child = stackedDisguise(fineTuneDrift(base, { relativeScale: 0.05, seed: 'composed-ft' }), 'composed');
    const c = await compareFolders(await folders.write(base, 'safetensors', 'base'), await folders.write(child, 'safetensors', 'disguised'));
    assert.equal(c.verdict, 'derived', describeComparison(c));
    assert.ok(c.lineageLog10P! < -12, describeComparison(c));
    const composed = c.evidence.find((e) => e.test.includes('re-matching'))!;
    assert.equal(composed.outcome, 'lineage', describeComparison(c));
    assert.ok(composed.log10P! >= composed.floorLog10P!);
    // The direct (index-aligned) tests see nothing through the rotation: the evidence comes from the re-aligned rows.
    const direct = c.evidence.find((e) => e.test.startsWith('residual-channel permutation null;'))!;
    assert.notEqual(direct.outcome, 'lineage');
  });

  it('an independent model of the same shape stays not derived through the same path', async () => {
    const other = stackedDisguise(independentInit(base, 'composed-independent'), 'composed');
    const c = await compareFolders(await folders.write(base, 'safetensors', 'base2'), await folders.write(other, 'safetensors', 'independent'));
    assert.notEqual(c.verdict, 'derived', describeComparison(c));
  });
});
