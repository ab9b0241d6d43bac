// Issue acceptance: transformations applied in code to synthetic Llama-shaped models and to real zoo
// models are reported related with the right verdict; independent initializations never are.
import { strict as assert } from 'node:assert';
import { RELATED_VERDICTS, type Comparison, type Verdict } from '../../../server/src/core/compare/types';
import { loadModelTensors, type ModelTensors } from '../../fixtures/modelTensors';
import { makeSyntheticLlama } from '../../fixtures/syntheticModels';
import {
  averageModels,
  dropLayer,
  extendVocabulary,
  fineTuneDrift,
  independentInit,
  independentInitLike,
  permuteMlpNeurons,
  permuteResidualChannels,
  rescaleMlpChannels,
} from '../../fixtures/transformations';
import { compareFolders, describeComparison, FixtureFolders } from '../../support/compareFixtures';
import { zooPath } from '../../support/zoo';

function expectVerdict(c: Comparison, verdicts: Verdict[]): void {
  assert.ok(verdicts.includes(c.verdict), `expected ${verdicts.join('/')}, got ${describeComparison(c)}`);
  assert.ok(c.reason.length > 10);
}

function expectDerived(c: Comparison): void {
  expectVerdict(c, ['derived']);
  assert.ok(c.lineageLog10P! < -12, describeComparison(c));
}

describe('compare: transformations of a synthetic Llama (hidden 256)', function () {
  this.timeout(300_000);
  const folders = new FixtureFolders();
  const shape = { hidden: 256, layers: 4, heads: 8, kvHeads: 4, ffn: 688, vocab: 2000 };
  let base: ModelTensors;
  let baseFolder: string;
  before(async () => {
    base = makeSyntheticLlama({ ...shape, seed: 'transform-base' });
    baseFolder = await folders.write(base, 'safetensors', 'base');
  });
  after(() => folders.dispose());

  const related = async (model: ModelTensors, format: Parameters<FixtureFolders['write']>[1] = 'safetensors') => compareFolders(baseFolder, await folders.write(model, format));

  it('a light fine-tune (1% drift) is derived', async () => expectDerived(await related(fineTuneDrift(base, { relativeScale: 0.01, seed: 1 }))));
  it('a heavy fine-tune (30% drift) is derived', async () => expectDerived(await related(fineTuneDrift(base, { relativeScale: 0.3, seed: 2 }))));
  it('permuted MLP neurons are derived', async () => expectDerived(await related(permuteMlpNeurons(base, 3))));

  it('permuted residual channels are derived, after alignment', async () => {
    const c = await related(permuteResidualChannels(base, 4));
    expectDerived(c);
    assert.ok(c.alignment, 'the residual alignment should have been used');
  });

  it('per-channel up/down rescaling is derived', async () => expectDerived(await related(rescaleMlpChannels(base, 5))));

  it('a Q8_0 GGUF written by test code is quantized, with the float model as parent', async () => {
    const c = await related(base, 'gguf-q8_0');
    expectVerdict(c, ['quantized']);
    assert.equal(c.direction?.parent, 'a');
  });

  it('a Q4_K GGUF written by test code is quantized', async () => expectVerdict(await related(base, 'gguf-q4_k'), ['quantized']));

  it('an F16 GGUF conversion is quantized or same-weights', async () => expectVerdict(await related(base, 'gguf-f16'), ['quantized', 'same-weights']));

  it('vocabulary extension is derived, and the extended model is the child', async () => {
    const c = await related(extendVocabulary(base, 64, 6));
    expectDerived(c);
    assert.equal(c.direction?.parent, 'a', JSON.stringify(c.direction));
  });

  it('dropping a layer is derived, with the layers matched', async () => {
    const c = await related(dropLayer(base, 2));
    expectDerived(c);
    assert.ok(c.notes.some((n) => /depths differ/.test(n)));
  });

  it('the average of two fine-tunes is derived from the base and from each parent', async () => {
    const d1 = fineTuneDrift(base, { relativeScale: 0.2, seed: 7 });
    const d2 = fineTuneDrift(base, { relativeScale: 0.2, seed: 8 });
    const merged = await folders.write(averageModels(d1, d2));
    expectDerived(await compareFolders(baseFolder, merged));
    expectDerived(await compareFolders(await folders.write(d1), merged));
  });

  it('a same-config independent model (a "Confirmed Match" for a config-hash gate) is same-family, with the reason', async () => {
    const c = await related(independentInit(base, 'mpk-gate'));
    expectVerdict(c, ['same-family', 'unrelated']);
    assert.match(c.reason, /no weight lineage found/);
    assert.ok(c.lineageLog10P! > -3, describeComparison(c));
  });
});

