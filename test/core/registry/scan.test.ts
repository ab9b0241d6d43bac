// Issue acceptance for scan: with the zoo bases (and same-config distractors) in a fresh registry,
// derivatives rank their true base first with a derived/quantized verdict; independent models and
// tokenizer-only matches never claim weight lineage.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { closeSide, loadSide } from '../../../server/src/core/compare/compareModels';
import { RELATED_VERDICTS, type Comparison } from '../../../server/src/core/compare/types';
import type { Fingerprint } from '../../../server/src/core/fingerprint/types';
import { compareMatches, hasWeightSignals, openSqliteRegistry, scanRegistry, type ScanMatch, type ScanResult, type SqliteRegistry } from '../../../server/src/core/registry';
import { loadModelTensors, type ModelTensors } from '../../fixtures/modelTensors';
import { makeSyntheticLlama } from '../../fixtures/syntheticModels';
import { extendVocabulary, fineTuneDrift, independentInit, permuteResidualChannels } from '../../fixtures/transformations';
import { FixtureFolders } from '../../support/compareFixtures';
import { zooPath } from '../../support/zoo';
import { createPrng } from '../../../server/src/core/util/prng';
import { makeBase, syntheticEntry, syntheticFingerprint, syntheticRegistryState } from '../../fixtures/syntheticRegistry';

const LLAMA3_TOKENIZER_FOLDER = path.resolve(__dirname, '..', '..', '..', 'node_modules', '@lenml', 'tokenizer-llama3', 'models');

async function fingerprintOf(target: string): Promise<Fingerprint> {
  const side = await loadSide(target);
  await closeSide(side);
  return side.fingerprint;
}

function describe_(r: ScanResult): string {
  return r.matches.map((m) => `${m.id}: ${m.verdict} (adj log10 p ${m.adjustedLog10P?.toFixed(1) ?? '-'}) ${m.reason}`).join('\n') || '(no matches)';
}

/** A registry file in a fresh fixture folder, filled by `fill` and committed, then opened read-only. */
async function writtenRegistry(folders: FixtureFolders, seed: string, fill: (writer: SqliteRegistry) => Promise<void> | void): Promise<SqliteRegistry> {
  const file = path.join(await folders.write(makeSyntheticLlama({ hidden: 64, layers: 1, heads: 4, kvHeads: 2, ffn: 128, vocab: 400, seed })), '..', 'registry.sqlite');
  const writer = await openSqliteRegistry(file, { writable: true });
  await fill(writer);
  writer.commit();
  writer.close();
  return openSqliteRegistry(file);
}

describe('scan: derivatives find their base in a registry', function () {
  this.timeout(600_000);
  const folders = new FixtureFolders();
  let registry: SqliteRegistry;
  let synthetic: ModelTensors;
  let stories: ModelTensors;

  const add = async (writer: SqliteRegistry, id: string, target: string, tokenizerFamily?: string) => {
    const fp = await fingerprintOf(target);
    writer.put({ meta: { id, kind: hasWeightSignals(fp) ? 'weights' : 'tokenizer', declaredParents: [], ...(tokenizerFamily ? { tokenizerFamily } : {}) }, fingerprint: fp });
  };

  before(async () => {
    synthetic = makeSyntheticLlama({ hidden: 256, layers: 4, heads: 8, kvHeads: 4, ffn: 688, vocab: 2000, seed: 'scan-base' });
    stories = await loadModelTensors(zooPath('tinyllamas-stories260K-gguf'));
    registry = await writtenRegistry(folders, 'unused', async (writer) => {
      await add(writer, 'zoo/tiny-gpt2', zooPath('tiny-gpt2'));
      await add(writer, 'zoo/stories260K', zooPath('tinyllamas-stories260K-gguf'));
      await add(writer, 'synthetic/base', await folders.write(synthetic, 'safetensors', 'base'));
      // Same config, same tokenizer, independent weights: what a config-hash gate would confuse with the base.
      await add(writer, 'synthetic/same-config-a', await folders.write(independentInit(synthetic, 'distractor-a')));
      await add(writer, 'synthetic/same-config-b', await folders.write(independentInit(synthetic, 'distractor-b')));
      await add(writer, 'zoo/stories-same-config', await folders.write(independentInit(stories, 'distractor-c'), 'gguf-f32'));
      await add(writer, 'meta-llama/Meta-Llama-3-8B', LLAMA3_TOKENIZER_FOLDER, 'Llama 3');
    });
  });
  after(() => {
    registry?.close();
    folders.dispose();
  });

  const scanFolder = async (folder: string) => scanRegistry(registry, await fingerprintOf(folder));
  const expectBase = (r: ScanResult, base: string, verdicts: string[]) => {
    const top = r.matches[0];
    assert.ok(top, `no match:\n${describe_(r)}`);
    assert.equal(top.id, base, describe_(r));
    assert.ok(verdicts.includes(top.verdict), describe_(r));
    assert.ok(r.related);
    for (const other of r.matches.slice(1)) assert.ok(!RELATED_VERDICTS.has(other.verdict), `only the base is related:\n${describe_(r)}`);
  };

  it('a real fine-tune (tiny-gpt2-medical) finds tiny-gpt2', async () => expectBase(await scanFolder(zooPath('tiny-gpt2-medical')), 'zoo/tiny-gpt2', ['derived']));

  for (const [label, make, format, verdicts] of [
    ['a fine-tune (20% drift)', (m: ModelTensors) => fineTuneDrift(m, { relativeScale: 0.2, seed: 11 }), 'safetensors', ['derived']],
    ['a Q8_0 quantization', (m: ModelTensors) => m, 'gguf-q8_0', ['quantized']],
    ['a residual-channel permutation', (m: ModelTensors) => permuteResidualChannels(m, 12), 'safetensors', ['derived']],
    ['a vocabulary extension', (m: ModelTensors) => extendVocabulary(m, 64, 13), 'safetensors', ['derived']],
  ] as const) {
    it(`${label} of the synthetic base ranks it first`, async () => expectBase(await scanFolder(await folders.write(make(synthetic), format)), 'synthetic/base', [...verdicts]));
    it(`${label} of the real stories260K ranks it first`, async () => expectBase(await scanFolder(await folders.write(make(stories), format === 'safetensors' ? 'gguf-f32' : format)), 'zoo/stories260K', [...verdicts]));
  }

  it('an independently initialized same-config model has no related entry', async () => {
    for (const seed of ['fresh-1', 'fresh-2']) {
      const r = await scanFolder(await folders.write(independentInit(synthetic, seed)));
      assert.equal(r.related, false, describe_(r));
      assert.ok(r.candidatesCompared >= 3, 'the same-config entries were compared, not skipped');
      assert.ok(r.matches.every((m) => !RELATED_VERDICTS.has(m.verdict)), describe_(r));
    }
  });

  it('a model with the Llama 3 tokenizer reports the Llama 3 tokenizer family and no weight lineage', async () => {
    const model = makeSyntheticLlama({ hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128, vocab: 128256, seed: 'llama3-vocab' });
    model.files.set('tokenizer.json', readFileSync(path.join(LLAMA3_TOKENIZER_FOLDER, 'tokenizer.json')));
    model.files.delete('tokenizer_config.json');
    const r = await scanFolder(await folders.write(model));
    assert.equal(r.tokenizer.family, 'Llama 3', JSON.stringify(r.tokenizer));
    assert.equal(r.tokenizer.matches[0]?.relation, 'identical');
    assert.equal(r.related, false, describe_(r));
    assert.ok(!r.matches.some((m) => m.id === 'meta-llama/Meta-Llama-3-8B'), 'a tokenizer-only entry is never a weight match');
  });
});

