// Builds a Fingerprint from an opened model: reads norm vectors, anchor-token rows and sampled
// matrix rows through positional reads (a few MB whatever the model size), never whole matrices.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { sha256File } from '../io/fileHash';
import { FingerprintBudgetError } from '../errors';
import { dtypeLayout } from '../formats/dtypes';
import { elementCount, type TensorInfo } from '../formats/types';
import { canonicalArchitectureHash } from '../model/config';
import type { OpenedModel } from '../model/openModel';
import { ggufStoredRowOf } from '../model/ggufLayout';
import { mapTensorRoles, type Role } from '../model/roles';
import { summarizeModel } from '../model/summary';
import { countTokens, type Vocabulary } from '../tokenizers/vocabulary';
import { runWithConcurrency } from '../util/concurrency';
import { packFloats } from './encoding';
import { chooseAnchorIds, matrixAxes, minhashSketch, rowsToSample, sampleRowPositions } from './sampling';
import {
  DEFAULT_SAMPLING_PLAN,
  EXTRACTOR_VERSION,
  FINGERPRINT_SCHEMA,
  FINGERPRINT_SCHEMA_VERSION,
  type FileIdentity,
  type Fingerprint,
  type LayerProfile,
  type MatrixRowsSignal,
  type SamplingPlan,
  type TensorDigest,
  type TokenizerSignal,
  type TokenRowsSignal,
  type VectorSignal,
} from './types';

export interface ExtractOptions {
  plan?: SamplingPlan;
  /** Called after every tensor read with the weight bytes read so far and the planned total. */
  onProgress?: (bytesRead: number, plannedBytes: number) => void;
  /** Files up to this size are hashed (cheap, and makes `identical` decidable); larger ones only when their hash is free. */
  hashFilesUpToBytes?: number;
  /** Refuse (before reading any tensor) when the sampling plan needs more weight bytes than this. */
  maxWeightBytes?: number;
}

/** Reads in flight while sampling matrix rows (measured: 16 keeps a cold disk busy without thrashing). */
const CONCURRENT_READS = 16;
const NORM_ROLES: ReadonlySet<Role> = new Set<Role>(['attn_norm', 'mlp_norm', 'final_norm']);
const MAX_VECTOR_ELEMENTS = 1 << 20;
const SHA256_HEX = /^[0-9a-f]{64}$/;

interface RoledTensor {
  info: TensorInfo;
  role: Role;
  layer?: number;
  part: 'weight' | 'bias';
  transposed: boolean;
}

/** Elements of small whole tensors decoded ahead at once (16 MB of floats). */
const WHOLE_READ_CHUNK_ELEMENTS = 4 * 1024 * 1024;
/** ... and at most this many tensors (a model of 100k tiny tensors must not hold them all at once). */
const WHOLE_READ_CHUNK_TENSORS = 1024;

