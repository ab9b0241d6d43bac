// `npm run evaluate`: prints the verdict and lineage p-value of every transformation fixture and of
// independent initializations, so the numbers in the README are reproducible from one command.
import { makeSyntheticLlama } from '../test/fixtures/syntheticModels';
import {
  averageModels,
  dropLayer,
  extendVocabulary,
  fineTuneDrift,
  independentInit,
  permuteMlpNeurons,
  permuteResidualChannels,
  rescaleMlpChannels,
} from '../test/fixtures/transformations';
import type { ModelTensors } from '../test/fixtures/modelTensors';
import type { ModelFolderFormat } from '../test/fixtures/writeModel';
import { compareFolders, FixtureFolders } from '../test/support/compareFixtures';

async function main(): Promise<void> {
  const folders = new FixtureFolders();
  try {
    const base = makeSyntheticLlama({ hidden: 256, layers: 4, heads: 8, kvHeads: 4, ffn: 688, vocab: 2000, seed: 'evaluate-base' });
    const baseFolder = await folders.write(base);
    const cases: Array<[string, ModelTensors, ModelFolderFormat?]> = [
      ['fine-tune drift 1%', fineTuneDrift(base, { relativeScale: 0.01, seed: 1 })],
      ['fine-tune drift 30%', fineTuneDrift(base, { relativeScale: 0.3, seed: 2 })],
      ['MLP neurons permuted', permuteMlpNeurons(base, 3)],
      ['residual channels permuted', permuteResidualChannels(base, 4)],
      ['up/down rescaled per channel', rescaleMlpChannels(base, 5)],
      ['GGUF Q8_0', base, 'gguf-q8_0'],
      ['GGUF Q4_K', base, 'gguf-q4_k'],
      ['vocabulary +64 tokens', extendVocabulary(base, 64, 6)],
      ['layer 2 dropped', dropLayer(base, 2)],
      ['average of two 20% fine-tunes', averageModels(fineTuneDrift(base, { relativeScale: 0.2, seed: 7 }), fineTuneDrift(base, { relativeScale: 0.2, seed: 8 }))],
      ['independent init, same config', independentInit(base, 'evaluate-independent')],
    ];
    console.log('synthetic Llama: hidden 256, 4 layers, 8 heads / 4 kv heads, ffn 688, vocab 2000\n');
    console.log(`${'transformation of A'.padEnd(32)}${'verdict'.padEnd(14)}lineage log10 p`);
    for (const [name, model, format] of cases) {
      const c = await compareFolders(baseFolder, await folders.write(model, format ?? 'safetensors'));
      console.log(`${name.padEnd(32)}${c.verdict.padEnd(14)}${c.lineageLog10P === undefined ? '-' : c.lineageLog10P.toFixed(1)}`);
    }
    const seeds = Number(process.env.LINEAGE_EVAL_SEEDS ?? 50);
    const smallBase = makeSyntheticLlama({ hidden: 256, layers: 2, heads: 8, kvHeads: 4, ffn: 512, vocab: 1000, seed: 'evaluate-seeds' });
    const smallFolder = await folders.write(smallBase);
    const log10Ps: number[] = [];
    for (let seed = 0; seed < seeds; seed++) {
      const c = await compareFolders(smallFolder, await folders.write(independentInit(smallBase, `evaluate-seed-${seed}`)));
      log10Ps.push(c.lineageLog10P ?? 0);
    }
    log10Ps.sort((a, b) => a - b);
    console.log(`\n${seeds} independent initializations of identical config: smallest log10 p ${log10Ps[0]!.toFixed(2)}, median ${log10Ps[Math.floor(seeds / 2)]!.toFixed(2)}, none below 1e-3: ${log10Ps.every((p) => p > -3)}`);
  } finally {
    folders.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