describe('compare: independently initialized models of identical config, 50 seeds', function () {
  this.timeout(600_000);
  const folders = new FixtureFolders();
  after(() => folders.dispose());

  it('are never derived and keep p-values above 1e-3', async () => {
    const base = makeSyntheticLlama({ hidden: 256, layers: 2, heads: 8, kvHeads: 4, ffn: 512, vocab: 1000, seed: 'seeds-base' });
    const baseFolder = await folders.write(base);
    const log10Ps: number[] = [];
    for (let seed = 0; seed < 50; seed++) {
      const c = await compareFolders(baseFolder, await folders.write(independentInit(base, `seed-${seed}`)));
      assert.ok(!RELATED_VERDICTS.has(c.verdict), `seed ${seed}: ${describeComparison(c)}`);
      log10Ps.push(c.lineageLog10P ?? 0);
    }
    const smallest = Math.min(...log10Ps);
    assert.ok(smallest > -3, `smallest log10 p over 50 seeds: ${smallest.toFixed(2)}`);
  });
});

describe('compare: realistic width (hidden 1024)', function () {
  this.timeout(300_000);
  const folders = new FixtureFolders();
  after(() => folders.dispose());

  it('a fine-tune and a residual-permuted copy are derived; an independent init is not', async () => {
    const base = makeSyntheticLlama({ hidden: 1024, layers: 2, heads: 16, kvHeads: 8, ffn: 2816, vocab: 1000, seed: 'wide' });
    const baseFolder = await folders.write(base);
    expectDerived(await compareFolders(baseFolder, await folders.write(fineTuneDrift(base, { relativeScale: 0.1, seed: 1 }))));
    expectDerived(await compareFolders(baseFolder, await folders.write(permuteResidualChannels(base, 2))));
    expectVerdict(await compareFolders(baseFolder, await folders.write(independentInit(base, 3))), ['same-family', 'unrelated']);
  });
});

describe('compare: transformations of real zoo models', function () {
  this.timeout(300_000);
  const folders = new FixtureFolders();
  after(() => folders.dispose());

  it('stories260K: drift, Q8_0, residual permutation and a dropped layer are related; an independent init is not', async () => {
    const stories = await loadModelTensors(zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'));
    const original = zooPath('tinyllamas-stories260K-gguf');
    expectDerived(await compareFolders(original, await folders.write(fineTuneDrift(stories, { relativeScale: 0.05, seed: 1 }), 'gguf-f32')));
    expectVerdict(await compareFolders(original, await folders.write(stories, 'gguf-q8_0')), ['quantized']);
    expectDerived(await compareFolders(original, await folders.write(permuteResidualChannels(stories, 2), 'gguf-f32')));
    expectDerived(await compareFolders(original, await folders.write(dropLayer(stories, 1), 'gguf-f32')));
    const independent = await compareFolders(original, await folders.write(independentInitLike(stories, 3), 'gguf-f32'));
    assert.ok(!RELATED_VERDICTS.has(independent.verdict), describeComparison(independent));
  });

  it('tiny-gpt2: drift and permuted MLP neurons are derived; an independent init is not', async () => {
    const gpt2 = await loadModelTensors(zooPath('tiny-gpt2'));
    const original = zooPath('tiny-gpt2');
    expectDerived(await compareFolders(original, await folders.write(fineTuneDrift(gpt2, { relativeScale: 0.05, seed: 1 }))));
    expectDerived(await compareFolders(original, await folders.write(permuteMlpNeurons(gpt2, 2))));
    const independent = await compareFolders(original, await folders.write(independentInitLike(gpt2, 3)));
    assert.ok(!RELATED_VERDICTS.has(independent.verdict), describeComparison(independent));
  });
});