export async function extractFingerprint(model: OpenedModel, options: ExtractOptions = {}): Promise<Fingerprint> {
  const plan = options.plan ?? DEFAULT_SAMPLING_PLAN;
  const store = model.store;
  // The family disambiguates names shared by different layouts (GPT-2 Conv1D vs GPT-BigCode Linear).
  const roles = mapTensorRoles(model.tensors.map((t) => t.name), { family: model.architecture?.family });
  const roled: RoledTensor[] = model.tensors.map((info) => {
    const r = roles.get(info.name)!;
    return { info, role: r.role, layer: r.layer, part: r.part, transposed: r.transposed };
  });
  const planned = plannedReads(roled, model.vocabulary, plan);
  const plannedBytes = planned.reduce((s, p) => s + p.bytes, 0);
  if (options.maxWeightBytes !== undefined && plannedBytes > options.maxWeightBytes) {
    throw new FingerprintBudgetError(model.location.displayName, plannedBytes, options.maxWeightBytes);
  }
  const bytesBefore = await store.bytesRead();
  const progress = async () => options.onProgress?.((await store.bytesRead()) - bytesBefore, plannedBytes);

  // Values already decoded per tensor, so digests of big tensors reuse the sampled rows.
  const sampledValues = new Map<string, Float32Array>();
  // Digests computed as soon as a tensor's values arrive, while other reads are still in flight.
  const digests = new WeakMap<Float32Array, string>();
  // The tokenizer signal (hashes and a MinHash sketch of the whole vocabulary, tens of ms for 32k
  // tokens) needs no weights: it is computed when the first values arrive, while a remote model's
  // other reads are still in flight, rather than after the last one.
  let tokenizerDone: TokenizerSignal | undefined;
  const tokenizer = () => (tokenizerDone ??= model.vocabulary && tokenizerSignal(model.vocabulary, plan));
  const keep = (name: string, values: Float32Array) => {
    sampledValues.set(name, values);
    digests.set(values, digestFloats(values));
    tokenizer();
  };

  // Norm vectors, anchor-token rows and matrix rows are independent reads: they all go into one pool,
  // so a remote model's reads merge into a few multi-range requests per round trip instead of one
  // round trip per phase, and a local disk queue stays busy. Each signal keeps its slot, so the
  // result does not depend on the order in which reads complete.
  const readJobs: Array<() => Promise<void>> = [];

  const vectorTensors = roled.filter((t) => NORM_ROLES.has(t.role) && t.info.shape.length === 1);
  const vectors = new Array<VectorSignal>(vectorTensors.length);
  vectorTensors.forEach((t, i) => readJobs.push(async () => {
    const values = await store.readAll(t.info.name, MAX_VECTOR_ELEMENTS);
    keep(t.info.name, values);
    vectors[i] = { role: t.role, layer: t.layer, part: t.part, dtype: t.info.dtype, values };
  }));

  // Matrix rows are many small scattered reads: keep several in flight so the disk queue stays busy.
  const matrixTensors = roled.filter((t) => t.part === 'weight' && t.info.shape.length === 2 && matrixAxes(t.role, t.transposed));
  const matrices = new Array<MatrixRowsSignal>(matrixTensors.length);
  // Each layer's profile is computed as its rows arrive (a pass over every sampled value: done while
  // other reads are in flight, not after the last one).
  const profiles = new Map<MatrixRowsSignal, LayerProfile>();
  matrixTensors.forEach((t, i) => readJobs.push(async () => {
    const axes = matrixAxes(t.role, t.transposed)!;
    const [rows, cols] = t.info.shape as [number, number];
    const rowIndices = sampleRowPositions(t.role, rows, cols, rowsToSample(rows, cols, plan), plan);
    const storedRow = storedRowMapping(model, t, rows);
    const values = await store.readRowSet(t.info.name, storedRow ? rowIndices.map(storedRow) : rowIndices);
    keep(t.info.name, values);
    await progress();
    matrices[i] = { role: t.role, layer: t.layer, name: t.info.name, rows, cols, ...axes, rowIndices, dtype: t.info.dtype, values };
    const profile = layerProfile(matrices[i]);
    if (profile) profiles.set(matrices[i], profile);
  }));

  // Embedding and output rows, kept in tensor order. Their anchors (hashing the whole vocabulary) are
  // chosen after the other reads are sent, so that work overlaps the network.
  const tokenTensors = roled.filter((t) => (t.role === 'embed' || t.role === 'lm_head') && t.part === 'weight' && t.info.shape.length === 2);
  const tokenRows = new Array<TokenRowsSignal>(tokenTensors.length);
  const anchorsByRows = new Map<number, { ids: number[]; tokens: string[] }>();
  // They start once another read has come back: by then the other reads have been sent (a remote
  // model's first requests do not wait for the vocabulary to be hashed), and the hashing runs while
  // those requests are in flight.
  let anotherReadSettled!: () => void;
  const anchorsMayStart = new Promise<void>((resolve) => (anotherReadSettled = resolve));
  if (readJobs.length === 0) anotherReadSettled();
  for (let j = 0; j < readJobs.length; j++) {
    const job = readJobs[j]!;
    readJobs[j] = () => job().finally(anotherReadSettled);
  }
  tokenTensors.forEach((t, i) => readJobs.push(async () => {
    await anchorsMayStart;
    const [rows, cols] = t.info.shape as [number, number];
    const anchors = anchorsByRows.get(rows) ?? anchorTokens(model.vocabulary, rows, plan);
    anchorsByRows.set(rows, anchors);
    const values = await store.readRowSet(t.info.name, anchors.ids);
    keep(t.info.name, values);
    await progress();
    const role = t.role === 'embed' ? 'embed' : 'lm_head';
    tokenRows[i] = { role, rows, cols, tokens: anchors.tokens, dtype: t.info.dtype, values };
  }));

  await runWithConcurrency(readJobs, model.readParallelism ?? CONCURRENT_READS);
  await progress();

  // Small tensors digested whole are read in batches of neighbours (one read per run, not per tensor).
  const wholeReads = roled.filter((t) => {
    const n = elementCount(t.info.shape);
    if (n > plan.fullDigestMaxElements || sampledValues.get(t.info.name)?.length === n) return false;
    return !(t.info.shape.length === 2 && storedRowMapping(model, t, t.info.shape[0]!));
  });
  // Prefetched a chunk at a time (bounded memory), in the order the loop below digests them.
  const wholeValues = new Map<string, Float32Array>();
  let nextWholeRead = 0;
  const takeWhole = async (name: string): Promise<Float32Array | undefined> => {
    if (!wholeValues.has(name) && nextWholeRead < wholeReads.length && wholeReads[nextWholeRead]!.info.name === name) {
      const chunk: string[] = [];
      for (let elements = 0; nextWholeRead < wholeReads.length && elements < WHOLE_READ_CHUNK_ELEMENTS && chunk.length < WHOLE_READ_CHUNK_TENSORS; nextWholeRead++) {
        chunk.push(wholeReads[nextWholeRead]!.info.name);
        elements += elementCount(wholeReads[nextWholeRead]!.info.shape);
      }
      for (const [k, v] of await store.readAllMany(chunk)) wholeValues.set(k, v);
    }
    const values = wholeValues.get(name);
    wholeValues.delete(name);
    return values;
  };

  const tensors: TensorDigest[] = [];
  for (const t of roled) {
    const n = elementCount(t.info.shape);
    let values: Float32Array | undefined;
    let coverage: TensorDigest['coverage'] = 'full';
    if (n <= plan.fullDigestMaxElements) {
      values = sampledValues.get(t.info.name);
      if (!values || values.length !== n) values = await takeWhole(t.info.name);
      if (!values || values.length !== n) {
        const storedRow = t.info.shape.length === 2 ? storedRowMapping(model, t, t.info.shape[0]!) : undefined;
        const rows = t.info.shape[0] ?? 1;
        values = storedRow
          ? await store.readRowSet(t.info.name, Array.from({ length: rows }, (_, r) => storedRow(r)))
          : await store.readAll(t.info.name);
      }
    } else {
      coverage = 'sampled';
      values = sampledValues.get(t.info.name) ?? (await sampleOtherTensor(model, t, plan));
    }
    tensors.push({ name: t.info.name, role: t.role, layer: t.layer, dtype: t.info.dtype, shape: t.info.shape, digest: digests.get(values) ?? digestFloats(values), coverage });
  }
  await progress();

  const summary = summarizeModel(model, model.location.displayName);
  const bytesRead = (await store.bytesRead()) - bytesBefore;
  return {
    schema: FINGERPRINT_SCHEMA,
    schemaVersion: FINGERPRINT_SCHEMA_VERSION,
    extractorVersion: EXTRACTOR_VERSION,
    model: {
      // The repo id, or the folder/file name: never the full path, so copies fingerprint identically anywhere.
      name: model.location.repoId ?? path.basename(model.location.file ?? model.location.folder),
      format: model.format,
      repoId: model.location.repoId,
      commit: model.location.commit,
      parameterCount: summary.parameterCount,
      tensorCount: model.tensors.length,
    },
    samplingPlan: plan,
    files: await fileIdentities(model, options.hashFilesUpToBytes ?? 16 * 1024 * 1024),
    declared: model.declared,
    architecture: model.architecture && { ...model.architecture, hash: canonicalArchitectureHash(model.architecture) },
    tokenizer: tokenizer(),
    tensors: tensors.sort(byLayerRoleName),
    vectors: vectors.sort(byLayerRoleName),
    tokenRows,
    matrices: matrices.sort(byLayerRoleName),
    profiles: matrices.flatMap((m) => profiles.get(m) ?? []),
    bytesRead,
  };
}

