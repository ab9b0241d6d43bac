// The model fixtures do what they claim: checked numerically with tiny forward passes (Llama with
// RoPE/GQA/SwiGLU, GPT-2 with LayerNorm/GELU), and by re-opening the written folders with openModel.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { f16ToNumber } from '../../server/src/core/formats/floats';
import { openModel } from '../../server/src/core/model/openModel';
import { createPrng } from '../../server/src/core/util/prng';
import { float32ToF16Bits } from '../fixtures/safetensorsWriter';
import { loadModelTensors, readJsonFile, requireTensor, rootMeanSquare, ggufMetadataValue, type ModelTensors, type TensorData } from '../fixtures/modelTensors';
import { makeSyntheticGpt2, makeSyntheticLlama } from '../fixtures/syntheticModels';
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
} from '../fixtures/transformations';
import {
  HF_TO_GGUF_LLAMA_TENSOR_NAMES,
  ggufNameForHfLlama,
  hfLlamaNameForGguf,
  permuteRowsForGgufRope,
  unpermuteRowsFromGgufRope,
  writeModelFolder,
} from '../fixtures/writeModel';
import { zooPath } from '../support/zoo';

// ---- tiny reference forward passes (float64) ---------------------------------------------------

type Vector = Float64Array;

/** y = W x for W stored [out, in]. */
function linear(w: TensorData, x: Vector): Vector {
  const [rows, cols] = [w.shape[0]!, w.shape[1]!];
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w.data[r * cols + c]! * x[c]!;
    y[r] = s;
  }
  return y;
}

/** y = x W + b for GPT-2's Conv1D W stored [in, out]. */
function conv1d(w: TensorData, b: TensorData, x: Vector): Vector {
  const [rows, cols] = [w.shape[0]!, w.shape[1]!];
  const y = Float64Array.from(b.data);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) y[c]! += x[r]! * w.data[r * cols + c]!;
  return y;
}

function rmsNorm(x: Vector, gain: TensorData, eps: number): Vector {
  let ms = 0;
  for (const v of x) ms += v * v;
  const scale = 1 / Math.sqrt(ms / x.length + eps);
  return x.map((v, i) => v * scale * gain.data[i]!);
}

function layerNorm(x: Vector, gain: TensorData, bias: TensorData, eps: number): Vector {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
  const scale = 1 / Math.sqrt(variance + eps);
  return x.map((v, i) => (v - mean) * scale * gain.data[i]! + bias.data[i]!);
}

function addInPlace(x: Vector, y: Vector): void {
  for (let i = 0; i < x.length; i++) x[i]! += y[i]!;
}

/**
 * RoPE on one head slice. 'half' is Hugging Face's rotate_half (pairs i, i + d/2); 'interleaved'
 * is ggml's (pairs 2i, 2i + 1), which is what weights stored in GGUF row order expect.
 */
function rope(x: Vector, offset: number, headDim: number, position: number, theta: number, style: 'half' | 'interleaved'): void {
  for (let i = 0; i < headDim / 2; i++) {
    const angle = position * theta ** (-(2 * i) / headDim);
    const [a, b] = style === 'half' ? [offset + i, offset + i + headDim / 2] : [offset + 2 * i, offset + 2 * i + 1];
    const [xa, xb] = [x[a]!, x[b]!];
    x[a] = xa * Math.cos(angle) - xb * Math.sin(angle);
    x[b] = xb * Math.cos(angle) + xa * Math.sin(angle);
  }
}

/** Causal attention of every position over earlier ones; q/k/v per position, GQA groups. */
function attention(qs: Vector[], ks: Vector[], vs: Vector[], heads: number, kvHeads: number, headDim: number): Vector[] {
  const group = heads / kvHeads;
  return qs.map((q, t) => {
    const out = new Float64Array(heads * headDim);
    for (let h = 0; h < heads; h++) {
      const g = Math.floor(h / group);
      const scores = ks.slice(0, t + 1).map((k) => {
        let s = 0;
        for (let d = 0; d < headDim; d++) s += q[h * headDim + d]! * k[g * headDim + d]!;
        return s / Math.sqrt(headDim);
      });
      const max = Math.max(...scores);
      const weights = scores.map((s) => Math.exp(s - max));
      const total = weights.reduce((a, b) => a + b, 0);
      weights.forEach((w, j) => {
        for (let d = 0; d < headDim; d++) out[h * headDim + d]! += (w / total) * vs[j]![g * headDim + d]!;
      });
    }
    return out;
  });
}

