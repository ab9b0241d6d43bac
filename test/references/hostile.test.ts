// Hostile and broken documents: every finder returns (possibly nothing) instead of throwing or hanging.
import * as assert from 'node:assert/strict';
import { findReferences, MAX_DOCUMENT_CHARS } from '../../server/src/references';

const FILE_NAMES = ['x.py', 'x.yaml', 'README.md', 'adapter_config.json', 'config.json', 'x.ts', 'Dockerfile', 'x.sh', 'Modelfile', 'x.txt'];

describe('references/hostile input', () => {
  it('skips documents over the size limit without reading them', async () => {
    const huge = `AutoModel.from_pretrained("org/m")\n`.repeat(Math.ceil((10 * 1024 * 1024) / 35));
    assert.ok(huge.length > MAX_DOCUMENT_CHARS);
    for (const name of FILE_NAMES) assert.deepEqual(await findReferences(huge, name), []);
  });

  it('survives deep nesting, unterminated strings, invalid UTF-8 and alias bombs in every finder', async () => {
    const invalidUtf8 = Buffer.from([0x66, 0x72, 0x6f, 0x6d, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0xed, 0xa0, 0x80]).toString('utf8');
    const aliasBomb = ['a: &a ["x","x"]', ...Array.from({ length: 30 }, (_, i) => `${String.fromCharCode(98 + (i % 20))}${i}: &r${i} [*${i === 0 ? 'a' : `r${i - 1}`}, *${i === 0 ? 'a' : `r${i - 1}`}]`), 'base_model: org/after-bomb'].join('\n');
    const inputs = [
      '',
      '('.repeat(50_000),
      '['.repeat(50_000),
      '{'.repeat(50_000),
      Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n'),
      'AutoModel.from_pretrained("org/unterminated\n',
      'AutoModel.from_pretrained("""org/never-closed',
      "pipeline('task', 'org/unterminated",
      'vllm serve "org/unterminated',
      '---\nbase_model: [org/a, \n',
      '{"base_model_name_or_path": "org/a\\',
      invalidUtf8,
      '\u0000\u0001\ud800 hf:// https://huggingface.co/ hf://a',
      aliasBomb,
    ];
    for (const input of inputs) {
      for (const name of FILE_NAMES) {
        const sites = await findReferences(input, name);
        assert.ok(Array.isArray(sites), `${name}: ${JSON.stringify(input.slice(0, 40))}`);
      }
    }
    const bomb = await findReferences(aliasBomb, 'axolotl.yaml');
    assert.deepEqual(bomb.map((site) => site.id), ['org/after-bomb']);
  });

  it('still reports what precedes an error in a half-typed file', async () => {
    const sites = await findReferences('from transformers import AutoModel\nm = AutoModel.from_pretrained("org/ok")\nx = (((\n', 'train.py');
    assert.deepEqual(sites.map((site) => site.id), ['org/ok']);
  });
});