/** GGUF q/k rows of RoPE-permuted architectures are read in Hugging Face order, so formats compare. */
function storedRowMapping(model: OpenedModel, t: RoledTensor, rows: number): ((hfRow: number) => number) | undefined {
  return model.format === 'gguf' ? ggufStoredRowOf(t.role, rows, model.architecture) : undefined;
}

interface PlannedRead {
  bytes: number;
}

/** The byte cost of the reads extraction will make (for the progress bar's total). */
function plannedReads(roled: RoledTensor[], vocabulary: Vocabulary | undefined, plan: SamplingPlan): PlannedRead[] {
  const reads: PlannedRead[] = [];
  for (const t of roled) {
    const { shape, byteLength } = t.info;
    const n = elementCount(shape);
    const bytesPerElement = n > 0 ? byteLength / n : 0;
    if (shape.length === 2 && (t.role === 'embed' || t.role === 'lm_head' || matrixAxes(t.role, t.transposed))) {
      const rows = t.role === 'embed' || t.role === 'lm_head' ? Math.min(plan.anchorCount, shape[0]!, vocabulary?.tokens.length ?? shape[0]!) : rowsToSample(shape[0]!, shape[1]!, plan);
      reads.push({ bytes: rows * shape[1]! * bytesPerElement });
    } else if (n <= plan.fullDigestMaxElements) {
      reads.push({ bytes: byteLength });
    }
  }
  return reads;
}

