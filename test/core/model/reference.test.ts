import { strict as assert } from 'node:assert';
import {
  classifyRevision,
  formatModelReference,
  isPinnedRevision,
  isValidRepoId,
  parseModelReference,
  type ModelReference,
} from '../../../server/src/core/model/reference';

const SHA = '0123456789abcdef0123456789abcdef01234567';

function hub(repoId: string, extra: Partial<Extract<ModelReference, { kind: 'hub' }>> = {}): ModelReference {
  return { kind: 'hub', repoId, repoType: 'model', source: 'id', ...extra };
}

describe('parseModelReference', () => {
  describe('plain Hub ids', () => {
    const valid: Array<[string, ModelReference]> = [
      ['gpt2', hub('gpt2')],
      ['bert-base-uncased', hub('bert-base-uncased')],
      ['t5-small', hub('t5-small')],
      ['meta-llama/Llama-3.1-8B', hub('meta-llama/Llama-3.1-8B')],
      ['sentence-transformers/all-MiniLM-L6-v2', hub('sentence-transformers/all-MiniLM-L6-v2')],
      ['x/y', hub('x/y')],
      ['Org_1/model.v2_final', hub('Org_1/model.v2_final')],
      [`a/${'b'.repeat(96)}`, hub(`a/${'b'.repeat(96)}`)],
      ['org/name@main', hub('org/name', { revision: 'main' })],
      [`org/name@${SHA}`, hub('org/name', { revision: SHA })],
      ['org/name@v1.0', hub('org/name', { revision: 'v1.0' })],
      ['org/name@refs/pr/1', hub('org/name', { revision: 'refs/pr/1' })],
      ['gpt2@main', hub('gpt2', { revision: 'main' })],
      ['  org/name  ', hub('org/name')],
    ];
    for (const [text, expected] of valid) {
      it(`accepts ${JSON.stringify(text.length > 40 ? text.slice(0, 40) + '…' : text)}`, () => {
        assert.deepEqual(parseModelReference(text), expected);
      });
    }

    const invalid = [
      '',
      '   ',
      `a/${'b'.repeat(97)}`,
      `${'n'.repeat(97)}/model`,
      'foo--bar',
      'org/foo--bar',
      'org/foo..bar',
      '-org/name',
      'org/name-',
      '.org/name',
      'org/.name',
      'org/name.',
      'org/name.git',
      'org/name.GIT',
      'org/na me',
      'org/name!',
      'org/',
      'org/name@',
      'org/name@-x',
      'org/name@a..b',
      'org/name@main branch',
      'org/name@refs//pr',
      'org/name@x.lock',
      'org/näme',
      'org/name\u0000',
      'org/name\nother/name',
      'org/name;rm -rf /',
      '$(whoami)/x',
      '<script>/x',
      'x'.repeat(5000),
    ];
    for (const text of invalid) {
      it(`rejects ${JSON.stringify(text.length > 40 ? text.slice(0, 40) + '…' : text)}`, () => {
        assert.equal(parseModelReference(text), undefined);
      });
    }
  });

  describe('hf:// URIs', () => {
    const valid: Array<[string, ModelReference]> = [
      ['hf://org/name', hub('org/name', { source: 'hf-uri' })],
      ['hf://org/name@v1', hub('org/name', { source: 'hf-uri', revision: 'v1' })],
      ['hf://org/name/model.safetensors', hub('org/name', { source: 'hf-uri', file: 'model.safetensors' })],
      ['hf://org/name@main/onnx/model.onnx', hub('org/name', { source: 'hf-uri', revision: 'main', file: 'onnx/model.onnx' })],
      ['hf://datasets/stanfordnlp/imdb', hub('stanfordnlp/imdb', { source: 'hf-uri', repoType: 'dataset' })],
      ['hf://spaces/org/demo@' + SHA, hub('org/demo', { source: 'hf-uri', repoType: 'space', revision: SHA })],
      ['hf://models/org/name', hub('org/name', { source: 'hf-uri' })],
      ['hf://org/name@refs%2Fpr%2F1', hub('org/name', { source: 'hf-uri', revision: 'refs/pr/1' })],
    ];
    for (const [text, expected] of valid) {
      it(`accepts ${text}`, () => assert.deepEqual(parseModelReference(text), expected));
    }
    // Rejections follow huggingface_hub's hf_uris: no bare names, no singular types, no empty @,
    // no @ after the repo name; plus path traversal.
    const invalid = [
      'hf://gpt2',
      'hf://dataset/org/name',
      'hf://model/org/name',
      'hf://org/name@',
      'hf://a/b/c@v1',
      'hf://org/name/../../etc/passwd',
      'hf://org/name/a//b',
      'hf://org/name/%2e%2e/x',
      'hf://org/name/a%5Cb',
      'hf://org/name/%zz',
      'hf://constructor/x/y',
      'hf://org/foo--bar',
      'hf://kernels/org/name',
    ];
    for (const text of invalid) {
      it(`rejects ${text}`, () => {
        const ref = parseModelReference(text);
        // `hf://constructor/x/y` may only be read as repo constructor/x with a file, never a repo type.
        if (text === 'hf://constructor/x/y') assert.deepEqual(ref, hub('constructor/x', { source: 'hf-uri', file: 'y' }));
        else assert.equal(ref, undefined);
      });
    }
  });

  describe('web URLs', () => {
    const valid: Array<[string, ModelReference]> = [
      ['https://huggingface.co/org/name', hub('org/name', { source: 'url' })],
      ['https://huggingface.co/org/name/', hub('org/name', { source: 'url' })],
      ['http://www.huggingface.co/org/name', hub('org/name', { source: 'url' })],
      ['HTTPS://HuggingFace.co/org/name', hub('org/name', { source: 'url' })],
      ['https://hf.co/org/name', hub('org/name', { source: 'url' })],
      ['hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF', hub('bartowski/Llama-3.2-1B-Instruct-GGUF', { source: 'url' })],
      ['huggingface.co/org/name', hub('org/name', { source: 'url' })],
      ['https://huggingface.co/org/name/tree/main', hub('org/name', { source: 'url', revision: 'main' })],
      ['https://huggingface.co/org/name/tree/v2/subfolder', hub('org/name', { source: 'url', revision: 'v2', file: 'subfolder' })],
      [
        `https://huggingface.co/org/name/resolve/${SHA}/model.safetensors?download=true`,
        hub('org/name', { source: 'url', revision: SHA, file: 'model.safetensors' }),
      ],
      ['https://huggingface.co/org/name/blob/main/onnx/model.onnx#L1', hub('org/name', { source: 'url', revision: 'main', file: 'onnx/model.onnx' })],
      ['https://huggingface.co/org/name/raw/main/config.json', hub('org/name', { source: 'url', revision: 'main', file: 'config.json' })],
      ['https://huggingface.co/org/name/resolve/refs%2Fpr%2F3/x.bin', hub('org/name', { source: 'url', revision: 'refs/pr/3', file: 'x.bin' })],
      ['https://huggingface.co/org/name/resolve/main/my%20file.gguf', hub('org/name', { source: 'url', revision: 'main', file: 'my file.gguf' })],
      ['https://huggingface.co/datasets/stanfordnlp/imdb', hub('stanfordnlp/imdb', { source: 'url', repoType: 'dataset' })],
      ['https://huggingface.co/datasets/squad', hub('squad', { source: 'url', repoType: 'dataset' })],
      ['https://huggingface.co/spaces/org/demo/blob/main/app.py', hub('org/demo', { source: 'url', repoType: 'space', revision: 'main', file: 'app.py' })],
      ['https://huggingface.co/gpt2/resolve/main/config.json', hub('gpt2', { source: 'url', revision: 'main', file: 'config.json' })],
    ];
    for (const [text, expected] of valid) {
      it(`accepts ${text}`, () => assert.deepEqual(parseModelReference(text), expected));
    }
    const invalid = [
      'https://huggingface.co/',
      'https://huggingface.co',
      'https://huggingface.co/julien-c', // a user page
      'https://huggingface.co/docs/transformers',
      'https://huggingface.co/blog/llama3',
      'https://huggingface.co/models',
      'https://huggingface.co/models?search=llama',
      'https://huggingface.co/collections/org/abc',
      'https://huggingface.co/api/models/org/name',
      'https://huggingface.co/papers/2401.00001',
      'https://huggingface.co/org/name/discussions/3',
      'https://huggingface.co/org/name/commit/' + SHA,
      'https://huggingface.co/org/name/resolve',
      'https://huggingface.co/org/name/resolve/main/../../secret',
      'https://huggingface.co/org/name/resolve/main/a%2F..%2Fb',
      'https://huggingface.co//org/name',
      'https://evil.example/org/name',
      'https://huggingface.co.evil.example/org/name',
      'ftp://huggingface.co/org/name',
      'file:///etc/passwd',
      'javascript:alert(1)',
    ];
    for (const text of invalid) {
      it(`rejects ${text}`, () => assert.equal(parseModelReference(text), undefined));
    }
    it('accepts a configured mirror host only when asked', () => {
      assert.equal(parseModelReference('https://hf-mirror.com/org/name'), undefined);
      assert.deepEqual(parseModelReference('https://hf-mirror.com/org/name', { extraHosts: ['hf-mirror.com'] }), hub('org/name', { source: 'url' }));
    });
  });

  describe('local paths', () => {
    const local = [
      '/abs/path/model',
      '/',
      '/name',
      'org//name',
      './model',
      '../models/x',
      '.',
      '..',
      '~',
      '~/models/llama',
      'C:\\models\\llama',
      'c:/models/llama',
      'D:',
      '\\\\server\\share\\model',
      'models\\llama',
      'runs/exp1/final',
      'datasets/a/b',
      'model.safetensors',
      'weights.gguf',
      'pytorch_model.bin',
    ];
    for (const text of local) {
      it(`treats ${JSON.stringify(text)} as local`, () => assert.deepEqual(parseModelReference(text), { kind: 'local', path: text }));
    }
    it('keeps a namespaced id with a weight-like name a Hub id (`org/model.gguf` is a repo name)', () => {
      assert.deepEqual(parseModelReference('org/model.gguf'), hub('org/model.gguf'));
    });
  });

  it('never throws on hostile input', () => {
    const hostile = ['%', '@', '@@@', 'hf://', 'hf:///', 'https://', 'a/b@c@d', '\u202e/x', '../'.repeat(500), 'a/'.repeat(1000), '\ud800/x', '__proto__', 'constructor/prototype'];
    for (const text of hostile) assert.doesNotThrow(() => parseModelReference(text));
    assert.equal(parseModelReference('a/b@c@d'), undefined);
    assert.deepEqual(parseModelReference('__proto__'), hub('__proto__'));
  });
});

