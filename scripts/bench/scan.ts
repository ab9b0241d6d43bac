// Benchmark of `lineage scan` at registry scale: fills a registry file with synthetic fingerprints
// (families of bases and drifted derivatives, realistic blocking keys and sketch sizes), reopens it
// from disk, then times scans. Prints p50/p99 latency, bytes per entry and file size.
//
// Entries carry full-size index rows (blocking keys, a 128-hash vocabulary MinHash, three SimHash
// codes and their LSH bands) and a compact fingerprint: 9 norm vectors and 8 anchor rows of 32
// channels (the exact compare needs the hidden size to equal the signal width, so every entry is in
// one hidden-size block: the worst case for blocking). A real 7B fingerprint is 1-30 MB; 100,000 of
// those do not fit the in-memory WebAssembly backend (README, "Scale limits").
// Usage: tsx scripts/bench/scan.ts [entries] [scans]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { canonicalArchitectureHash, type ArchitectureTuple } from '../../server/src/core/model/config';
import { minhashSketch } from '../../server/src/core/fingerprint/sampling';
import { DEFAULT_SAMPLING_PLAN, EXTRACTOR_VERSION, FINGERPRINT_SCHEMA, FINGERPRINT_SCHEMA_VERSION, type Fingerprint, type VectorSignal } from '../../server/src/core/fingerprint/types';
import { RELATED_VERDICTS } from '../../server/src/core/compare/types';
import { openSqliteRegistry, scanRegistry } from '../../server/src/core/registry';
import { createPrng, type Prng } from '../../server/src/core/util/prng';

const ENTRIES = Number(process.argv[2] ?? 100_000);
const SCANS = Number(process.argv[3] ?? 200);
const DERIVATIVES_PER_BASE = 49;
const SIGNAL_WIDTH = 32;
const LAYERS = 4;
const ANCHORS = 8;
const VOCABULARIES = 40;

interface Vocab {
  size: number;
  tokensHash: string;
  minhash: Uint32Array;
  anchors: string[];
}

function makeVocabularies(): Vocab[] {
  return Array.from({ length: VOCABULARIES }, (_, v) => {
    const prng = createPrng(`bench-vocab-${v}`);
    const size = [32000, 32768, 50257, 65024, 100277, 128256, 151936, 256000][v % 8]!;
    // The MinHash of a distinct vocabulary: a sample of its strings stands in for all of them.
    const sample = Array.from({ length: 2048 }, (_, i) => `v${v}-t${i}-${prng.nextUint32()}`);
    return { size, tokensHash: `bench-${v}`.padEnd(64, '0'), minhash: minhashSketch(sample, DEFAULT_SAMPLING_PLAN.minhashSize), anchors: sample.slice(0, ANCHORS) };
  });
}

interface BaseWeights {
  hidden: number;
  vocab: Vocab;
  norms: Float32Array[];
  anchorRows: Float32Array;
}

function makeBase(prng: Prng, vocabularies: Vocab[]): BaseWeights {
  const norms = Array.from({ length: 2 * LAYERS + 1 }, () => Float32Array.from({ length: SIGNAL_WIDTH }, () => 1 + 0.2 * prng.gaussian()));
  return {
    hidden: SIGNAL_WIDTH,
    vocab: vocabularies[prng.nextInt(vocabularies.length)]!,
    norms,
    anchorRows: Float32Array.from({ length: ANCHORS * SIGNAL_WIDTH }, () => 0.02 * prng.gaussian()),
  };
}

/** Values rounded to bf16, as most published weights are (and as the fingerprint stores them compactly). */
function bf16(values: Float32Array): Float32Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) bits[i] = (bits[i]! + 0x8000) & 0xffff0000;
  return values;
}

function drift(values: Float32Array, relative: number, prng: Prng, centered: number): Float32Array {
  return bf16(Float32Array.from(values, (v) => v + relative * (Math.abs(v - centered) + 0.02) * prng.gaussian()));
}