function anchorTokens(vocabulary: Vocabulary | undefined, rows: number, plan: SamplingPlan): { ids: number[]; tokens: string[] } {
  // Without a tokenizer, ids are the only shared key: name them by id so both sides can still match.
  const tokens = vocabulary ? vocabulary.tokens : Array.from({ length: rows }, (_, i) => `#${i}`);
  const special = new Set(vocabulary?.specialTokens.map((s) => s.id) ?? []);
  const ids = chooseAnchorIds(tokens.slice(0, rows), (id) => !special.has(id), plan.anchorCount, plan);
  return { ids, tokens: ids.map((id) => tokens[id]!) };
}

/** Big tensors without a role-based sample (position embeddings, experts, buffers): a bounded seeded sample. */
async function sampleOtherTensor(model: OpenedModel, t: RoledTensor, plan: SamplingPlan): Promise<Float32Array> {
  const { rows, rowElements } = model.store.rowShape(t.info.name);
  if (rowElements <= plan.rowElementBudget) {
    const count = Math.min(rows, plan.minRowsPerMatrix);
    return model.store.readRowSet(t.info.name, sampleRowPositions('other', rows, rowElements, count, plan));
  }
  // Rows too long to read whole (e.g. a [1, 1, 1024, 1024] mask buffer): the first elements, whole blocks only.
  const { blockElements } = dtypeLayout(t.info.dtype);
  const count = Math.max(blockElements, Math.floor(plan.rowElementBudget / blockElements) * blockElements);
  return model.store.readElements(t.info.name, 0, Math.min(count, elementCount(t.info.shape)));
}

function digestFloats(values: Float32Array): string {
  // The packed form is canonical (NaNs unified, the narrowest exact width), so equal values digest equally.
  const { kind, bytes } = packFloats(values);
  return createHash('sha256').update(kind).update(bytes).digest('hex').slice(0, 32);
}