/** Logits of a Llama model for `tokens`, whatever its naming (HF: rotate_half RoPE; GGUF: interleaved RoPE). */
function llamaLogits(model: ModelTensors, tokens: number[]): Vector[] {
  const gguf = model.tensors.has('token_embd.weight');
  const get = (hfName: string): TensorData => requireTensor(model, gguf ? ggufNameForHfLlama(hfName)! : hfName);
  const { hidden, heads, kvHeads, headDim, layers, tieEmbeddings } = model.architecture;
  const eps = model.architecture.normEps ?? 1e-5;
  const theta = model.architecture.ropeTheta ?? 10000;
  const embed = get('model.embed_tokens.weight');
  const xs = tokens.map((id) => Float64Array.from(embed.data.subarray(id * hidden, (id + 1) * hidden)));
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    const normed = xs.map((x) => rmsNorm(x, get(`${p}input_layernorm.weight`), eps));
    const qs = normed.map((x) => linear(get(`${p}self_attn.q_proj.weight`), x));
    const ks = normed.map((x) => linear(get(`${p}self_attn.k_proj.weight`), x));
    const vs = normed.map((x) => linear(get(`${p}self_attn.v_proj.weight`), x));
    qs.forEach((q, t) => { for (let h = 0; h < heads; h++) rope(q, h * headDim, headDim, t, theta, gguf ? 'interleaved' : 'half'); });
    ks.forEach((k, t) => { for (let h = 0; h < kvHeads; h++) rope(k, h * headDim, headDim, t, theta, gguf ? 'interleaved' : 'half'); });
    attention(qs, ks, vs, heads, kvHeads, headDim).forEach((a, t) => addInPlace(xs[t]!, linear(get(`${p}self_attn.o_proj.weight`), a)));
    for (const x of xs) {
      const n = rmsNorm(x, get(`${p}post_attention_layernorm.weight`), eps);
      const gate = linear(get(`${p}mlp.gate_proj.weight`), n);
      const up = linear(get(`${p}mlp.up_proj.weight`), n);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
      addInPlace(x, linear(get(`${p}mlp.down_proj.weight`), act));
    }
  }
  const head = tieEmbeddings ? embed : get('lm_head.weight');
  return xs.map((x) => linear(head, rmsNorm(x, get('model.norm.weight'), eps)));
}

/** Logits of a GPT-2 model (transformers names, Conv1D layouts, gelu_new, tied wte). */
function gpt2Logits(model: ModelTensors, tokens: number[]): Vector[] {
  const get = (name: string): TensorData => requireTensor(model, `transformer.${name}`);
  const { hidden, heads, layers } = model.architecture;
  const headDim = hidden / heads;
  const eps = model.architecture.normEps ?? 1e-5;
  const wte = get('wte.weight');
  const wpe = get('wpe.weight');
  const xs = tokens.map((id, t) => Float64Array.from({ length: hidden }, (_, c) => wte.data[id * hidden + c]! + wpe.data[t * hidden + c]!));
  const gelu = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  for (let l = 0; l < layers; l++) {
    const p = `h.${l}.`;
    const qkv = xs.map((x) => conv1d(get(`${p}attn.c_attn.weight`), get(`${p}attn.c_attn.bias`), layerNorm(x, get(`${p}ln_1.weight`), get(`${p}ln_1.bias`), eps)));
    const part = (k: number): Vector[] => qkv.map((v) => v.slice(k * hidden, (k + 1) * hidden));
    attention(part(0), part(1), part(2), heads, heads, headDim).forEach((a, t) => addInPlace(xs[t]!, conv1d(get(`${p}attn.c_proj.weight`), get(`${p}attn.c_proj.bias`), a)));
    for (const x of xs) {
      const h = conv1d(get(`${p}mlp.c_fc.weight`), get(`${p}mlp.c_fc.bias`), layerNorm(x, get(`${p}ln_2.weight`), get(`${p}ln_2.bias`), eps));
      addInPlace(x, conv1d(get(`${p}mlp.c_proj.weight`), get(`${p}mlp.c_proj.bias`), h.map(gelu)));
    }
  }
  return xs.map((x) => linear(wte, layerNorm(x, get('ln_f.weight'), get('ln_f.bias'), eps)));
}

function maxAbsDifference(a: Vector[], b: Vector[]): number {
  let max = 0;
  a.forEach((row, t) => row.forEach((v, i) => (max = Math.max(max, Math.abs(v - b[t]![i]!)))));
  return max;
}

function maxAbs(a: Vector[]): number {
  return Math.max(...a.map((row) => Math.max(...row.map(Math.abs))));
}

/** Same function: logits agree to 1e-5 (relative to their scale, which is about 0.1 to 1 here). */
function assertSameLogits(expected: Vector[], actual: Vector[], what: string): void {
  const diff = maxAbsDifference(expected, actual);
  assert.ok(maxAbs(expected) > 1e-3, `${what}: logits are degenerate`);
  assert.ok(diff <= 1e-5 * Math.max(1, maxAbs(expected)), `${what}: logits differ by ${diff}`);
}

function assertChanged(before: ModelTensors, after: ModelTensors, name: string): void {
  const a = requireTensor(before, name).data;
  const b = requireTensor(after, name).data;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  assert.ok(diff > 1e-4, `${name} did not change (max diff ${diff})`);
}

