// Issue 14: comparisons across hidden sizes. Independent models of different widths trained on one corpus and one
// tokenizer share token structure, which made the retired channel-matching test call them "derived"; the current test
// (select the channel map on embeddings, test it on value/up rows under their sign-flip symmetry) must be calibrated on
// exactly those models, and still find a pruned-and-healed child.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { closeSide, loadSide } from '../../../server/src/core/compare/compareModels';
import { matchChannelsAcrossWidths } from '../../../server/src/core/compare/lineageTests';
import { pairTokenRows } from '../../../server/src/core/compare/pairing';
import { RELATED_VERDICTS, type Comparison } from '../../../server/src/core/compare/types';
import { openSqliteRegistry, scanRegistry } from '../../../server/src/core/registry';
import { legacyWidthMismatchTest } from '../../fixtures/legacyWidthTest';
import type { ModelTensors } from '../../fixtures/modelTensors';
import { keepAllBut, makeSharedCorpus, makeTrainedModel, pruneLlamaWidth, trainBigramEmbeddings, type SharedCorpus } from '../../fixtures/tinyTrainer';
import { fineTuneDrift } from '../../fixtures/transformations';
import { compareFolders, describeComparison, FixtureFolders } from '../../support/compareFixtures';
import { crossWidthNullDraws } from '../../support/crossWidthCalibration';