function tokenizerSignal(v: Vocabulary, plan: SamplingPlan): TokenizerSignal {
  const hasher = createHash('sha256');
  const prefixHashes: string[] = [];
  let end = v.tokens.length;
  while (end > 0 && v.tokens[end - 1] === '') end--;
  v.tokens.slice(0, end).forEach((t, id) => {
    hasher.update(t + '\n');
    if ((id + 1) % 1024 === 0) prefixHashes.push(hasher.copy().digest('hex').slice(0, 16));
  });
  const tokensHash = hasher.digest('hex');
  const merges = v.merges.slice(0, 1000);
  return {
    model: v.model,
    convention: v.convention,
    size: countTokens(v),
    tokensHash,
    mergesPrefixHash: merges.length ? createHash('sha256').update(merges.join('\n')).digest('hex') : '',
    mergeCount: v.merges.length,
    prefixHashes,
    minhash: minhashSketch(new Set(v.tokens.filter((t) => t !== '')), plan.minhashSize),
    specialTokens: v.specialTokens.map((s) => s.content),
  };
}

async function fileIdentities(model: OpenedModel, hashUpToBytes: number): Promise<FileIdentity[]> {
  const out: FileIdentity[] = [];
  const blobs = new Map(model.location.snapshot?.files.map((f) => [f.relativePath, f.blobName]) ?? []);
  for (const f of model.files) {
    // Hash the bytes whenever that is cheap: a cache blob's name is only a claim (a tampered blob keeps
    // its name; the LL006 integrity check exists for that). Large cached blobs use the name.
    const blob = blobs.get(f.relativePath);
    let sha256: string | undefined;
    if (f.remote) {
      // Not on this machine: the hash is what the Hub publishes for the commit (checked on every read).
      const published = f.remote.publishedSha256;
      out.push({ relativePath: f.relativePath, role: fileIdentityRole(model, f), sizeBytes: f.sizeBytes, ...(published ? { sha256: published } : {}) });
      continue;
    }
    if (f.sizeBytes <= hashUpToBytes) sha256 = await sha256File(f.path);
    else if (blob && SHA256_HEX.test(blob)) sha256 = blob;
    out.push({ relativePath: f.relativePath, role: fileIdentityRole(model, f), sizeBytes: (await stat(f.path)).size, ...(sha256 ? { sha256 } : {}) });
  }
  return out;
}

function fileIdentityRole(model: OpenedModel, f: OpenedModel['files'][number]): string {
  return model.weightFiles.includes(f.path) ? 'weights' : f.role === 'weights' ? 'other-weights' : f.role;
}

/** Row-norm quantiles and mean square of a layer's sampled rows (undefined outside layers). */
function layerProfile(m: MatrixRowsSignal): LayerProfile | undefined {
  if (m.layer === undefined) return undefined;
  const norms = new Float64Array(m.rowIndices.length);
  const sumSquares = rowSquareSums(m.values, m.cols, norms);
  for (let r = 0; r < norms.length; r++) norms[r] = Math.sqrt(norms[r]!);
  norms.sort();
  const q = (p: number) => norms[Math.min(norms.length - 1, Math.floor(p * norms.length))] ?? 0;
  return { layer: m.layer, role: m.role, meanSquare: sumSquares / Math.max(1, m.values.length), rowNormQuantiles: [0.1, 0.25, 0.5, 0.75, 0.9].map(q) };
}

/**
 * Each row's sum of squares into `sums`; returns their total. Its own small function: it visits every
 * sampled value (10 M for a 7B model), so it is optimized whole after a few calls. As a loop inside
 * layerProfile it ran in the interpreter (boxing every partial sum) until on-stack replacement, and
 * the optimized loop deoptimized on each exit, in every call.
 */
function rowSquareSums(values: Float32Array, cols: number, sums: Float64Array): number {
  let total = 0;
  for (let r = 0, at = 0; r < sums.length; r++) {
    let s = 0;
    for (const end = at + cols; at < end; at++) {
      const x = values[at]!;
      s += x * x;
    }
    sums[r] = s;
    total += s;
  }
  return total;
}

function byLayerRoleName<T extends { layer?: number; role: string; name?: string; part?: string }>(a: T, b: T): number {
  const la = a.layer ?? -1;
  const lb = b.layer ?? -1;
  if (la !== lb) return la - lb;
  if (a.role !== b.role) return a.role < b.role ? -1 : 1;
  const ka = `${a.part ?? ''}|${a.name ?? ''}`;
  const kb = `${b.part ?? ''}|${b.name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
