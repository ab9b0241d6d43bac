// YAML finder: Axolotl, LLaMA-Factory, mergekit, KServe, compose and Kubernetes documents with exact ranges.
import * as assert from 'node:assert/strict';
import { findReferences } from '../../server/src/references';
import type { ModelReferenceSite } from '../../server/src/references/types';
import { assertRangesCoverIds, range, readDocument, siteFor, textAt } from './helpers';

describe('references/yaml', () => {
  describe('training and merge configs (multi-document)', () => {
    const text = readDocument('axolotl.yml');
    let sites: ModelReferenceSite[];
    before(async () => {
      sites = await findReferences(text, 'configs/axolotl.yml');
    });

    it('reads Axolotl keys with the revision and trust_remote_code beside them', () => {
      const base = siteFor(sites, 'NousResearch/Meta-Llama-3-8B', 'axolotl.base_model');
      assert.deepEqual(base.range, range(1, 12, 1, 40));
      assert.deepEqual(base.revision, { value: '0123456789abcdef0123456789abcdef01234567', range: range(3, 19, 3, 59) });
      assert.equal(base.flags.trustRemoteCode, true);
      assert.equal(textAt(text, base.flags.trustRemoteCodeRange!), 'trust_remote_code: true');
      const config = siteFor(sites, 'NousResearch/Meta-Llama-3-8B', 'axolotl.base_model_config');
      assert.deepEqual(config.range, range(2, 20, 2, 48));
      assert.equal(siteFor(sites, 'tatsu-lab/alpaca').kind, 'dataset');
    });

    it('does not report output ids or local paths under unrelated keys', () => {
      assert.equal(sites.some((site) => site.id === 'me/my-finetune' || site.id.startsWith('./')), false);
    });

    it('splits LLaMA-Factory comma lists into separate adapter sites', () => {
      const model = siteFor(sites, 'Qwen/Qwen2.5-7B-Instruct');
      assert.equal(model.loader, 'llama-factory.model_name_or_path');
      assert.deepEqual(model.range, range(12, 21, 12, 45));
      assert.equal(model.revision?.value, 'v2.0');
      const second = siteFor(sites, 'org/lora-b');
      assert.equal(second.kind, 'adapter');
      assert.deepEqual(second.range, range(13, 34, 13, 44));
      assert.equal(siteFor(sites, 'org/lora-a').kind, 'adapter');
    });

    it('reads mergekit models, slices and base+lora syntax', () => {
      assert.equal(siteFor(sites, 'teknium/OpenHermes-2.5-Mistral-7B').loader, 'mergekit.base_model');
      assert.equal(siteFor(sites, 'Intel/neural-chat-7b-v3-3').loader, 'mergekit.models.model');
      assert.equal(siteFor(sites, 'org/base').kind, 'model');
      assert.equal(siteFor(sites, 'org/lora').kind, 'adapter');
      assert.equal(siteFor(sites, 'mistralai/Mistral-7B-v0.1').loader, 'mergekit.slices.sources.model');
      assertRangesCoverIds(text, sites);
      assert.equal(sites.length, 11);
    });
  });

  describe('deployments', () => {
    const text = readDocument('deploy.yaml');
    let sites: ModelReferenceSite[];
    before(async () => {
      sites = await findReferences(text, 'deploy/docker-compose.yaml');
    });

    it('reads KServe storageUri with its hash revision and args flags', () => {
      const storage = siteFor(sites, 'hf://meta-llama/Meta-Llama-3-8B-Instruct');
      assert.equal(storage.loader, 'kserve.storageUri');
      assert.deepEqual(storage.range, range(7, 18, 7, 58));
      assert.deepEqual(storage.revision, { value: 'abc1234', range: range(7, 59, 7, 66) });
      const arg = siteFor(sites, 'meta-llama/Meta-Llama-3-8B-Instruct');
      assert.equal(arg.revision?.value, 'abc1234');
      assert.deepEqual(arg.range, range(9, 21, 9, 56));
    });

    it('reads compose command strings, env lists and maps, and exec-form commands', () => {
      const tgi = siteFor(sites, 'HuggingFaceH4/zephyr-7b-beta');
      assert.equal(tgi.revision?.value, 'main');
      assert.equal(tgi.flags.trustRemoteCode, true);
      assert.equal(textAt(text, tgi.flags.trustRemoteCodeRange!), '--trust-remote-code');
      const env = siteFor(sites, 'mistralai/Mistral-7B-Instruct-v0.3');
      assert.equal(env.loader, 'env MODEL_ID');
      assert.equal(env.revision?.value, 'refs/pr/12');
      assert.equal(siteFor(sites, 'Qwen/Qwen2-VL-7B-Instruct').loader, 'vllm serve');
      assert.equal(siteFor(sites, 'google/gemma-2-9b-it').loader, 'env HF_MODEL_ID');
      assert.equal(siteFor(sites, 'org/shell-model').loader, 'huggingface-cli download');
      assert.equal(sites.some((site) => site.id === 'my-served-name'), false);
    });

    it('reads Kubernetes env name/value pairs and ${VAR:-default} arguments, not image names', () => {
      const falcon = siteFor(sites, 'tiiuae/falcon-7b');
      assert.equal(falcon.revision?.value, 'v1');
      assert.deepEqual(falcon.revision?.range, range(41, 22, 41, 24));
      const fallback = siteFor(sites, 'org/env-default');
      assert.equal(fallback.envVar, 'MODEL');
      assert.equal(sites.some((site) => site.id.includes('cuda') || site.id.includes('vllm-openai')), false);
      assertRangesCoverIds(text, sites);
      assert.equal(sites.length, 9);
    });
  });
});
