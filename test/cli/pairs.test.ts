// The weight pairs of ../shared/zoo/PAIRS.md through the real CLI: verdict, explanation, exit code.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Comparison } from '../../server/src/core/compare/types';
import { runCli } from '../support/cli';
import { zooPath } from '../support/zoo';

function compareJson(a: string, b: string): { comparison: Comparison; status: number; human: string } {
  const json = runCli(['compare', zooPath(a), zooPath(b), '--json']);
  assert.equal(json.stderr.includes('internal error'), false, json.stderr);
  const human = runCli(['compare', zooPath(a), zooPath(b), '--explain']);
  assert.equal(human.status, json.status, 'human and JSON runs must agree on the exit code');
  return { comparison: JSON.parse(json.stdout) as Comparison, status: json.status, human: human.stdout };
}

describe('PAIRS.md weight pairs through `lineage compare`', function () {
  this.timeout(240_000);

  it('W1: tiny-gpt2 safetensors vs its legacy pickle twin is same-weights', () => {
    const { comparison, status, human } = compareJson('tiny-gpt2/model.safetensors', 'tiny-gpt2/pytorch_model.bin');
    assert.equal(comparison.verdict, 'same-weights');
    assert.equal(status, 0);
    assert.match(comparison.reason, /identical values/);
    assert.match(human, /^verdict: same-weights/);
  });

  it('W2: the 70-step medical fine-tune is derived from tiny-gpt2 with p < 1e-12', () => {
    const { comparison, status, human } = compareJson('tiny-gpt2', 'tiny-gpt2-medical');
    assert.equal(comparison.verdict, 'derived');
    assert.equal(status, 0);
    assert.ok(comparison.lineageLog10P !== undefined && comparison.lineageLog10P < -12, `lineage log10 p = ${comparison.lineageLog10P}`);
    assert.match(comparison.reason, /under the null of independent initialization/);
    assert.match(human, /^verdict: derived/);
    assert.match(human, /evidence:/);
  });

  it('W4: the torch.save zip copy of the medical model is same-weights', () => {
    const { comparison, status } = compareJson('generated/tiny-gpt2-medical-torchzip', 'tiny-gpt2-medical');
    assert.equal(comparison.verdict, 'same-weights');
    assert.equal(status, 0);
  });

  it('N1: two independent random-init GPT-2 test models of different widths are never derived', () => {
    const { comparison, status } = compareJson('tiny-gpt2', 'ort-tiny-random-gpt2-fp32');
    assert.ok(['unrelated', 'same-family'].includes(comparison.verdict), `${comparison.verdict}: ${comparison.reason}`);
    assert.equal(status, 1);
    assert.ok(comparison.reason.length > 20);
  });

  it('N2: stories260K (Llama) vs tiny-gpt2 is unrelated', () => {
    const { comparison, status } = compareJson('tinyllamas-stories260K-gguf', 'tiny-gpt2');
    assert.equal(comparison.verdict, 'unrelated');
    assert.equal(status, 1);
    assert.match(comparison.reason, /no (weight lineage|shared structure)/);
  });

  it('N3: a voice-activity model vs tiny-gpt2 is unrelated or inconclusive, never an error', () => {
    const { comparison, status } = compareJson('silero-vad-16k-tinygrad', 'tiny-gpt2');
    assert.ok(['unrelated', 'inconclusive'].includes(comparison.verdict), comparison.verdict);
    assert.ok(status === 1 || status === 3);
  });

  it('W3: the fp16 ONNX export is a quantization of the fp32 one', () => {
    const { comparison, status } = compareJson('ort-tiny-random-gpt2-fp32', 'ort-tiny-random-gpt2-fp16');
    assert.ok(['quantized', 'same-weights'].includes(comparison.verdict), comparison.verdict);
    assert.equal(status, 0);
  });

  it('a fingerprint JSON file stands in for a model on either side', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lineage-fpjson-'));
    try {
      const fpFile = path.join(dir, 'tiny-gpt2.fingerprint.json');
      const written = runCli(['fingerprint', zooPath('tiny-gpt2'), '-o', fpFile]);
      assert.equal(written.status, 0, written.stderr);
      assert.match(written.stderr, /read .* of weights/);
      const vsModel = runCli(['compare', fpFile, zooPath('tiny-gpt2-medical'), '--json']);
      assert.equal(vsModel.status, 0, vsModel.stderr);
      assert.equal((JSON.parse(vsModel.stdout) as Comparison).verdict, 'derived');
      const both = runCli(['compare', fpFile, fpFile, '--json']);
      assert.equal(both.status, 0);
      assert.equal((JSON.parse(both.stdout) as Comparison).verdict, 'identical');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('usage errors exit 2', () => {
    assert.equal(runCli(['compare', zooPath('tiny-gpt2')]).status, 2);
    assert.equal(runCli(['compare', zooPath('tiny-gpt2'), zooPath('tiny-gpt2'), '--threshold', '7']).status, 2);
    assert.equal(runCli(['frobnicate']).status, 2);
  });

  it('a model compared with itself is identical', () => {
    const { comparison, status } = compareJson('tiny-gpt2', 'tiny-gpt2');
    assert.equal(comparison.verdict, 'identical');
    assert.equal(status, 0);
  });
});
