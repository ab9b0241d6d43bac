// `npm run evaluate`: prints the verdict and lineage p-value of every transformation fixture and of
// independent initializations, so the numbers in the README are reproducible from one command.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
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
import { loadModelTensors, type ModelTensors } from '../test/fixtures/modelTensors';
import type { ModelFolderFormat } from '../test/fixtures/writeModel';
import { closeSide, loadSide } from '../server/src/core/compare/compareModels';
import { pairTokenRows } from '../server/src/core/compare/pairing';
import type { Comparison } from '../server/src/core/compare/types';
import { legacyWidthMismatchTest } from '../test/fixtures/legacyWidthTest';
import { stackedDisguise } from '../test/fixtures/llamaDisguise';
import { keepAllBut, makeSharedCorpus, makeTrainedModel, pruneLlamaWidth, trainBigramEmbeddings } from '../test/fixtures/tinyTrainer';
import { compareFolders, FixtureFolders } from '../test/support/compareFixtures';
import { crossWidthNullDraws } from '../test/support/crossWidthCalibration';
import { writeOnnxExportFolder } from '../test/fixtures/onnxExport';
import { writeModelFolder } from '../test/fixtures/writeModel';
import { zooPath } from '../test/support/zoo';

/** "-41.5 (floor -506.9; z = 13.8)": the certified p, the test's floor and the strongest statistic. */
function pColumns(c: Comparison): string {
  if (c.lineageLog10P === undefined) return '-';
  const strongest = c.evidence.filter((e) => e.log10P !== undefined).sort((x, y) => x.log10P! - y.log10P!)[0];
  return `${c.lineageLog10P.toFixed(1).padEnd(9)}${(c.lineageFloorLog10P?.toFixed(1) ?? '-').padEnd(10)}${strongest?.statistic ?? ''}`;
}

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
    console.log(`${'transformation of A'.padEnd(32)}${'verdict'.padEnd(14)}${'log10 p'.padEnd(9)}${'floor'.padEnd(10)}strongest statistic`);
    for (const [name, model, format] of cases) {
      const c = await compareFolders(baseFolder, await folders.write(model, format ?? 'safetensors'));
      console.log(`${name.padEnd(32)}${c.verdict.padEnd(14)}${pColumns(c)}`);
    }

    await evaluateOnnxExports();

    // Stacked disguise (issue 14): folding, rotation, neuron and head permutations, rescaling, all on one fine-tune.
    const small = makeSyntheticLlama({ hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 64, vocab: 400, seed: 'evaluate-composed' });
    const disguised = stackedDisguise(fineTuneDrift(small, { relativeScale: 0.05, seed: 'evaluate-composed' }), 'evaluate');
    const smallFolder64 = await folders.write(small);
    const d = await compareFolders(smallFolder64, await folders.write(disguised));
    console.log(`\nhidden 64, ffn 64 (every row sampled):\n${'fine-tune + all five disguises'.padEnd(32)}${d.verdict.padEnd(14)}${pColumns(d)}`);
    const di = await compareFolders(smallFolder64, await folders.write(stackedDisguise(independentInit(small, 'evaluate-composed-independent'), 'evaluate')));
    console.log(`${'independent, same disguises'.padEnd(32)}${di.verdict.padEnd(14)}${pColumns(di)}`);

    // Across widths (issue 14): models trained on one corpus and tokenizer.
    const corpus = makeSharedCorpus(400, 2000, 'issue14-corpus');
    const trained = new Map<string, string>();
    const trainedFolder = async (hidden: number, seed: string) => {
      const key = `${hidden}/${seed}`;
      if (!trained.has(key)) trained.set(key, await folders.write(makeTrainedModel(corpus, { hidden, seed, ffn: 128 })));
      return trained.get(key)!;
    };
    console.log(`\nacross widths (embeddings trained on one corpus and tokenizer, vocab 400, ffn 128):`);
    console.log(`${'pair'.padEnd(32)}${'verdict'.padEnd(14)}${'log10 p'.padEnd(9)}${'floor'.padEnd(10)}retired test's log10 p`);
    for (const [wa, sa, wb, sb] of [[64, 'a', 48, 'b'], [64, 'a', 32, 'c'], [48, 'b', 32, 'd']] as const) {
      const [fa, fb] = [await trainedFolder(wa, sa), await trainedFolder(wb, sb)];
      const c = await compareFolders(fa, fb);
      const [sideA, sideB] = [await loadSide(fa), await loadSide(fb)];
      const legacy = legacyWidthMismatchTest(pairTokenRows(sideA.fingerprint, sideB.fingerprint).find((p) => p.role === 'embed')!);
      await closeSide(sideA);
      await closeSide(sideB);
      console.log(`${`independent ${wa} vs ${wb}`.padEnd(32)}${c.verdict.padEnd(14)}${(c.lineageLog10P?.toFixed(1) ?? '-').padEnd(9)}${(c.lineageFloorLog10P?.toFixed(1) ?? '-').padEnd(10)}${legacy.log10P.toFixed(1)} (${legacy.detail})`);
    }
    const parentFolder = await trainedFolder(64, 'parent');
    const pruned = fineTuneDrift(pruneLlamaWidth(await loadModelTensors(parentFolder), keepAllBut(64, 4, 1), keepAllBut(128, 4, 2)), { relativeScale: 0.02, seed: 'heal' });
    const healed = trainBigramEmbeddings(corpus, { hidden: 48, seed: 'heal', epochs: 1, learningRate: 0.003 }, { embed: pruned.tensors.get('model.embed_tokens.weight')!.data, out: pruned.tensors.get('lm_head.weight')!.data });
    pruned.tensors.set('model.embed_tokens.weight', { shape: [400, 48], data: healed.embed });
    pruned.tensors.set('lm_head.weight', { shape: [400, 48], data: healed.out });
    const p = await compareFolders(parentFolder, await folders.write(pruned));
    console.log(`${'pruned 25% + healed, 64 -> 48'.padEnd(32)}${p.verdict.padEnd(14)}${pColumns(p)}`);
    const pool = [];
    for (const hidden of [32, 48, 64]) {
      for (const seed of ['p', 'q']) {
        const side = await loadSide(await trainedFolder(hidden, seed));
        await closeSide(side);
        pool.push({ hidden, fingerprint: side.fingerprint });
      }
    }
    const nullDraws = crossWidthNullDraws(pool, 200, 'issue14-calibration');
    console.log(`cross-width null, ${nullDraws.draws} draws: rate of p below 0.01 / 0.001 / 0.0001 = ${nullDraws.rates.join(' / ')}; smallest p ${Math.exp(nullDraws.smallestLogP).toExponential(2)}; never below the floor: ${nullDraws.neverBelowFloor}`);
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

