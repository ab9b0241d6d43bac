// Dockerfile, shell script and Ollama Modelfile finders: CLI positional ids, model flags, ENV forms, exec form.
import * as assert from 'node:assert/strict';
import { findReferences } from '../../server/src/references';
import type { ModelReferenceSite } from '../../server/src/references/types';
import { assertRangesCoverIds, range, readDocument, siteFor, textAt } from './helpers';

describe('references/shell', () => {
  describe('Dockerfile', () => {
    const text = readDocument('Dockerfile');
    let sites: ModelReferenceSite[];
    before(async () => {
      sites = await findReferences(text, 'docker/Dockerfile.gpu');
    });

    it('reads ENV in both forms, with a revision variable across a line continuation', () => {
      const env = siteFor(sites, 'meta-llama/Llama-3.2-1B-Instruct');
      assert.equal(env.loader, 'env MODEL_ID');
      assert.deepEqual(env.range, range(1, 13, 1, 45));
      assert.equal(env.revision?.value, '0123456789abcdef0123456789abcdef01234567');
      assert.deepEqual(env.revision?.range, range(2, 22, 2, 62));
      assert.equal(siteFor(sites, 'tiiuae/falcon-7b').loader, 'env HF_MODEL_ID');
    });

    it('reads RUN commands joined by && and continuations, skipping flag values', () => {
      const download = siteFor(sites, 'TheBloke/Mistral-7B-GGUF');
      assert.equal(download.loader, 'huggingface-cli download');
      const dataset = siteFor(sites, 'HuggingFaceFW/fineweb-edu');
      assert.equal(dataset.loader, 'hf download');
      assert.equal(dataset.kind, 'dataset');
      assert.deepEqual(dataset.range, range(6, 36, 6, 61));
    });

    it('reads JSON exec form, GGUF quant selectors and scripts inside sh -c', () => {
      const vllm = siteFor(sites, 'unsloth/Qwen3-0.6B-GGUF');
      assert.equal(vllm.loader, 'vllm serve');
      assert.equal(vllm.quant, 'Q4_K_M');
      assert.equal(vllm.flags.trustRemoteCode, true);
      assert.equal(textAt(text, vllm.flags.trustRemoteCodeRange!), '--trust-remote-code');
      assert.equal(vllm.insertion, undefined, 'argv arrays need a new item, not inline text');
      const tgi = siteFor(sites, 'bigcode/starcoder2-3b');
      assert.equal(tgi.loader, 'text-generation-launcher --model-id');
      assert.equal(tgi.revision?.value, 'main');
      assert.equal(textAt(text, tgi.range), 'bigcode/starcoder2-3b');
    });

    it('ignores base images and commented-out commands', () => {
      assert.equal(sites.some((site) => site.id.includes('vllm-openai') || site.id.includes('commented')), false);
      assertRangesCoverIds(text, sites);
      assert.equal(sites.length, 6);
    });
  });

  describe('shell script', () => {
    const text = readDocument('serve.sh');
    let sites: ModelReferenceSite[];
    before(async () => {
      sites = await findReferences(text, 'serve.sh');
    });

    it('reads exported defaults and marks a bare variable as dynamic', () => {
      const exported = siteFor(sites, 'Qwen/Qwen2.5-0.5B');
      assert.equal(exported.envVar, 'MODEL_ID');
      assert.deepEqual(exported.range, range(2, 29, 2, 46));
      const dynamic = siteFor(sites, '$MODEL_ID');
      assert.equal(dynamic.flags.dynamic, true);
      assert.equal(dynamic.loader, 'vllm serve');
    });

    it('reads python -m servers, llama.cpp -hf and ollama hf.co references only', () => {
      const api = siteFor(sites, 'mistralai/Mistral-7B-v0.1');
      assert.equal(api.loader, 'vllm.entrypoints.openai.api_server --model');
      assert.equal(api.revision?.value, 'v0.1');
      assert.equal(siteFor(sites, 'ggml-org/gemma-3-1b-it-GGUF').quant, 'Q4_K_M');
      assert.equal(siteFor(sites, 'bartowski/SmolLM2-135M-GGUF').loader, 'ollama run');
      for (const id of ['llama3.2', 'local-name', 'org/in-a-comment', 'nvidia/cuda']) {
        assert.equal(sites.some((site) => site.id.startsWith(id)), false, id);
      }
      assert.equal(sites.length, 5);
    });
  });

  describe('Ollama Modelfile', () => {
    it('reads FROM hf.co / huggingface.co lines, not Ollama library names or local adapters', async () => {
      const text = readDocument('Modelfile');
      const sites = await findReferences(text, 'Modelfile');
      assert.deepEqual(sites.map((site) => site.id), ['bartowski/Llama-3.2-1B-Instruct-GGUF', 'org/lower-case']);
      const first = sites[0]!;
      assert.equal(first.loader, 'Modelfile FROM');
      assert.equal(first.quant, 'Q8_0');
      assert.deepEqual(first.range, range(0, 11, 0, 47));
      assert.equal(first.insertion, undefined);
    });
  });
});
