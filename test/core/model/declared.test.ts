import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelFormatError } from '../../../server/src/core/errors';
import { readGgufFile } from '../../../server/src/core/formats/gguf';
import { parseAdapterConfig, readAdapterConfig } from '../../../server/src/core/model/adapter';
import { extractFrontMatter, findProseBaseModels, parseCardMetadata, parseModelCard, readModelCard } from '../../../server/src/core/model/card';
import { MAX_METADATA_FILE_BYTES } from '../../../server/src/core/model/config';
import {
  claimsFromCard,
  claimsFromConfig,
  claimsFromGgufMetadata,
  collectDeclaredLineage,
  declaredBaseModels,
} from '../../../server/src/core/model/declared';
import { buildHfCache } from '../../fixtures/hfCacheBuilder';
import { zooPath } from '../../support/zoo';

describe('model cards', () => {
  it('reads the all-MiniLM-L6-v2 card: metadata fields, no base_model key, base named in the prose', async () => {
    const card = await readModelCard(zooPath('minilm-all-L6-v2-meta'));
    assert.ok(card?.metadata);
    assert.deepEqual(card.warnings, []);
    const meta = card.metadata;
    assert.deepEqual(meta.baseModels, []);
    assert.equal(meta.license, 'apache-2.0');
    assert.equal(meta.libraryName, 'sentence-transformers');
    assert.equal(meta.pipelineTag, 'sentence-similarity');
    assert.equal(meta.datasets?.length, 21);
    assert.equal(meta.datasets?.[0], 's2orc');
    assert.deepEqual(meta.tags, ['sentence-transformers', 'feature-extraction', 'sentence-similarity', 'transformers']);
    assert.equal(meta.raw['language'], 'en');
    assert.deepEqual(card.proseBaseModels.map((p) => p.repoId), ['nreimers/MiniLM-L6-H384-uncased']);
    assert.match(card.proseBaseModels[0]!.excerpt, /^pretrained \[`nreimers\/MiniLM-L6-H384-uncased`\]/);
  });

  it('reads the all-MiniLM-L12-v2 card (trailing blank line inside the front matter)', async () => {
    const card = (await readModelCard(zooPath('minilm-all-L12-v2-meta')))!;
    assert.equal(card.metadata?.license, 'apache-2.0');
    assert.equal(card.metadata?.datasets?.includes('MS Marco'), true);
    assert.deepEqual(card.proseBaseModels.map((p) => p.repoId), ['microsoft/MiniLM-L12-H384-uncased']);
  });

  it('extracts front matter only at the top, with BOM and CRLF', () => {
    const crlf = '\ufeff---\r\nbase_model: org/base\r\nlicense: mit\r\n---\r\n# Title\r\n---\r\nnot: metadata\r\n';
    const fm = extractFrontMatter(crlf)!;
    assert.equal(fm.yaml, 'base_model: org/base\r\nlicense: mit\r\n');
    assert.equal(crlf.slice(fm.bodyOffset), '# Title\r\n---\r\nnot: metadata\r\n');
    assert.equal(extractFrontMatter('# Title\n---\nbase_model: x/y\n---\n'), undefined);
    assert.equal(extractFrontMatter('---\nbase_model: x/y\nno closing line\n'), undefined);
    assert.equal(extractFrontMatter('----\na: 1\n---\n'), undefined);
    assert.deepEqual(extractFrontMatter('---\n---\nbody'), { yaml: '', yamlOffset: 4, bodyOffset: 8 });
  });

  it('normalizes base_model strings and lists, relation, license_name', () => {
    const single = parseCardMetadata('base_model: mistralai/Mistral-7B-v0.1\nlicense: other\nlicense_name: llama3\nbase_model_relation: quantized\n').metadata!;
    assert.deepEqual(single.baseModels, ['mistralai/Mistral-7B-v0.1']);
    assert.equal(single.baseModelRelation, 'quantized');
    assert.equal(single.licenseName, 'llama3');
    const merge = parseCardMetadata('base_model:\n- teknium/OpenHermes-2.5-Mistral-7B\n- Intel/neural-chat-7b-v3-3\n- teknium/OpenHermes-2.5-Mistral-7B\n- 42\n- {a: 1}\nlicense: [mit, apache-2.0]\ndatasets: single/dataset\n').metadata!;
    assert.deepEqual(merge.baseModels, ['teknium/OpenHermes-2.5-Mistral-7B', 'Intel/neural-chat-7b-v3-3', '42']);
    assert.deepEqual(merge.license, ['mit', 'apache-2.0']);
    assert.deepEqual(merge.datasets, ['single/dataset']);
    assert.deepEqual(parseCardMetadata('').metadata, { baseModels: [], raw: {} });
  });

  describe('hostile YAML', () => {
    it('stops a billion-laughs alias bomb with a warning', () => {
      const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
      for (let i = 1; i < 10; i++) {
        const prev = String.fromCharCode(96 + i);
        const name = String.fromCharCode(97 + i);
        lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
      }
      lines.push('base_model: *j');
      const started = Date.now();
      const { metadata, warnings } = parseCardMetadata(lines.join('\n'));
      assert.equal(metadata, undefined);
      assert.match(warnings.join('\n'), /alias/i);
      assert.ok(Date.now() - started < 2000, 'must fail fast, not expand 9^10 nodes');
    });

    it('does not resolve language tags (no !!python objects), and warns', () => {
      const { metadata, warnings } = parseCardMetadata('base_model: !!python/object/apply:os.system ["echo pwned"]\nlicense: !!binary aGVsbG8=\n');
      // Tagged values stay plain data (a list of strings, a string), never anything constructed.
      assert.deepEqual(metadata?.raw['base_model'], ['echo pwned']);
      assert.equal(metadata?.raw['license'], 'aGVsbG8=');
      assert.equal(metadata?.license, 'aGVsbG8=');
      assert.match(warnings.join('\n'), /Unresolved tag/);
    });

    it('reports syntax errors, duplicate keys, non-mapping documents and deep nesting as warnings', () => {
      for (const yaml of ['base_model: [unclosed', 'a: 1\na: 2\n', '- just\n- a list\n', 'just a string', '['.repeat(20000) + ']'.repeat(20000)]) {
        const result = parseCardMetadata(yaml);
        assert.equal(result.metadata, undefined, yaml.slice(0, 30));
        assert.ok(result.warnings.length > 0, yaml.slice(0, 30));
      }
    });

    it('refuses oversized front matter and oversized cards', async () => {
      const big = `---\nlicense: mit\npadding: "${'x'.repeat(600 * 1024)}"\n---\n`;
      const card = parseModelCard(big, 'README.md');
      assert.equal(card.metadata, undefined);
      assert.match(card.warnings.join('\n'), /not parsed/);
      const tmp = await mkdtemp(path.join(os.tmpdir(), 'lineage-card-'));
      try {
        await writeFile(path.join(tmp, 'README.md'), Buffer.alloc(MAX_METADATA_FILE_BYTES + 10, 0x61));
        await writeFile(path.join(tmp, 'config.json'), JSON.stringify({ _name_or_path: 'org/base' }));
        await assert.rejects(readModelCard(tmp), ModelFormatError);
        // Collecting lineage keeps going: the card becomes a warning, the config still counts.
        const lineage = await collectDeclaredLineage(tmp);
        assert.deepEqual(declaredBaseModels(lineage), ['org/base']);
        assert.match(lineage.warnings!.join('\n'), /model card: .*metadata files over/);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    });

    it('scans hostile prose in linear time', () => {
      const text = 'fine-tuned version of [' + 'a'.repeat(150) + '](https://huggingface.co/' + 'x'.repeat(300);
      const started = Date.now();
      assert.deepEqual(findProseBaseModels(text.repeat(2000)), []);
      assert.ok(Date.now() - started < 2000);
    });
  });

  it('finds Trainer-style and quantization prose links, ignoring non-model and non-Hub links', () => {
    const text = [
      'This model is a fine-tuned version of [distilbert-base-uncased](https://huggingface.co/distilbert-base-uncased) on the imdb dataset.',
      'Quantized version of [Org/Model-7B](https://huggingface.co/Org/Model-7B/tree/main).',
      'based on [some data](https://huggingface.co/datasets/org/data) and the pretrained [model](https://example.com/org/model).',
    ].join('\n');
    assert.deepEqual(findProseBaseModels(text).map((p) => [p.repoId, p.relation]), [
      ['distilbert-base-uncased', 'finetune'],
      ['Org/Model-7B', 'quantized'],
    ]);
  });
});

describe('adapter_config.json', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'lineage-adapter-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('reads base model, revision, PEFT type, rank and targets', async () => {
    const folder = path.join(tmp, 'lora');
    await mkdir(folder);
    await writeFile(
      path.join(folder, 'adapter_config.json'),
      JSON.stringify({ base_model_name_or_path: 'meta-llama/Llama-2-7b-hf', revision: 'main', peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 8, lora_alpha: 16, target_modules: ['q_proj', 'v_proj', 7] }),
    );
    const adapter = await readAdapterConfig(folder);
    assert.deepEqual({ ...adapter, raw: undefined, file: undefined }, {
      raw: undefined,
      file: undefined,
      baseModelNameOrPath: 'meta-llama/Llama-2-7b-hf',
      revision: 'main',
      peftType: 'LORA',
      taskType: 'CAUSAL_LM',
      r: 8,
      loraAlpha: 16,
      targetModules: ['q_proj', 'v_proj'],
    });
    const lineage = await collectDeclaredLineage(folder);
    assert.deepEqual(lineage.claims, [
      { baseModel: 'meta-llama/Llama-2-7b-hf', relation: 'adapter', revision: 'main', source: 'adapter_config', file: path.join(folder, 'adapter_config.json') },
    ]);
  });

  it('keeps a regex target_modules string and ignores a local base path as a claim', () => {
    const adapter = parseAdapterConfig({ base_model_name_or_path: '/home/me/llama', target_modules: '.*proj', r: 'eight' }, 'adapter_config.json');
    assert.equal(adapter.targetModules, '.*proj');
    assert.equal(adapter.r, undefined);
    assert.equal(adapter.baseModelNameOrPath, '/home/me/llama');
  });

  it('returns undefined when there is no adapter config, and a typed error when it is not JSON', async () => {
    assert.equal(await readAdapterConfig(tmp), undefined);
    const folder = path.join(tmp, 'broken');
    await mkdir(folder);
    await writeFile(path.join(folder, 'adapter_config.json'), 'not json');
    await assert.rejects(readAdapterConfig(folder), ModelFormatError);
  });
});

