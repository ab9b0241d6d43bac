// Issue 14: every p-value a comparison reports is a certified bound, never below its test's floor (1/n! for a
// permutation of n units, Fisher of the floors across layers, 2^-k for k sign flips, Bonferroni across families).
import { strict as assert } from 'node:assert';
import { makeSyntheticLlama } from '../../fixtures/syntheticModels';
import { fineTuneDrift } from '../../fixtures/transformations';
import { compareFolders, describeComparison, FixtureFolders } from '../../support/compareFixtures';

describe('compare: p-values never below the certified floor', function () {
  this.timeout(120_000);
  const folders = new FixtureFolders();
  after(() => folders.dispose());

  it('a near-copy of a tiny model (few channels and neurons) reaches the floors and says so', async () => {
    // 4 residual channels and 6 MLP neurons: floors 1/4! and Fisher of two 1/6!, so evidence saturates them.
    const base = makeSyntheticLlama({ hidden: 8, layers: 2, heads: 2, kvHeads: 2, ffn: 6, vocab: 400, seed: 'floors' });
    const copy = fineTuneDrift(base, { relativeScale: 1e-4, seed: 'floors' });
    const c = await compareFolders(await folders.write(base), await folders.write(copy));
    assert.ok(c.lineageLog10P !== undefined && c.lineageFloorLog10P !== undefined, describeComparison(c));
    assert.ok(c.lineageLog10P >= c.lineageFloorLog10P - 1e-9, describeComparison(c));
    const rows = c.evidence.filter((e) => e.log10P !== undefined);
    assert.ok(rows.length >= 2);
    for (const e of rows) {
      assert.ok(e.floorLog10P !== undefined && e.log10P! >= e.floorLog10P - 1e-9, `${e.test}: ${e.log10P} < floor ${e.floorLog10P}`);
      assert.ok(e.statistic && /z = /.test(e.statistic) || /χ²/.test(e.statistic ?? ''), `statistic beside p: ${e.statistic}`);
    }
    const neuron = rows.find((e) => e.test.includes('MLP-neuron'))!;
    // Fisher over 2 layers of a 6-neuron permutation: floor = P(χ²_4 > 4 ln 720).
    const t = 2 * Math.log(720);
    const fisherFloor = (-t + Math.log(1 + t)) / Math.LN10;
    assert.ok(Math.abs(neuron.floorLog10P! - fisherFloor) < 1e-9, `${neuron.floorLog10P} vs ${fisherFloor}`);
    assert.ok(rows.some((e) => e.detail.includes("(the test's floor)")), rows.map((e) => e.detail).join('\n'));
  });
});