/**
 * ONNX exports (issue 14, part 6): torch.onnx-style exports written from real zoo models, whose anonymous
 * `onnx::MatMul_*` initializers get their roles through the graph, against safetensors originals; the
 * same export without module paths in its node names shows the fallback; the zoo's onnxruntime pairs.
 */
async function evaluateOnnxExports(): Promise<void> {
  const root = mkdtempSync(path.join(tmpdir(), 'lineage-evaluate-onnx-'));
  try {
    await compareOnnxExports(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function compareOnnxExports(root: string): Promise<void> {
  const folder = (name: string) => path.join(root, `onnx-${name}`);
  const stories = folder('stories');
  await writeModelFolder(await loadModelTensors(zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf')), stories, { format: 'safetensors' });
  const storiesModel = await loadModelTensors(stories);
  await writeOnnxExportFolder(storiesModel, folder('stories-export'));
  await writeOnnxExportFolder(storiesModel, folder('stories-export-anonymous'), { anonymousGraph: true });
  await writeModelFolder(fineTuneDrift(storiesModel, { relativeScale: 0.05, seed: 'evaluate-onnx' }), folder('stories-tuned'), { format: 'safetensors' });
  await writeModelFolder(independentInit(storiesModel, 'evaluate-onnx'), folder('stories-independent'), { format: 'safetensors' });
  await writeOnnxExportFolder(await loadModelTensors(zooPath('tiny-gpt2')), folder('gpt2-export'));
  const pairs: Array<[string, string, string]> = [
    ['stories260K vs its export', stories, folder('stories-export')],
    ['5% fine-tune vs export', folder('stories-tuned'), folder('stories-export')],
    ['independent init vs export', folder('stories-independent'), folder('stories-export')],
    ['stories260K vs export, no paths', stories, folder('stories-export-anonymous')],
    ['5% fine-tune vs export, no paths', folder('stories-tuned'), folder('stories-export-anonymous')],
    ['tiny-gpt2 vs its export', zooPath('tiny-gpt2'), folder('gpt2-export')],
    ['tiny-gpt2-medical vs gpt2 export', zooPath('tiny-gpt2-medical'), folder('gpt2-export')],
    ['W3 ort gpt2 fp32 vs fp16', zooPath('ort-tiny-random-gpt2-fp32'), zooPath('ort-tiny-random-gpt2-fp16')],
    ['N1 tiny-gpt2 vs ort gpt2 fp32', zooPath('tiny-gpt2'), zooPath('ort-tiny-random-gpt2-fp32')],
  ];
  console.log('\nONNX exports (torch.onnx layout written from zoo models; graph roles vs a graph without module paths):');
  console.log(`${'pair'.padEnd(34)}${'verdict'.padEnd(14)}${'log10 p'.padEnd(9)}${'MLP test'.padEnd(13)}tensor digests`);
  for (const [name, a, b] of pairs) {
    const c = await compareFolders(a, b);
    const digests = c.evidence.find((e) => e.signal === 'tensor digests')?.detail ?? '-';
    const mlp = c.evidence.find((e) => /MLP-neuron/.test(e.test));
    const mlpColumn = mlp ? (mlp.log10P !== undefined ? mlp.log10P.toFixed(1) : mlp.outcome) : '-';
    console.log(`${name.padEnd(34)}${c.verdict.padEnd(14)}${(c.lineageLog10P?.toFixed(1) ?? '-').padEnd(9)}${mlpColumn.padEnd(13)}${digests}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