function assertUnchanged(before: ModelTensors, after: ModelTensors, name: string): void {
  assert.deepEqual(requireTensor(after, name).data, requireTensor(before, name).data, `${name} changed`);
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

// ---- fixtures ------------------------------------------------------------------------------------

const LLAMA_OPTIONS = { hidden: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 688, vocab: 512, seed: 'fixture-llama' };
const TOKENS = [5, 300, 17, 311, 99];

let llama: ModelTensors;
let gpt2: ModelTensors;
let tempRoot: string;

before(async () => {
  llama = makeSyntheticLlama(LLAMA_OPTIONS);
  gpt2 = makeSyntheticGpt2({ hidden: 64, layers: 2, heads: 4, vocab: 320, seed: 'fixture-gpt2' });
  tempRoot = await mkdtemp(path.join(os.tmpdir(), 'lineage-fixtures-'));
});

after(async () => {
  await rm(tempRoot, { recursive: true, force: true });
});

let folderCounter = 0;
function tempFolder(label: string): string {
  return path.join(tempRoot, `${folderCounter++}-${label}`);
}

// ---- tests ----------------------------------------------------------------------------------------

describe('synthetic models', () => {
  it('makeSyntheticLlama is deterministic per seed and has Hugging Face Llama names and shapes', () => {
    const again = makeSyntheticLlama(LLAMA_OPTIONS);
    const other = makeSyntheticLlama({ ...LLAMA_OPTIONS, seed: 'another' });
    assert.deepEqual([...again.tensors.keys()], [...llama.tensors.keys()]);
    for (const [name, t] of llama.tensors) assert.deepEqual(requireTensor(again, name).data, t.data, name);
    assert.equal(again.files.get('tokenizer.json'), llama.files.get('tokenizer.json'));
    assert.ok(Math.abs(cosine(requireTensor(other, 'model.embed_tokens.weight').data, requireTensor(llama, 'model.embed_tokens.weight').data)) < 0.01);
    assert.deepEqual(requireTensor(llama, 'model.layers.1.self_attn.k_proj.weight').shape, [128, 256]);
    assert.deepEqual(requireTensor(llama, 'model.layers.0.mlp.down_proj.weight').shape, [256, 688]);
    assert.ok(llama.tensors.has('lm_head.weight'));
    assert.ok(!makeSyntheticLlama({ ...LLAMA_OPTIONS, tieEmbeddings: true }).tensors.has('lm_head.weight'));
    // Init scales: 0.02, and 0.02 / sqrt(2 * layers) for the projections into the residual stream.
    assert.ok(Math.abs(rootMeanSquare(requireTensor(llama, 'model.layers.0.mlp.up_proj.weight').data) - 0.02) < 0.001);
    assert.ok(Math.abs(rootMeanSquare(requireTensor(llama, 'model.layers.0.self_attn.o_proj.weight').data) - 0.01) < 0.001);
  });

  it('norm gains look trained: spread around 1 with a few large outlier channels shared by all layers', () => {
    const gains = requireTensor(llama, 'model.layers.0.input_layernorm.weight').data;
    const outliers = [...gains.keys()].filter((i) => gains[i]! > 2.5);
    assert.equal(outliers.length, 3);
    const bulk = [...gains].filter((g) => g < 2.5);
    const mean = bulk.reduce((a, b) => a + b, 0) / bulk.length;
    const std = Math.sqrt(bulk.reduce((a, b) => a + (b - mean) ** 2, 0) / bulk.length);
    assert.ok(Math.abs(mean - 1) < 0.05 && Math.abs(std - 0.2) < 0.04, `mean ${mean} std ${std}`);
    const finalGains = requireTensor(llama, 'model.norm.weight').data;
    assert.deepEqual([...finalGains.keys()].filter((i) => finalGains[i]! > 2.5), outliers);
  });

  it('the written folder opens with the declared architecture and a vocabulary of `vocab` distinct tokens', async () => {
    const folder = tempFolder('llama-st');
    await writeModelFolder(llama, folder, { format: 'safetensors' });
    const opened = await openModel(folder);
    try {
      assert.equal(opened.format, 'safetensors');
      assert.equal(opened.architecture?.family, 'llama');
      assert.equal(opened.architecture?.hiddenSize, 256);
      assert.equal(opened.architecture?.kvHeads, 2);
      assert.equal(opened.vocabulary?.tokens.length, 512);
      assert.equal(new Set(opened.vocabulary!.tokens).size, 512);
      assert.equal(opened.vocabulary?.convention, 'byte-level');
      assert.ok(opened.vocabulary!.merges.length > 100);
      for (const info of opened.tensors) assert.deepEqual(await opened.store.readAll(info.name), requireTensor(llama, info.name).data, info.name);
    } finally {
      await opened.close();
    }
  });
});

describe('fineTuneDrift', () => {
  it('adds noise of exactly the requested relative size to every tensor, norms included', () => {
    const drifted = fineTuneDrift(llama, { relativeScale: 0.01, seed: 1 });
    for (const [name, t] of llama.tensors) {
      const after = requireTensor(drifted, name).data;
      const delta = Float32Array.from(t.data, (v, i) => after[i]! - v);
      const ratio = rootMeanSquare(delta) / rootMeanSquare(t.data);
      // 256 samples for norm vectors: std of the estimate about 4.5%; matrices are far tighter.
      const tolerance = t.data.length >= 10_000 ? 0.02 : 0.15;
      assert.ok(Math.abs(ratio / 0.01 - 1) < tolerance, `${name}: relative drift ${ratio}`);
    }
    assert.deepEqual(requireTensor(fineTuneDrift(llama, { relativeScale: 0.01, seed: 1 }), 'model.norm.weight').data, requireTensor(drifted, 'model.norm.weight').data);
    // The input is untouched.
    assert.deepEqual(requireTensor(llama, 'model.norm.weight').data, makeSyntheticLlama(LLAMA_OPTIONS).tensors.get('model.norm.weight')!.data);
  });
});

describe('independentInit', () => {
  it('keeps names, shapes, per-tensor RMS and the norm-gain distribution, and shares nothing', () => {
    const fresh = independentInit(llama, 'negative');
    assert.deepEqual([...fresh.tensors.keys()], [...llama.tensors.keys()]);
    for (const [name, t] of llama.tensors) {
      const f = requireTensor(fresh, name);
      assert.deepEqual(f.shape, t.shape);
      assert.ok(Math.abs(rootMeanSquare(f.data) / rootMeanSquare(t.data) - 1) < 0.15, `${name} rms`);
      if (!name.endsWith('norm.weight')) assert.ok(Math.abs(cosine(f.data, t.data)) < 0.05, `${name} correlates`);
    }
    const before = requireTensor(llama, 'model.layers.1.post_attention_layernorm.weight').data;
    const after = requireTensor(fresh, 'model.layers.1.post_attention_layernorm.weight').data;
    const outliersOf = (g: Float32Array): number[] => [...g.keys()].filter((i) => g[i]! > 2.5);
    assert.equal(outliersOf(after).length, outliersOf(before).length);
    assert.notDeepEqual(outliersOf(after), outliersOf(before));
    // Centered gains (what a norm-gain signal correlates) are unrelated.
    const center = (g: Float32Array): Float32Array => Float32Array.from(g, (v) => v - 1);
    const bulk = (g: Float32Array, other: Float32Array): Float32Array => Float32Array.from(g, (v, i) => (g[i]! > 2.5 || other[i]! > 2.5 ? 0 : v));
    assert.ok(Math.abs(cosine(bulk(center(before), after), bulk(center(after), before))) < 0.25);
  });

  it('independentInitLike resamples each tensor from its own values (heavy tails kept) for real models', async () => {
    const stories = await loadModelTensors(zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'));
    const fresh = independentInitLike(stories, 'negative');
    for (const [name, t] of stories.tensors) {
      const f = requireTensor(fresh, name);
      assert.ok(Math.abs(rootMeanSquare(f.data) / rootMeanSquare(t.data) - 1) < 0.15, `${name} rms`);
      if (t.data.length > 1000) {
        assert.ok(Math.abs(cosine(f.data, t.data)) < 0.1, `${name} correlates`);
        const sortedBefore = Float32Array.from(t.data).sort();
        const sortedAfter = Float32Array.from(f.data).sort();
        const q = Math.floor(t.data.length * 0.999);
        assert.ok(Math.abs(sortedAfter[q]! / sortedBefore[q]! - 1) < 0.3, `${name} tail`);
      }
    }
  });
});

describe('function-preserving transformations', () => {
  const llamaReference = (): Vector[] => llamaLogits(llama, TOKENS);
  const gpt2Reference = (): Vector[] => gpt2Logits(gpt2, TOKENS);

  it('permuteMlpNeurons keeps Llama and GPT-2 outputs and moves gate/up rows, down columns, c_fc columns', () => {
    const llamaPermuted = permuteMlpNeurons(llama, 7);
    assertSameLogits(llamaReference(), llamaLogits(llamaPermuted, TOKENS), 'llama');
    for (const name of ['mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']) assertChanged(llama, llamaPermuted, `model.layers.1.${name}.weight`);
    assertUnchanged(llama, llamaPermuted, 'model.layers.1.self_attn.q_proj.weight');
    // A row permutation: the multiset of gate rows is the same.
    const gate = requireTensor(llama, 'model.layers.0.mlp.gate_proj.weight');
    const permutedGate = requireTensor(llamaPermuted, 'model.layers.0.mlp.gate_proj.weight');
    const firstRow = permutedGate.data.subarray(0, 256);
    assert.ok([...Array(688).keys()].some((r) => gate.data.subarray(r * 256, r * 256 + 256).every((v, i) => v === firstRow[i])));

    const gpt2Permuted = permuteMlpNeurons(gpt2, 7);
    assertSameLogits(gpt2Reference(), gpt2Logits(gpt2Permuted, TOKENS), 'gpt2');
    for (const name of ['mlp.c_fc.weight', 'mlp.c_fc.bias', 'mlp.c_proj.weight']) assertChanged(gpt2, gpt2Permuted, `transformer.h.0.${name}`);
    assertUnchanged(gpt2, gpt2Permuted, 'transformer.h.0.mlp.c_proj.bias');
  });

  it('permuteResidualChannels keeps Llama (RMSNorm) and GPT-2 (LayerNorm, wpe, biases) outputs', () => {
    const llamaPermuted = permuteResidualChannels(llama, 11);
    assertSameLogits(llamaReference(), llamaLogits(llamaPermuted, TOKENS), 'llama');
    for (const name of ['model.embed_tokens.weight', 'lm_head.weight', 'model.norm.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.down_proj.weight']) {
      assertChanged(llama, llamaPermuted, name);
    }
    const gpt2Permuted = permuteResidualChannels(gpt2, 11);
    assertSameLogits(gpt2Reference(), gpt2Logits(gpt2Permuted, TOKENS), 'gpt2');
    for (const name of ['wte.weight', 'wpe.weight', 'ln_f.bias', 'h.1.attn.c_attn.weight', 'h.1.attn.c_proj.bias', 'h.1.mlp.c_proj.weight']) {
      assertChanged(gpt2, gpt2Permuted, `transformer.${name}`);
    }
    // c_attn's bias lives on the q/k/v axis, not the residual one.
    assertUnchanged(gpt2, gpt2Permuted, 'transformer.h.1.attn.c_attn.bias');
  });

  it('rescaleMlpChannels keeps outputs: up/down for gated Llama, v/o for GPT-2 (gate and c_fc untouched)', () => {
    const llamaScaled = rescaleMlpChannels(llama, 3);
    assertSameLogits(llamaReference(), llamaLogits(llamaScaled, TOKENS), 'llama');
    assertChanged(llama, llamaScaled, 'model.layers.0.mlp.up_proj.weight');
    assertChanged(llama, llamaScaled, 'model.layers.0.mlp.down_proj.weight');
    assertUnchanged(llama, llamaScaled, 'model.layers.0.mlp.gate_proj.weight');
    // Row norms of up change by factors in [0.5, 2].
    const up = requireTensor(llama, 'model.layers.0.mlp.up_proj.weight').data;
    const scaledUp = requireTensor(llamaScaled, 'model.layers.0.mlp.up_proj.weight').data;
    for (let r = 0; r < 688; r++) {
      const factor = rootMeanSquare(scaledUp.subarray(r * 256, r * 256 + 256)) / rootMeanSquare(up.subarray(r * 256, r * 256 + 256));
      assert.ok(factor > 0.499 && factor < 2.001, `row ${r} factor ${factor}`);
    }

    const gpt2Scaled = rescaleMlpChannels(gpt2, 3);
    assertSameLogits(gpt2Reference(), gpt2Logits(gpt2Scaled, TOKENS), 'gpt2');
    assertChanged(gpt2, gpt2Scaled, 'transformer.h.0.attn.c_proj.weight');
    assertUnchanged(gpt2, gpt2Scaled, 'transformer.h.0.mlp.c_fc.weight');
    // Only the V third of c_attn (columns 2H..3H of the [in, 3H] weight) is scaled.
    const before = requireTensor(gpt2, 'transformer.h.0.attn.c_attn.weight').data;
    const after = requireTensor(gpt2Scaled, 'transformer.h.0.attn.c_attn.weight').data;
    for (let c = 0; c < 192; c++) assert.equal(after[c] === before[c], c < 128, `column ${c}`);
  });

  it('the same transformations preserve the real stories260K model (GGUF names, GQA, interleaved RoPE) and tiny-gpt2', async () => {
    const stories = await loadModelTensors(zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'));
    const reference = llamaLogits(stories, [1, 50, 200, 300]);
    for (const transform of [permuteMlpNeurons, permuteResidualChannels, rescaleMlpChannels]) {
      const transformed = transform(stories, 5);
      assertSameLogits(reference, llamaLogits(transformed, [1, 50, 200, 300]), `stories260K ${transform.name}`);
    }
    const tiny = await loadModelTensors(zooPath('tiny-gpt2'));
    assert.equal(tiny.architecture.family, 'gpt2');
    assert.deepEqual([...tiny.files.keys()].sort(), ['config.json', 'generation_config.json', 'merges.txt', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json']);
    const tinyReference = gpt2Logits(tiny, [464, 3290, 318]);
    for (const transform of [permuteMlpNeurons, permuteResidualChannels, rescaleMlpChannels]) {
      const transformed = transform(tiny, 5);
      const diff = maxAbsDifference(tinyReference, gpt2Logits(transformed, [464, 3290, 318]));
      // tiny-gpt2's logits are about 0.1 in size (a 1e-3 relative drift moves them by 1e-4).
      assert.ok(diff <= 1e-5 * maxAbs(tinyReference), `tiny-gpt2 ${transform.name}: ${diff}`);
    }
  });
});

describe('structural transformations', () => {
  it('extendVocabulary appends N mean-initialized rows and N new distinct added tokens', async () => {
    const extended = extendVocabulary(llama, 24, 9);
    assert.equal(extended.architecture.vocab, 536);
    for (const name of ['model.embed_tokens.weight', 'lm_head.weight']) {
      const t = requireTensor(extended, name);
      assert.deepEqual(t.shape, [536, 256]);
      assert.deepEqual(t.data.subarray(0, 512 * 256), requireTensor(llama, name).data);
      // New rows sit at the mean row: far closer to it than any original row is.
      const mean = new Float64Array(256);
      for (let r = 0; r < 512; r++) for (let c = 0; c < 256; c++) mean[c]! += t.data[r * 256 + c]! / 512;
      const newRow = t.data.subarray(520 * 256, 521 * 256);
      const distance = Math.sqrt(newRow.reduce((s, v, c) => s + (v - mean[c]!) ** 2, 0));
      assert.ok(distance < 0.1 * 0.02 * Math.sqrt(256), `new row is ${distance} from the mean`);
    }
    assert.equal(readJsonFile(extended, 'config.json')?.['vocab_size'], 536);
    const folder = tempFolder('extended');
    await writeModelFolder(extended, folder, { format: 'safetensors' });
    const opened = await openModel(folder);
    try {
      const vocabulary = opened.vocabulary!;
      assert.equal(vocabulary.tokens.length, 536);
      assert.equal(vocabulary.addedTokenCount, 24);
      assert.equal(new Set(vocabulary.tokens).size, 536);
      assert.equal(opened.architecture?.vocabSize, 536);
    } finally {
      await opened.close();
    }
  });

  it('extendVocabulary on a GGUF model extends the embedded token list', async () => {
    const stories = await loadModelTensors(zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'));
    const extended = extendVocabulary(stories, 8, 2);
    const folder = tempFolder('stories-extended');
    await writeModelFolder(extended, folder, { format: 'gguf-f32' });
    const opened = await openModel(folder);
    try {
      assert.equal(opened.vocabulary?.tokens.length, 520);
      assert.equal(opened.vocabulary?.addedTokenCount, 8);
      assert.deepEqual(opened.tensors.find((t) => t.name === 'token_embd.weight')?.shape, [520, 64]);
      assert.deepEqual(opened.tensors.find((t) => t.name === 'output.weight')?.shape, [520, 64]);
    } finally {
      await opened.close();
    }
  });

  it('dropLayer removes one layer and renumbers the following ones', () => {
    const three = makeSyntheticLlama({ ...LLAMA_OPTIONS, layers: 3 });
    const pruned = dropLayer(three, 1);
    assert.equal(pruned.architecture.layers, 2);
    assert.equal(readJsonFile(pruned, 'config.json')?.['num_hidden_layers'], 2);
    assert.equal(pruned.tensors.size, three.tensors.size - 9);
    assert.ok(![...pruned.tensors.keys()].some((n) => n.startsWith('model.layers.2.')));
    assert.deepEqual(requireTensor(pruned, 'model.layers.1.mlp.up_proj.weight').data, requireTensor(three, 'model.layers.2.mlp.up_proj.weight').data);
    assert.deepEqual(requireTensor(pruned, 'model.layers.0.mlp.up_proj.weight').data, requireTensor(three, 'model.layers.0.mlp.up_proj.weight').data);
    const gpt2Pruned = dropLayer(gpt2, 0);
    assert.equal(readJsonFile(gpt2Pruned, 'config.json')?.['n_layer'], 1);
    assert.deepEqual(requireTensor(gpt2Pruned, 'transformer.h.0.ln_1.bias').data, requireTensor(gpt2, 'transformer.h.1.ln_1.bias').data);
  });

  it('dropLayer on a GGUF model renames blk.N and updates block_count', async () => {
    const stories = await loadModelTensors(zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'));
    const pruned = dropLayer(stories, 4);
    assert.equal(ggufMetadataValue(pruned, 'llama.block_count'), 4);
    const folder = tempFolder('stories-pruned');
    await writeModelFolder(pruned, folder, { format: 'gguf-f32' });
    const opened = await openModel(folder);
    try {
      assert.equal(opened.architecture?.layers, 4);
      assert.ok(!opened.tensors.some((t) => t.name.startsWith('blk.4.')));
    } finally {
      await opened.close();
    }
  });

  it('averageModels is the element-wise weighted average', () => {
    const a = fineTuneDrift(llama, { relativeScale: 0.05, seed: 'a' });
    const b = fineTuneDrift(llama, { relativeScale: 0.05, seed: 'b' });
    const merged = averageModels(a, b, 0.25);
    const name = 'model.layers.0.self_attn.v_proj.weight';
    const [ta, tb, tm] = [requireTensor(a, name).data, requireTensor(b, name).data, requireTensor(merged, name).data];
    for (let i = 0; i < tm.length; i += 97) assert.equal(tm[i], Math.fround(0.25 * ta[i]! + 0.75 * tb[i]!));
    assert.throws(() => averageModels(llama, gpt2), /tensors|no tensor/);
  });
});

describe('writeModelFolder', () => {
  it('exports the Hugging Face -> GGUF name map and the RoPE permutation round-trips', () => {
    assert.equal(ggufNameForHfLlama('model.layers.3.self_attn.o_proj.weight'), 'blk.3.attn_output.weight');
    assert.equal(ggufNameForHfLlama('lm_head.weight'), 'output.weight');
    assert.equal(hfLlamaNameForGguf('blk.12.ffn_gate.weight'), 'model.layers.12.mlp.gate_proj.weight');
    assert.equal(HF_TO_GGUF_LLAMA_TENSOR_NAMES.length, 12);
    // reshape(n_head, 2, d/2, cols).swapaxes(1, 2): 2 heads of 4 rows -> rows 0 2 1 3 | 4 6 5 7.
    const rows = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual([...permuteRowsForGgufRope(rows, 8, 1, 2)], [0, 2, 1, 3, 4, 6, 5, 7]);
    const prng = createPrng('rope');
    const w = Float32Array.from({ length: 64 * 16 }, () => prng.gaussian());
    assert.deepEqual(unpermuteRowsFromGgufRope(permuteRowsForGgufRope(w, 64, 16, 8), 64, 16, 8), w);
  });

  it('gguf-f32 stores llama.cpp names, metadata and RoPE-permuted q/k; the model computes the same logits', async () => {
    const folder = tempFolder('llama-gguf-f32');
    const written = await writeModelFolder(llama, folder, { format: 'gguf-f32' });
    const opened = await openModel(written.weightsPath);
    try {
      const meta = opened.gguf!.metadata;
      assert.equal(meta.get('general.architecture'), 'llama');
      assert.equal(meta.get('llama.block_count'), 2);
      assert.equal(meta.get('llama.attention.head_count_kv'), 2);
      assert.equal(meta.get('llama.feed_forward_length'), 688);
      assert.equal(meta.get('llama.rope.freq_base'), 10000);
      assert.equal(meta.get('tokenizer.ggml.model'), 'gpt2');
      assert.equal(opened.vocabulary?.tokens.length, 512);
      assert.equal(opened.vocabulary?.convention, 'byte-level');
      assert.equal(opened.architecture?.kvHeads, 2);
    } finally {
      await opened.close();
    }
    const reloaded = await loadModelTensors(written.weightsPath);
    assert.ok(reloaded.tensors.has('blk.1.attn_k.weight'));
    const q = requireTensor(reloaded, 'blk.0.attn_q.weight');
    assert.notDeepEqual(q.data, requireTensor(llama, 'model.layers.0.self_attn.q_proj.weight').data);
    assert.deepEqual(unpermuteRowsFromGgufRope(q.data, 256, 256, 4), requireTensor(llama, 'model.layers.0.self_attn.q_proj.weight').data);
    const k = requireTensor(reloaded, 'blk.0.attn_k.weight');
    assert.deepEqual(unpermuteRowsFromGgufRope(k.data, 128, 256, 2), requireTensor(llama, 'model.layers.0.self_attn.k_proj.weight').data);
    // The permuted rows with ggml's interleaved RoPE compute what HF rows with rotate_half compute.
    assertSameLogits(llamaLogits(llama, TOKENS), llamaLogits(reloaded, TOKENS), 'gguf vs hf');
  });

  it('gguf-f16 / q8_0 / q4_k decode within their quantization error; types follow llama.cpp rules', async () => {
    const reference = await loadModelTensors(((await writeModelFolder(llama, tempFolder('ref'), { format: 'gguf-f32' })).weightsPath));
    const cases = [
      { format: 'gguf-f16', matrixType: 'F16', downType: 'F16' },
      { format: 'gguf-q8_0', matrixType: 'Q8_0', downType: 'F16' }, // 688 = 21.5 blocks of 32
      { format: 'gguf-q4_k', matrixType: 'Q4_K', downType: 'F16' },
    ] as const;
    for (const { format, matrixType, downType } of cases) {
      const written = await writeModelFolder(llama, tempFolder(format), { format });
      const opened = await openModel(written.weightsPath);
      const stored = new Map(opened.tensors.map((t) => [t.name, t.dtype as string]));
      await opened.close();
      assert.equal(stored.get('blk.0.ffn_up.weight'), matrixType, format);
      assert.equal(stored.get('blk.0.ffn_down.weight'), downType, format);
      assert.equal(stored.get('blk.0.attn_norm.weight'), 'F32', format);
      const decoded = await loadModelTensors(written.weightsPath);
      for (const [name, t] of reference.tensors) {
        const got = requireTensor(decoded, name).data;
        const type = stored.get(name);
        if (type === 'F32') {
          assert.deepEqual(got, t.data, name);
        } else if (type === 'F16') {
          for (let i = 0; i < got.length; i += 31) assert.equal(got[i], f16ToNumber(float32ToF16Bits(t.data[i]!)), name);
        } else if (type === 'Q8_0') {
          // Per block of 32: |error| <= d / 2 with d = max|x| / 127 (plus the f16 rounding of d).
          for (let b = 0; b < got.length / 32; b++) {
            const block = t.data.subarray(b * 32, b * 32 + 32);
            const d = Math.max(...block.map(Math.abs)) / 127;
            for (let j = 0; j < 32; j++) assert.ok(Math.abs(got[b * 32 + j]! - block[j]!) <= 0.5 * d * 1.01 + 127 * d * 1e-3, `${name} block ${b}`);
          }
        } else {
          // Q4_K: 4-bit levels with 6-bit sub-block scales: RMS error well under a tenth of the RMS.
          const error = rootMeanSquare(Float32Array.from(got, (v, i) => v - t.data[i]!));
          assert.ok(error < 0.1 * rootMeanSquare(t.data), `${name} Q4_K error ${error}`);
          assert.ok(cosine(got, t.data) > 0.99, `${name} cosine`);
        }
      }
    }
  });

  it('a zoo GGUF keeps its metadata and tokenizer through a rewrite; to safetensors it gets HF names and un-permuted q/k', async () => {
    const storiesPath = zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf');
    const stories = await loadModelTensors(storiesPath);
    assert.ok(stories.ggufMetadata && stories.ggufMetadata.length > 10);
    const original = await openModel(storiesPath);
    const originalTokens = original.vocabulary!.tokens;
    await original.close();

    const q8 = await writeModelFolder(stories, tempFolder('stories-q8'), { format: 'gguf-q8_0' });
    const reopened = await openModel(q8.weightsPath);
    try {
      assert.deepEqual(reopened.vocabulary?.tokens, originalTokens);
      assert.equal(reopened.gguf?.metadata.get('llama.attention.layer_norm_rms_epsilon'), stories.ggufMetadata!.find(([k]) => k === 'llama.attention.layer_norm_rms_epsilon')?.[1]);
      assert.deepEqual(reopened.gguf?.metadata.get('tokenizer.ggml.scores'), stories.ggufMetadata!.find(([k]) => k === 'tokenizer.ggml.scores')?.[1]);
      assert.equal(reopened.tensors.find((t) => t.name === 'blk.0.ffn_down.weight')?.dtype, 'F16'); // 172 is not a multiple of 32
      assert.equal(reopened.tensors.find((t) => t.name === 'blk.0.ffn_up.weight')?.dtype, 'Q8_0');
    } finally {
      await reopened.close();
    }

    const st = await writeModelFolder(stories, tempFolder('stories-st'), { format: 'safetensors' });
    const asHf = await loadModelTensors(st.folder);
    assert.ok(asHf.tensors.has('model.layers.0.self_attn.q_proj.weight'));
    assert.equal(asHf.architecture.kvHeads, 4);
    assertSameLogits(llamaLogits(stories, [1, 50, 200]), llamaLogits(asHf, [1, 50, 200]), 'stories260K as HF');
    const hfOpened = await openModel(st.folder);
    try {
      assert.deepEqual(hfOpened.vocabulary?.tokens, originalTokens);
    } finally {
      await hfOpened.close();
    }
  });

  it('tiny-gpt2 from the zoo round-trips through safetensors with its tokenizer files', async () => {
    const tiny = await loadModelTensors(zooPath('tiny-gpt2'));
    const drifted = fineTuneDrift(tiny, { relativeScale: 0.01, seed: 4 });
    const folder = tempFolder('tiny-gpt2-drift');
    await writeModelFolder(drifted, folder, { format: 'safetensors' });
    const opened = await openModel(folder);
    try {
      assert.equal(opened.vocabulary?.tokens.length, 50257);
      assert.equal(opened.tensors.length, 28);
      for (const info of opened.tensors) assert.deepEqual(await opened.store.readAll(info.name), requireTensor(drifted, info.name).data, info.name);
    } finally {
      await opened.close();
    }
    await assert.rejects(writeModelFolder(tiny, tempFolder('tiny-gguf'), { format: 'gguf-f32' }), /only llama models/);
  });
});
