// ONNX exports reach the same tests as safetensors: an export compared with its original is same-weights,
// a fine-tune of the original is derived through the MLP-neuron test, an independent model never is; the
// zoo's ONNX pairs (PAIRS.md W3, N1) keep their verdicts.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Comparison } from '../../../server/src/core/compare/types';
import { loadModelTensors, type ModelTensors } from '../../fixtures/modelTensors';
import { writeOnnxExportFolder } from '../../fixtures/onnxExport';
import { fineTuneDrift, independentInit } from '../../fixtures/transformations';
import { writeModelFolder } from '../../fixtures/writeModel';
import { compareFolders, describeComparison } from '../../support/compareFixtures';
import { zooPath } from '../../support/zoo';

function digestDetail(c: Comparison): string {
  return c.evidence.find((e) => e.signal === 'tensor digests')?.detail ?? '';
}

describe('compare: ONNX exports against safetensors originals', function () {
  this.timeout(300_000);
  const root = mkdtempSync(path.join(tmpdir(), 'lineage-onnx-compare-'));
  let stories: ModelTensors;
  let storiesFolder: string;
  let storiesOnnx: string;
  let storiesOnnxAnonymous: string;
  before(async () => {
    const fromGguf = await loadModelTensors(zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'));
    storiesFolder = path.join(root, 'stories');
    await writeModelFolder(fromGguf, storiesFolder, { format: 'safetensors' });
    stories = await loadModelTensors(storiesFolder);
    storiesOnnx = path.join(root, 'stories-onnx');
    await writeOnnxExportFolder(stories, storiesOnnx);
    storiesOnnxAnonymous = path.join(root, 'stories-onnx-anonymous');
    await writeOnnxExportFolder(stories, storiesOnnxAnonymous, { anonymousGraph: true });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('stories260K vs its torch.onnx export: same-weights, 47 of 47 tensors equal', async () => {
    const c = await compareFolders(storiesFolder, storiesOnnx);
    assert.equal(c.verdict, 'same-weights', describeComparison(c));
    assert.match(digestDetail(c), /^47 of 47 shared tensors equal/);
  });

  it('a fine-tune of stories260K vs the export of the original: derived, with the MLP-neuron test run on every layer', async () => {
    const tuned = path.join(root, 'stories-tuned');
    await writeModelFolder(fineTuneDrift(stories, { relativeScale: 0.05, seed: 'onnx-compare' }), tuned, { format: 'safetensors' });
    const c = await compareFolders(tuned, storiesOnnx);
    assert.equal(c.verdict, 'derived', describeComparison(c));
    assert.ok(c.lineageLog10P! < -12, describeComparison(c));
    const mlp = c.evidence.find((e) => /MLP-neuron/.test(e.test));
    assert.equal(mlp?.outcome, 'lineage', JSON.stringify(mlp));
    assert.match(mlp!.test, /5 layer\(s\)/);
  });

  it('an independent initialization vs the export is never derived', async () => {
    const independent = path.join(root, 'stories-independent');
    await writeModelFolder(independentInit(stories, 'onnx-compare-independent'), independent, { format: 'safetensors' });
    const c = await compareFolders(independent, storiesOnnx);
    assert.ok(['unrelated', 'same-family'].includes(c.verdict), describeComparison(c));
  });

  it('without module paths in the graph the export falls back to stored names: only the 12 named tensors meet', async () => {
    const c = await compareFolders(storiesFolder, storiesOnnxAnonymous);
    // The embedding and the 11 norm gains are named parameters; the 35 projections and the tied head stay onnx::MatMul_* (with 5 int64 shapes).
    assert.match(digestDetail(c), /^12 of 12 shared tensors equal; 35 only in A; 41 only in B/);
  });

  it('without module paths, a fine-tune of the original is no longer found derived by the MLP-neuron test (what graph roles fix)', async () => {
    const tuned = path.join(root, 'stories-tuned-2');
    await writeModelFolder(fineTuneDrift(stories, { relativeScale: 0.05, seed: 'onnx-compare' }), tuned, { format: 'safetensors' });
    const c = await compareFolders(tuned, storiesOnnxAnonymous);
    const mlp = c.evidence.find((e) => /MLP-neuron/.test(e.test));
    assert.equal(mlp?.outcome, 'not-run', describeComparison(c));
  });

  it('tiny-gpt2 vs its export: same-weights (W1 through ONNX); tiny-gpt2-medical vs the export: derived (W2)', async () => {
    const gpt2 = await loadModelTensors(zooPath('tiny-gpt2'));
    const exported = path.join(root, 'gpt2-onnx');
    await writeOnnxExportFolder(gpt2, exported);
    const same = await compareFolders(zooPath('tiny-gpt2'), exported);
    assert.equal(same.verdict, 'same-weights', describeComparison(same));
    assert.match(digestDetail(same), /^28 of 28 shared tensors equal/);
    const tuned = await compareFolders(zooPath('tiny-gpt2-medical'), exported);
    assert.equal(tuned.verdict, 'derived', describeComparison(tuned));
    assert.ok(tuned.lineageLog10P! < -12);
  });

  it('PAIRS W3: the fp16 onnxruntime export is quantized (or same-weights) against the fp32 one', async () => {
    const c = await compareFolders(zooPath('ort-tiny-random-gpt2-fp32'), zooPath('ort-tiny-random-gpt2-fp16'));
    assert.ok(['quantized', 'same-weights'].includes(c.verdict), describeComparison(c));
  });

  it('PAIRS N1: tiny-gpt2 vs the onnxruntime export of another random GPT-2 is never derived', async () => {
    const c = await compareFolders(zooPath('tiny-gpt2'), zooPath('ort-tiny-random-gpt2-fp32'));
    assert.ok(['unrelated', 'same-family'].includes(c.verdict), describeComparison(c));
  });
});
