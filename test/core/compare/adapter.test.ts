// Issue 14: a PEFT/LoRA adapter folder (adapter_config.json + adapter_model.safetensors) is recognised as an adapter.
// Against its base it fits (target modules and shapes) and the declared base is checked; against a wrong base it does
// not fit; against a merged model it says "B = base + this adapter" when the weights equal base + scale·B·A.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { closeSide, compareSides, loadSide } from '../../../server/src/core/compare/compareModels';
import type { Comparison } from '../../../server/src/core/compare/types';
import { createPrng } from '../../../server/src/core/util/prng';
import { cloneModel, type ModelTensors, type TensorData } from '../../fixtures/modelTensors';
import { makeSyntheticLlama } from '../../fixtures/syntheticModels';
import { writeModelFolder } from '../../fixtures/writeModel';
import { describeComparison } from '../../support/compareFixtures';

const RANK = 4;
const ALPHA = 8;
const TARGETS = ['q_proj', 'v_proj'];

/** LoRA factors for q_proj and v_proj of every layer (B non-zero: a trained adapter), PEFT names. */
function makeAdapter(base: ModelTensors, seed: string, declaredBase: string): ModelTensors {
  const prng = createPrng(seed);
  const tensors = new Map<string, TensorData>();
  for (let l = 0; l < base.architecture.layers; l++) {
    for (const target of TARGETS) {
      const weight = base.tensors.get(`model.layers.${l}.self_attn.${target}.weight`)!;
      const [out, inFeatures] = weight.shape as [number, number];
      const prefix = `base_model.model.model.layers.${l}.self_attn.${target}`;
      tensors.set(`${prefix}.lora_A.weight`, { shape: [RANK, inFeatures], data: Float32Array.from({ length: RANK * inFeatures }, () => 0.05 * prng.gaussian()) });
      tensors.set(`${prefix}.lora_B.weight`, { shape: [out, RANK], data: Float32Array.from({ length: out * RANK }, () => 0.05 * prng.gaussian()) });
    }
  }
  const config = { peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: declaredBase, r: RANK, lora_alpha: ALPHA, target_modules: TARGETS, lora_dropout: 0 };
  return { tensors, files: new Map([['adapter_config.json', JSON.stringify(config, null, 2)]]), architecture: base.architecture };
}

/** base + (alpha/r)·B·A on every adapted weight, as merge_and_unload does. */
function mergeAdapter(base: ModelTensors, adapter: ModelTensors): ModelTensors {
  const merged = cloneModel(base);
  for (let l = 0; l < base.architecture.layers; l++) {
    for (const target of TARGETS) {
      const w = merged.tensors.get(`model.layers.${l}.self_attn.${target}.weight`)!;
      const a = adapter.tensors.get(`base_model.model.model.layers.${l}.self_attn.${target}.lora_A.weight`)!.data;
      const b = adapter.tensors.get(`base_model.model.model.layers.${l}.self_attn.${target}.lora_B.weight`)!.data;
      const [out, inFeatures] = w.shape as [number, number];
      for (let o = 0; o < out; o++) {
        for (let i = 0; i < inFeatures; i++) {
          let delta = 0;
          for (let k = 0; k < RANK; k++) delta += b[o * RANK + k]! * a[k * inFeatures + i]!;
          w.data[o * inFeatures + i]! += (ALPHA / RANK) * delta;
        }
      }
    }
  }
  return merged;
}

describe('compare: PEFT/LoRA adapters (issue 14)', function () {
  this.timeout(120_000);
  const root = mkdtempSync(path.join(tmpdir(), 'lineage-adapter-'));
  const folder = (name: string) => path.join(root, name);
  const base = makeSyntheticLlama({ hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128, vocab: 400, seed: 'adapter-base' });
  const adapter = makeAdapter(base, 'adapter', 'example-org/base-model');
  before(async () => {
    await writeModelFolder(base, folder('base-model'), { format: 'safetensors' });
    await writeModelFolder(adapter, folder('my-adapter'), { format: 'safetensors', fileName: 'adapter_model.safetensors' });
    await writeModelFolder(makeSyntheticLlama({ hidden: 48, layers: 2, heads: 4, kvHeads: 2, ffn: 96, vocab: 400, seed: 'other' }), folder('other-model'), { format: 'safetensors' });
    await writeModelFolder(mergeAdapter(base, adapter), folder('merged-model'), { format: 'safetensors' });
    await writeModelFolder(mergeAdapter(base, makeAdapter(base, 'another-adapter', 'example-org/base-model')), folder('merged-other'), { format: 'safetensors' });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const compare = async (a: string, b: string, baseName?: string): Promise<Comparison> => {
    const sides = [await loadSide(folder(a)), await loadSide(folder(b))] as const;
    const baseSide = baseName ? await loadSide(folder(baseName)) : undefined;
    try {
      return await compareSides(sides[0], sides[1], { adapterBase: baseSide?.fingerprint });
    } finally {
      for (const s of [...sides, ...(baseSide ? [baseSide] : [])]) await closeSide(s);
    }
  };

  it('against its base: the adapter fits every target module and names it as its base', async () => {
    const c = await compare('my-adapter', 'base-model');
    assert.equal(c.verdict, 'same-family', describeComparison(c));
    assert.match(c.reason, /fits this model \(4 of 4 modules/);
    assert.match(c.reason, /declares it as its base/);
    assert.match(c.notes.join(' '), /A is a PEFT adapter \(LORA, 4 modules, scale 2\)/);
    assert.match(c.evidence.find((e) => e.signal === 'declared base')!.detail, /example-org\/base-model/);
  });

  it('against a wrong base of another width: does not fit, with the module and shapes that fail', async () => {
    const c = await compare('other-model', 'my-adapter');
    assert.equal(c.verdict, 'unrelated', describeComparison(c));
    assert.match(c.reason, /does not fit this model \(4 of 4 modules: q of layer 0: adapter is 64×64, the model's weight is 48×48\)/);
  });

  it('against a merged model: B = base + this adapter with the base given, inconclusive (base absent) without', async () => {
    const merged = await compare('my-adapter', 'merged-model', 'base-model');
    assert.equal(merged.verdict, 'derived', describeComparison(merged));
    assert.match(merged.reason, /^B = base \+ this adapter/);
    const otherMerge = await compare('my-adapter', 'merged-other', 'base-model');
    assert.notEqual(otherMerge.verdict, 'derived', describeComparison(otherMerge));
    assert.match(otherMerge.reason, /not base \+ this adapter/);
    const noBase = await compare('my-adapter', 'merged-model');
    assert.equal(noBase.verdict, 'inconclusive', describeComparison(noBase));
    assert.match(noBase.reason, /base absent/);
  });
});
