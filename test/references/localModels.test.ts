// Local model files named by path-only loaders: llama-cpp-python, PyTorch, safetensors, ONNX Runtime,
// llama.cpp CLIs, Ollama Modelfiles. Each is a local reference (never a Hub id to pin or look up).
import * as assert from 'node:assert/strict';
import { findReferences, initPythonParser } from '../../server/src/references';
import { assertRangesCoverIds, siteFor } from './helpers';

describe('references to local model files', () => {
  before(() => initPythonParser(undefined));

  it('reads llama-cpp-python, torch.load, safetensors and onnxruntime paths as local files', async () => {
    const text = [
      'from llama_cpp import Llama',
      'import torch, onnxruntime as ort',
      'from safetensors.torch import load_file',
      'llm = Llama(model_path="models/stories260K.gguf", n_ctx=256)',
      'hub = Llama.from_pretrained(repo_id="ggml-org/models", filename="tinyllamas/stories260K.gguf")',
      'state = torch.load("checkpoints/model.pt", weights_only=True)',
      'weights = load_file("weights/model.safetensors")',
      'session = ort.InferenceSession("exports/model.onnx")',
      '',
    ].join('\n');
    const sites = await findReferences(text, 'run.py');
    assertRangesCoverIds(text, sites);
    assert.deepEqual(siteFor(sites, 'models/stories260K.gguf', 'Llama').reference, { kind: 'local', path: 'models/stories260K.gguf' });
    const fromHub = siteFor(sites, 'ggml-org/models', 'Llama.from_pretrained');
    assert.equal(fromHub.reference?.kind, 'hub');
    assert.equal(fromHub.file, 'tinyllamas/stories260K.gguf');
    assert.equal(siteFor(sites, 'checkpoints/model.pt', 'torch.load').reference?.kind, 'local');
    assert.equal(siteFor(sites, 'weights/model.safetensors', 'safetensors.load_file').reference?.kind, 'local');
    assert.equal(siteFor(sites, 'exports/model.onnx', 'onnxruntime.InferenceSession').reference?.kind, 'local');
  });

  it('reads llama.cpp -m/--model paths as local files and -hf as a Hub repository with its quant', async () => {
    const text = 'llama-cli -m models/stories260K.gguf -p "Once"\nllama-server -hf ggml-org/gemma-3-1b-it-GGUF:Q4_K_M\nllama-server --model /srv/models/x.gguf\nvllm serve ./models/local-gpt2\nvllm serve --model llama3\n';
    const sites = await findReferences(text, 'serve.sh');
    assert.deepEqual(siteFor(sites, 'models/stories260K.gguf').reference, { kind: 'local', path: 'models/stories260K.gguf' });
    assert.equal(siteFor(sites, 'models/stories260K.gguf').insertion, undefined, 'no revision can be added to a file path');
    const hf = siteFor(sites, 'ggml-org/gemma-3-1b-it-GGUF');
    assert.equal(hf.reference?.kind, 'hub');
    assert.equal(hf.quant, 'Q4_K_M');
    assert.equal(siteFor(sites, '/srv/models/x.gguf').reference?.kind, 'local');
    assert.equal(siteFor(sites, './models/local-gpt2').reference?.kind, 'local');
    assert.equal(sites.some((s) => s.id === 'llama3'), false, 'a served name is not a reference');
  });

  it('reads a transformers.js pipeline path as a local folder', async () => {
    const sites = await findReferences("import { pipeline } from '@huggingface/transformers';\nconst p = await pipeline('text-generation', './models/local-gpt2');\n", 'web.ts');
    assert.deepEqual(siteFor(sites, './models/local-gpt2').reference, { kind: 'local', path: './models/local-gpt2' });
  });

  it('reads a Modelfile FROM of a local GGUF, not an Ollama library name', async () => {
    const text = 'FROM ./models/stories260K.gguf\nPARAMETER temperature 0.7\n';
    const sites = await findReferences(text, 'Modelfile');
    assertRangesCoverIds(text, sites);
    assert.deepEqual(sites.map((s) => [s.id, s.loader, s.reference?.kind]), [['./models/stories260K.gguf', 'Modelfile FROM', 'local']]);
    assert.deepEqual(await findReferences('FROM llama3.2\n', 'Modelfile'), []);
  });
});