describe('declared lineage', () => {
  it('all-MiniLM-L6-v2 declares nreimers/MiniLM-L6-H384-uncased in its card and config (PAIRS.md)', async () => {
    const folder = zooPath('minilm-all-L6-v2-meta');
    const lineage = await collectDeclaredLineage(folder);
    assert.deepEqual(declaredBaseModels(lineage), ['nreimers/MiniLM-L6-H384-uncased']);
    assert.deepEqual(lineage.claims.map((c) => c.source).sort(), ['card.prose', 'config._name_or_path']);
    assert.equal(lineage.claims.find((c) => c.source === 'card.prose')!.file, path.join(folder, 'README.md'));
    assert.equal(lineage.warnings, undefined);
  });

  it('all-MiniLM-L12-v2 declares microsoft/MiniLM-L12-H384-uncased in its card and config (PAIRS.md)', async () => {
    const lineage = await collectDeclaredLineage(zooPath('minilm-all-L12-v2-meta'));
    assert.deepEqual(declaredBaseModels(lineage), ['microsoft/MiniLM-L12-H384-uncased']);
    assert.deepEqual(lineage.claims.map((c) => c.source).sort(), ['card.prose', 'config._name_or_path']);
  });

  it('tiny-gpt2 declares nothing; a passed config is used instead of re-reading', async () => {
    assert.deepEqual((await collectDeclaredLineage(zooPath('tiny-gpt2'))).claims, []);
    const lineage = await collectDeclaredLineage(zooPath('tiny-gpt2'), { config: { _name_or_path: 'openai-community/gpt2' } });
    assert.deepEqual(declaredBaseModels(lineage), ['openai-community/gpt2']);
  });

  it('uses card base_model (Hub ids and URLs), ignores local paths, and carries the relation', () => {
    const card = parseModelCard('---\nbase_model:\n- ./outputs\n- https://huggingface.co/Org/Base\n- org2/other\nbase_model_relation: merge\n---\n', 'README.md');
    assert.deepEqual(card.metadata?.baseModels, ['./outputs', 'https://huggingface.co/Org/Base', 'org2/other']);
    assert.deepEqual(claimsFromCard(card), [
      { baseModel: 'Org/Base', relation: 'merge', source: 'card', file: 'README.md' },
      { baseModel: 'org2/other', relation: 'merge', source: 'card', file: 'README.md' },
    ]);
  });

  it('takes config _name_or_path only when it is a namespaced Hub id', () => {
    for (const value of ['/tmp/x', '.', './out', 'outputs', 'runs/a/b', 'C:\\models\\x', 'hf://org/name', 42]) {
      assert.deepEqual(claimsFromConfig({ _name_or_path: value }, 'config.json'), [], String(value));
    }
    assert.deepEqual(claimsFromConfig({ _name_or_path: 'microsoft/MiniLM-L12-H384-uncased' }, 'config.json'), [
      { baseModel: 'microsoft/MiniLM-L12-H384-uncased', source: 'config._name_or_path', file: 'config.json' },
    ]);
  });

  it('reads card and config through HF cache snapshot links, and refuses a card linked out of the repo', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'lineage-declared-cache-'));
    try {
      const built = await buildHfCache(path.join(tmp, 'hub'), [
        {
          repoId: 'sentence-transformers/all-MiniLM-L6-v2',
          files: { 'README.md': zooPath('minilm-all-L6-v2-meta', 'README.md'), 'config.json': zooPath('minilm-all-L6-v2-meta', 'config.json') },
        },
        { repoId: 'evil/card', files: { 'config.json': Buffer.from('{}') } },
      ]);
      const [good, evil] = built.repos;
      const lineage = await collectDeclaredLineage(good!.snapshotFolder);
      assert.deepEqual(declaredBaseModels(lineage), ['nreimers/MiniLM-L6-H384-uncased']);
      assert.equal(lineage.warnings, undefined);
      // A README that links to another repo's blob is outside this repo's cache folder.
      await symlink(path.relative(evil!.snapshotFolder, good!.blobs['README.md']!.blobPath), path.join(evil!.snapshotFolder, 'README.md'));
      const refused = await collectDeclaredLineage(evil!.snapshotFolder);
      assert.deepEqual(refused.claims, []);
      assert.match(refused.warnings!.join('\n'), /links outside the model folder/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('does not let a __proto__ key in card YAML reach object prototypes', () => {
    const { metadata } = parseCardMetadata('__proto__: {polluted: true}\nbase_model: a/b\n');
    assert.deepEqual(metadata?.baseModels, ['a/b']);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal(Object.getPrototypeOf(metadata!.raw), Object.prototype);
  });

  it('reads GGUF general.base_model.* and general.source.* claims', async () => {
    const metadata = new Map<string, unknown>([
      ['general.base_model.count', 2n],
      ['general.base_model.0.name', 'Llama 3.1 8B'],
      ['general.base_model.0.organization', 'Meta Llama'],
      ['general.base_model.0.repo_url', 'https://huggingface.co/meta-llama/Llama-3.1-8B'],
      ['general.base_model.1.name', 'Other Model'],
      ['general.base_model.1.organization', 'Someone'],
      ['general.source.repo_url', 'https://huggingface.co/org/Model-8B-Instruct'],
    ]);
    assert.deepEqual(claimsFromGgufMetadata(metadata, 'm.gguf'), [
      { baseModel: 'meta-llama/Llama-3.1-8B', source: 'gguf.general.base_model', file: 'm.gguf' },
      { baseModel: 'Someone/Other Model', source: 'gguf.general.base_model', file: 'm.gguf' },
      { baseModel: 'org/Model-8B-Instruct', relation: 'quantized', source: 'gguf.general.source', file: 'm.gguf' },
    ]);
    // The misspelled key of older converters, and a hostile count.
    const old = new Map<string, unknown>([['general.source.hugginface.repository', 'org/old'], ['general.base_model.count', 10n ** 15n]]);
    assert.deepEqual(claimsFromGgufMetadata(old, 'o.gguf'), [{ baseModel: 'org/old', relation: 'quantized', source: 'gguf.general.source', file: 'o.gguf' }]);
    // stories260K carries no lineage keys.
    const gguf = await readGgufFile(zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'));
    assert.deepEqual(claimsFromGgufMetadata(gguf.metadata, gguf.file), []);
  });
});

describe('model card front matter hardening', () => {
  it('a card nesting thousands of flow collections is refused with a warning, not a process abort', () => {
    const hostile = `base_model: ${'['.repeat(20000)}x${']'.repeat(20000)}\n`;
    const result = parseCardMetadata(hostile);
    assert.equal(result.metadata, undefined);
    assert.ok(result.warnings.some((w) => /nests brackets/.test(w)), JSON.stringify(result.warnings));
  });
});