describe('isPinnedRevision / classifyRevision / isValidRepoId', () => {
  it('only a full lowercase 40-hex sha is pinned', () => {
    assert.equal(isPinnedRevision(SHA), true);
    assert.equal(isPinnedRevision(SHA.toUpperCase()), false);
    assert.equal(isPinnedRevision(SHA.slice(0, 39)), false);
    assert.equal(isPinnedRevision(SHA + '0'), false);
    assert.equal(isPinnedRevision('main'), false);
    assert.equal(isPinnedRevision(undefined), false);
  });
  it('classifies revisions', () => {
    assert.equal(classifyRevision(SHA), 'commit');
    assert.equal(classifyRevision('refs/pr/12'), 'pull-request');
    assert.equal(classifyRevision('refs/convert/parquet'), 'special-ref');
    assert.equal(classifyRevision('v1.0'), 'branch-or-tag');
  });
  it('follows the research grammar examples', () => {
    for (const ok of ['gpt2', 'x/y', `a/${'c'.repeat(96)}`]) assert.equal(isValidRepoId(ok), true, ok);
    for (const bad of [`a/${'c'.repeat(97)}`, 'foo--bar', '-a/b', 'datasets/a/b']) assert.equal(isValidRepoId(bad), false, bad);
  });
});

describe('formatModelReference', () => {
  const roundTrips = [
    'org/name',
    `org/name@${SHA}`,
    'gpt2@main',
    'hf://org/name@v1/onnx/model.onnx',
    'hf://datasets/org/data',
    'hf://org/name@refs%2Fpr%2F1',
    'https://huggingface.co/org/name',
    `https://huggingface.co/org/name/resolve/${SHA}/model.safetensors`,
    'https://huggingface.co/spaces/org/demo/tree/main',
    './local/model',
  ];
  for (const text of roundTrips) {
    it(`round-trips ${text}`, () => {
      const ref = parseModelReference(text)!;
      assert.equal(formatModelReference(ref), text);
      assert.deepEqual(parseModelReference(formatModelReference(ref)), ref);
    });
  }
  it('writes a dataset or a file as an hf:// URI when asked for an id', () => {
    const ref = parseModelReference('https://huggingface.co/datasets/org/data/resolve/main/a.csv')!;
    assert.equal(formatModelReference(ref, 'id'), 'hf://datasets/org/data@main/a.csv');
  });
  it('falls back to a URL for a legacy single-name repo with a file', () => {
    const ref = parseModelReference('https://huggingface.co/gpt2/resolve/main/config.json')!;
    assert.equal(formatModelReference(ref, 'hf-uri'), 'https://huggingface.co/gpt2/resolve/main/config.json');
  });
});