describe('compare across widths: independent models trained on one corpus and tokenizer (issue 14)', function () {
  this.timeout(300_000);
  const folders = new FixtureFolders();
  const FFN = 128; // the same MLP width for every model, so up-projection rows meet across residual widths
  let corpus: SharedCorpus;
  const models = new Map<string, { model: ModelTensors; folder: string }>();
  const trained = async (hidden: number, seed: string) => {
    const key = `${hidden}/${seed}`;
    if (!models.has(key)) {
      const model = makeTrainedModel(corpus, { hidden, seed, ffn: FFN });
      models.set(key, { model, folder: await folders.write(model, 'safetensors', `w${hidden}-${seed}`) });
    }
    return models.get(key)!;
  };
  before(() => {
    corpus = makeSharedCorpus(400, 2000, 'issue14-corpus');
  });
  after(() => folders.dispose());

  const independentPairs: Array<[number, string, number, string]> = [
    [64, 'a', 48, 'b'],
    [64, 'a', 32, 'c'],
    [48, 'b', 32, 'd'],
  ];

  it('the retired random-direction test called independent models of different widths derived', async () => {
    for (const [wa, sa, wb, sb] of independentPairs) {
      const sideA = await loadSide((await trained(wa, sa)).folder);
      const sideB = await loadSide((await trained(wb, sb)).folder);
      try {
        const embed = pairTokenRows(sideA.fingerprint, sideB.fingerprint).find((p) => p.role === 'embed')!;
        const legacy = legacyWidthMismatchTest(embed);
        // The false positive the issue reports (1e-125 .. 1e-280 on stories260K-trained models), reproduced here.
        assert.ok(legacy.log10P < -12, `${wa} vs ${wb}: legacy log10 p ${legacy.log10P} (${legacy.detail})`);
        const map = matchChannelsAcrossWidths(embed)!;
        assert.ok(map.meanAbsCorrelation > 0.3, `shared token structure: mean best |corr| ${map.meanAbsCorrelation}`);
      } finally {
        await closeSide(sideA);
        await closeSide(sideB);
      }
    }
  });

  it('the current test never calls them derived', async () => {
    for (const [wa, sa, wb, sb] of independentPairs) {
      const c = await compareFolders((await trained(wa, sa)).folder, (await trained(wb, sb)).folder);
      assert.notEqual(c.verdict, 'derived', describeComparison(c));
      assert.ok(['same-family', 'unrelated', 'inconclusive'].includes(c.verdict), describeComparison(c));
      const width = c.evidence.find((e) => e.test.includes('sign-flip'));
      assert.ok(width && width.outcome !== 'lineage' && width.statistic, `${wa} vs ${wb}: ${describeComparison(c)}`);
    }
  });

  it('is calibrated: 200 null draws, rate of p below 0.01 / 0.001 / 0.0001 within the nominal level', async () => {
    // Each draw pairs two independently trained embeddings of different widths (a pool of 3 widths x 2 seeds, so the
    // channel map carries real shared token structure) with independently initialized bodies (fresh seeds per draw).
    const pool = [32, 48, 64].flatMap((hidden) => ['p', 'q'].map((seed) => ({ hidden, seed })));
    const fingerprints = new Map<string, Awaited<ReturnType<typeof loadSide>>['fingerprint']>();
    for (const { hidden, seed } of pool) {
      const side = await loadSide((await trained(hidden, seed)).folder);
      fingerprints.set(`${hidden}/${seed}`, side.fingerprint);
      await closeSide(side);
    }
    const summary = crossWidthNullDraws([...fingerprints].map(([key, fingerprint]) => ({ hidden: Number(key.split('/')[0]), fingerprint })), 200, 'issue14-calibration');
    console.log(`      null rates below 0.01/0.001/0.0001: ${summary.rates.join(' / ')}; smallest p ${Math.exp(summary.smallestLogP).toExponential(2)}`);
    assert.ok(summary.neverBelowFloor);
    [0.01, 0.001, 0.0001].forEach((level, k) => assert.ok(summary.rates[k]! <= level, `rate below ${level}: ${summary.rates[k]}`));
  });

  /** The parent (width 64) pruned by 25% of residual channels and MLP neurons, then healed. */
  const prunedChild = async () => {
    const parent = await trained(64, 'parent');
    const pruned = pruneLlamaWidth(parent.model, keepAllBut(64, 4, 1), keepAllBut(FFN, 4, 2));
    // Healing: a light fine-tune of every tensor plus one more epoch of embedding training on the corpus.
    const drifted = fineTuneDrift(pruned, { relativeScale: 0.02, seed: 'heal' });
    const healedEmbeddings = trainBigramEmbeddings(
      corpus,
      { hidden: 48, seed: 'heal', epochs: 1, learningRate: 0.003 },
      { embed: drifted.tensors.get('model.embed_tokens.weight')!.data, out: drifted.tensors.get('lm_head.weight')!.data },
    );
    drifted.tensors.set('model.embed_tokens.weight', { shape: [corpus.vocab, 48], data: healedEmbeddings.embed });
    drifted.tensors.set('lm_head.weight', { shape: [corpus.vocab, 48], data: healedEmbeddings.out });
    return { parent, folder: await folders.write(drifted, 'safetensors', 'pruned') };
  };

  it('a pruned model (25% of residual channels and MLP neurons removed, then healed) is derived', async () => {
    const { parent, folder } = await prunedChild();
    const c: Comparison = await compareFolders(parent.folder, folder);
    assert.equal(c.verdict, 'derived', describeComparison(c));
    assert.ok(c.lineageLog10P! < -12, describeComparison(c));
    assert.equal(c.direction?.parent, 'a');
    const width = c.evidence.find((e) => e.test.includes('sign-flip'))!;
    assert.ok(width.log10P! >= width.floorLog10P!, 'never below the floor');
  });

  it('scan finds the pruned model\'s parent among models of other widths (Holm over what is retrieved)', async () => {
    const { folder } = await prunedChild();
    const file = path.join(folder, '..', 'width-registry.sqlite');
    const writer = await openSqliteRegistry(file, { writable: true });
    const add = async (id: string, target: string) => {
      const side = await loadSide(target);
      await closeSide(side);
      writer.put({ meta: { id, kind: 'weights', declaredParents: [] }, fingerprint: side.fingerprint });
    };
    await add('trained/parent-64', (await trained(64, 'parent')).folder);
    for (const [hidden, seed] of [[64, 'a'], [48, 'b'], [32, 'c'], [48, 'p'], [32, 'd']] as const) await add(`trained/independent-${hidden}-${seed}`, (await trained(hidden, seed)).folder);
    writer.commit();
    writer.close();
    const registry = await openSqliteRegistry(file);
    try {
      const scanOf = async (target: string) => {
        const side = await loadSide(target);
        await closeSide(side);
        return scanRegistry(registry, side.fingerprint);
      };
      const r = await scanOf(folder);
      const summary = r.matches.map((m) => `${m.id} ${m.verdict} ${m.adjustedLog10P?.toFixed(1)} [${m.routes.join(',')}]`).join('\n');
      assert.equal(r.matches[0]?.id, 'trained/parent-64', summary);
      assert.equal(r.matches[0]?.verdict, 'derived', summary);
      assert.deepEqual(r.matches[0]?.routes, ['width']);
      assert.ok(r.matches[0]!.adjustedLog10P! < -12, summary);
      assert.ok(r.candidatesRetrieved >= 5, `retrieved ${r.candidatesRetrieved}`);
      assert.ok(r.matches.slice(1).every((m) => !RELATED_VERDICTS.has(m.verdict)), summary);
      // An independent model of another width finds nothing related, although it shares the tokenizer with them all.
      const independent = await scanOf((await trained(48, 'q')).folder);
      assert.equal(independent.related, false, independent.matches.map((m) => `${m.id} ${m.verdict}`).join('\n'));
    } finally {
      registry.close();
    }
  });
});