function fingerprintOf(name: string, w: BaseWeights, relativeDrift: number, prng: Prng): Fingerprint {
  const layers = LAYERS;
  const architecture: ArchitectureTuple = {
    family: 'llama', architectures: ['LlamaForCausalLM'], hiddenSize: w.hidden, layers, heads: 4, kvHeads: 8, intermediateSize: Math.round((w.hidden * 8) / 3), vocabSize: w.vocab.size, normType: 'rmsnorm', positional: 'rope',
  };
  const roles: Array<Pick<VectorSignal, 'role' | 'layer'>> = [];
  for (let l = 0; l < layers; l++) roles.push({ role: 'attn_norm', layer: l }, { role: 'mlp_norm', layer: l });
  roles.push({ role: 'final_norm' });
  const vectors: VectorSignal[] = roles.map((r, i) => ({ ...r, part: 'weight', dtype: 'BF16', values: relativeDrift > 0 ? drift(w.norms[i]!, relativeDrift, prng, 1) : bf16(Float32Array.from(w.norms[i]!)) }));
  const rows = relativeDrift > 0 ? drift(w.anchorRows, relativeDrift, prng, 0) : bf16(Float32Array.from(w.anchorRows));
  return {
    schema: FINGERPRINT_SCHEMA,
    schemaVersion: FINGERPRINT_SCHEMA_VERSION,
    extractorVersion: EXTRACTOR_VERSION,
    model: { name, format: 'safetensors', parameterCount: 12 * layers * w.hidden * w.hidden, tensorCount: vectors.length + 1 },
    samplingPlan: DEFAULT_SAMPLING_PLAN,
    files: [{ relativePath: 'model.safetensors', role: 'weights', sizeBytes: 24 * layers * w.hidden * w.hidden }],
    declared: { claims: [] },
    architecture: { ...architecture, hash: canonicalArchitectureHash(architecture) },
    tokenizer: { model: 'bpe', convention: 'byte-level', size: w.vocab.size, tokensHash: w.vocab.tokensHash, mergesPrefixHash: '', mergeCount: 0, prefixHashes: [], minhash: w.vocab.minhash, specialTokens: [] },
    tensors: [{ name: 'model.embed_tokens.weight', role: 'embed', dtype: 'BF16', shape: [w.vocab.size, w.hidden], digest: name, coverage: 'sampled' }],
    vectors,
    tokenRows: [{ role: 'embed', rows: w.vocab.size, cols: SIGNAL_WIDTH, tokens: w.vocab.anchors, dtype: 'BF16', values: rows }],
    matrices: [],
    profiles: [],
    bytesRead: 0,
  };
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const folder = mkdtempSync(path.join(tmpdir(), 'lineage-bench-scan-'));
  const file = path.join(folder, 'registry.sqlite');
  try {
    const prng = createPrng('bench-scan');
    const vocabularies = makeVocabularies();
    const bases: BaseWeights[] = [];
    const fillStart = performance.now();
    const registry = await openSqliteRegistry(file, { writable: true });
    for (let i = 0; i < ENTRIES; i++) {
      const baseIndex = Math.floor(i / (DERIVATIVES_PER_BASE + 1));
      if (i % (DERIVATIVES_PER_BASE + 1) === 0) bases.push(makeBase(prng, vocabularies));
      const isBase = i % (DERIVATIVES_PER_BASE + 1) === 0;
      const id = isBase ? `org${baseIndex}/base` : `user${i}/finetune-of-${baseIndex}`;
      registry.put({ meta: { id, kind: 'weights', family: 'llama', declaredParents: [] }, fingerprint: fingerprintOf(id, bases[baseIndex]!, isBase ? 0 : 0.05 + 0.25 * prng.nextFloat(), prng) });
      if ((i + 1) % 10_000 === 0) process.stderr.write(`  ${i + 1} entries (${((performance.now() - fillStart) / 1000).toFixed(0)} s)\n`);
    }
    registry.commit();
    registry.close();
    const fillSeconds = (performance.now() - fillStart) / 1000;
    const fileBytes = statSync(file).size;

    const openStart = performance.now();
    const reopened = await openSqliteRegistry(file);
    const openMs = performance.now() - openStart;
    const latencies: number[] = [];
    let relatedFound = 0;
    let unrelatedClean = 0;
    const queries = createPrng('bench-scan-queries');
    for (let s = 0; s < SCANS; s++) {
      // Half the queries are new fine-tunes of a known base, half are new independent models.
      const derived = s % 2 === 0;
      const base = derived ? bases[queries.nextInt(bases.length)]! : makeBase(queries, vocabularies);
      const fp = fingerprintOf(`query-${s}`, base, derived ? 0.05 + 0.25 * queries.nextFloat() : 0, queries);
      const t0 = performance.now();
      const result = scanRegistry(reopened, fp);
      latencies.push(performance.now() - t0);
      const related = result.matches.some((m) => RELATED_VERDICTS.has(m.verdict));
      if (derived && related) relatedFound++;
      if (!derived && !related) unrelatedClean++;
    }
    reopened.close();
    latencies.sort((a, b) => a - b);
    const lines = [
      `entries:            ${ENTRIES} (${bases.length} bases x ${DERIVATIVES_PER_BASE + 1}), filled in ${fillSeconds.toFixed(1)} s`,
      `file size:          ${(fileBytes / 1024 / 1024).toFixed(1)} MiB`,
      `bytes per entry:    ${Math.round(fileBytes / ENTRIES)}`,
      `open (read+parse):  ${openMs.toFixed(0)} ms`,
      `scans:              ${SCANS} (half derivatives of a known base, half independent models)`,
      `scan latency p50:   ${percentile(latencies, 0.5).toFixed(1)} ms`,
      `scan latency p99:   ${percentile(latencies, 0.99).toFixed(1)} ms`,
      `derivatives found:  ${relatedFound} of ${SCANS / 2}; independent models with no related entry: ${unrelatedClean} of ${SCANS / 2}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:scan: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