describe('scan: ranking', () => {
  const match = (id: string, verdict: ScanMatch['verdict'], adjustedLog10P?: number): ScanMatch => ({
    id, verdict, reason: '', sketchLog10P: 0, routes: [], declared: { status: 'none', detail: '' }, comparison: {} as Comparison, ...(adjustedLog10P === undefined ? {} : { adjustedLog10P }),
  });

  it('orders by verdict strength, then corrected p-value, then id, whatever the insertion order', () => {
    const items = [match('b', 'derived', -20), match('a', 'derived', -20), match('c', 'quantized', -5), match('d', 'derived', -40), match('e', 'same-family', -1)];
    const expected = ['c', 'd', 'a', 'b', 'e'];
    assert.deepEqual([...items].sort(compareMatches).map((m) => m.id), expected);
    assert.deepEqual([...items].reverse().sort(compareMatches).map((m) => m.id), expected);
  });
});

describe('scan: the shortlist of exact compares when blocks are too large to take whole', function () {
  this.timeout(300_000);
  const folders = new FixtureFolders();
  const state = syntheticRegistryState('shortlist');
  const prng = createPrng('shortlist-queries');
  let registry: SqliteRegistry;
  // maxBlockSize 0: candidates come from the LSH bands only, as in a registry of a million entries.
  const scan = (fp: Fingerprint) => scanRegistry(registry, fp, { maxBlockSize: 0 });
  const familyOf = (id: string, base: number) => id === `org${base}/base` || id.endsWith(`/finetune-of-${base}`);

  before(async () => {
    registry = await writtenRegistry(folders, 'unused-shortlist', (writer) => {
      for (let i = 0; i < 1000; i++) writer.put(syntheticEntry(state, i));
    });
  });
  after(() => {
    registry?.close();
    folders.dispose();
  });

  it('a fine-tune of a stored base finds its family through the bands', () => {
    for (const b of [2, 11]) {
      const r = scan(syntheticFingerprint('query/finetune', state.bases[b]!, 0.2, prng));
      assert.equal(r.related, true, describe_(r));
      assert.ok(familyOf(r.matches[0]!.id, b), describe_(r));
    }
  });

  it('an independent model of the same recipe is compared with a handful of candidates, not the whole shortlist', () => {
    for (let k = 0; k < 4; k++) {
      const r = scan(syntheticFingerprint('query/independent', makeBase(prng, state.vocabularies), 0, prng));
      assert.equal(r.related, false, describe_(r));
      // Independent weights agree on the profile sketch (one recipe), on the native-basis sketches by chance only.
      assert.ok(r.candidatesCompared <= 6, `${r.candidatesCompared} of ${r.candidatesRetrieved} candidates compared`);
    }
  });

  it('a residual-channel permutation of a stored base still gets its family compared (profile-only budget)', () => {
    const base = state.bases[5]!;
    const order = Array.from({ length: base.hidden }, (_, i) => (i * 37) % base.hidden);
    const permuted = {
      ...base,
      norms: base.norms.map((n) => Float32Array.from(order, (j) => n[j]!)),
      anchorRows: Float32Array.from(base.anchorRows, (_v, k) => base.anchorRows[k - (k % base.hidden) + order[k % base.hidden]!]!),
    };
    const r = scan(syntheticFingerprint('query/permuted', permuted, 0.05, prng));
    assert.ok(r.matches.some((m) => familyOf(m.id, 5)), describe_(r));
  });
});
