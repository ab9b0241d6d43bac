import { strict as assert } from 'node:assert';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ModelFormatError } from '../../../server/src/core/errors';
import { loadVocabularyFromFile, loadVocabularyFromFolder } from '../../../server/src/core/tokenizers/loadTokenizer';
import { ZOO_DIR, zooPath } from '../../support/zoo';

describe('tokenizers: loadVocabularyFromFolder / loadVocabularyFromFile', () => {
  let scratch: string;
  beforeEach(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'lineage-tok-'));
  });
  afterEach(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('prefers tokenizer.json, then vocab.json + merges.txt, then tokenizer.model, then vocab.txt', async () => {
    assert.equal((await loadVocabularyFromFolder(zooPath('tiny-gpt2')))?.source, zooPath('tiny-gpt2', 'tokenizer.json'));
    assert.equal((await loadVocabularyFromFolder(zooPath('tiny-gpt2-medical')))?.source, `${zooPath('tiny-gpt2-medical', 'vocab.json')} + ${zooPath('tiny-gpt2-medical', 'merges.txt')}`);
    assert.equal((await loadVocabularyFromFolder(zooPath('tok-llama2-sentencepiece')))?.model, 'sentencepiece-bpe');
    await writeFile(path.join(scratch, 'vocab.txt'), '[PAD]\nhello\n##s\n');
    assert.deepEqual((await loadVocabularyFromFolder(scratch))?.tokens, ['[PAD]', ' hello', 's']);
  });

  it('returns undefined for a folder without tokenizer files (GGUF is read through its metadata)', async () => {
    assert.equal(await loadVocabularyFromFolder(scratch), undefined);
    assert.equal(await loadVocabularyFromFolder(zooPath('tok-gpt-2')), undefined);
  });

  it('does not follow a symlink out of the folder, unless the caller allows a wider root', async () => {
    await symlink(zooPath('minilm-all-L6-v2-meta', 'tokenizer.json'), path.join(scratch, 'tokenizer.json'));
    await writeFile(path.join(scratch, 'vocab.txt'), 'local\n');
    assert.deepEqual((await loadVocabularyFromFolder(scratch))?.tokens, [' local']);
    await assert.rejects(loadVocabularyFromFile(path.join(scratch, 'tokenizer.json')), ModelFormatError);

    const widened = await loadVocabularyFromFolder(scratch, { allowedRoot: path.dirname(ZOO_DIR) });
    assert.equal(widened?.tokens.length, 30522);
    assert.equal(widened?.source, path.join(scratch, 'tokenizer.json'));
  });

  it('detects each file kind by name and content', async () => {
    const cases: Array<[string, string, number]> = [
      [zooPath('minilm-all-L12-v2-meta', 'tokenizer.json'), 'wordpiece', 30522],
      [zooPath('minilm-all-L12-v2-meta', 'vocab.txt'), 'wordpiece', 30522],
      [zooPath('tiny-gpt2-medical', 'vocab.json'), 'bpe', 50257],
      [zooPath('tiny-gpt2-medical', 'merges.txt'), 'bpe', 50257],
      [zooPath('tok-openllama-sentencepiece', 'tokenizer.model'), 'sentencepiece-bpe', 32000],
      [zooPath('tok-bert-bge', 'ggml-vocab-bert-bge.gguf'), 'wordpiece', 30522],
      [zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'), 'sentencepiece-bpe', 512],
    ];
    for (const [file, model, size] of cases) {
      const vocabulary = await loadVocabularyFromFile(file);
      assert.equal(vocabulary?.model, model, file);
      assert.equal(vocabulary?.tokens.length, size, file);
    }
    const withMerges = await loadVocabularyFromFile(zooPath('tiny-gpt2-medical', 'vocab.json'));
    assert.equal(withMerges?.merges.length, 50000);
  });

  it('reports a hostile file as a ModelFormatError naming it', async () => {
    const bogus = path.join(scratch, 'tokenizer.model');
    await writeFile(bogus, new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    await assert.rejects(loadVocabularyFromFile(bogus), (err: unknown) => err instanceof ModelFormatError && err.file === bogus);
    const notJson = path.join(scratch, 'tokenizer.json');
    await writeFile(notJson, '{"model": {"type": "BPE", "vocab": 5}}');
    await assert.rejects(loadVocabularyFromFolder(scratch), (err: unknown) => err instanceof ModelFormatError && /model\.vocab must be an object/.test(err.message));
  });
});
