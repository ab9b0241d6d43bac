// Benchmark fixture: a Llama-2-7B-shaped BF16 safetensors checkpoint (~13.5 GB) sharded like the Hub
// (model-00001-of-00002 ~9.98 GB + model-00002-of-00002 ~3.5 GB, index and config.json). The bytes are
// real, pseudo-random and on disk (not sparse), so a full read of the checkpoint costs what it would
// cost on a real download. Complete files are reused across runs; anything else is rewritten.
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, readFile, rename, stat, statfs, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { encodeSafetensorsHeader, shardFileName, type TensorLayout } from '../../test/fixtures/safetensorsWriter';

/** Llama-2-7B (meta-llama/Llama-2-7b-hf) dimensions. */
export const LLAMA2_7B = {
  hiddenSize: 4096,
  layers: 32,
  heads: 32,
  intermediateSize: 11008,
  vocabSize: 32000,
} as const;

/** Hugging Face `save_pretrained` default max_shard_size ("10GB" = 10^10 bytes of tensor data). */
const MAX_SHARD_DATA_BYTES = 10_000_000_000;
const BF16_BYTES = 2;
/** Size of the random base buffer written repeatedly (with a per-chunk XOR) into every matrix. */
const CHUNK_BYTES = 64 * 1024 * 1024;
/** Disk space kept free beyond the checkpoint, so the benchmark never fills the disk. */
const FREE_SPACE_MARGIN_BYTES = 1024 * 1024 * 1024;

interface ShardPlan {
  fileName: string;
  /** Tensors in file order (names sorted, as the safetensors serializer stores them). */
  layout: Record<string, TensorLayout>;
  headerBytes: Uint8Array;
  fileBytes: number;
}

export interface CheckpointPlan {
  folder: string;
  shards: ShardPlan[];
  totalFileBytes: number;
  /** Sum of tensor bytes, as `metadata.total_size` of the index. */
  totalTensorBytes: number;
  indexJson: string;
  configJson: string;
}

/** Tensor names and shapes in Hugging Face module order (embed, layer 0..31, norm, lm_head). */
function llamaTensors(): Array<[string, TensorLayout]> {
  const { hiddenSize: h, layers, intermediateSize: ffn, vocabSize } = LLAMA2_7B;
  const bf16 = (...shape: number[]): TensorLayout => ({ dtype: 'BF16', shape });
  const out: Array<[string, TensorLayout]> = [['model.embed_tokens.weight', bf16(vocabSize, h)]];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    out.push(
      [`${p}.input_layernorm.weight`, bf16(h)],
      [`${p}.self_attn.q_proj.weight`, bf16(h, h)],
      [`${p}.self_attn.k_proj.weight`, bf16(h, h)],
      [`${p}.self_attn.v_proj.weight`, bf16(h, h)],
      [`${p}.self_attn.o_proj.weight`, bf16(h, h)],
      [`${p}.post_attention_layernorm.weight`, bf16(h)],
      [`${p}.mlp.gate_proj.weight`, bf16(ffn, h)],
      [`${p}.mlp.up_proj.weight`, bf16(ffn, h)],
      [`${p}.mlp.down_proj.weight`, bf16(h, ffn)],
    );
  }
  out.push(['model.norm.weight', bf16(h)], ['lm_head.weight', bf16(vocabSize, h)]);
  return out;
}

function tensorByteLength(t: TensorLayout): number {
  return t.shape.reduce((a, b) => a * b, 1) * BF16_BYTES;
}

/** The layout of the checkpoint in `folder`: which tensor goes to which shard, and every file's size. */
export function planCheckpoint(folder: string): CheckpointPlan {
  // Greedy split in module order, like transformers' shard_checkpoint: a new shard when the next tensor would overflow.
  const groups: Array<Array<[string, TensorLayout]>> = [[]];
  let groupBytes = 0;
  for (const entry of llamaTensors()) {
    const bytes = tensorByteLength(entry[1]);
    if (groupBytes + bytes > MAX_SHARD_DATA_BYTES && groups[groups.length - 1]!.length > 0) {
      groups.push([]);
      groupBytes = 0;
    }
    groups[groups.length - 1]!.push(entry);
    groupBytes += bytes;
  }
  const weightMap: Record<string, string> = {};
  let totalTensorBytes = 0;
  const shards = groups.map((group, i): ShardPlan => {
    const fileName = shardFileName(i + 1, groups.length);
    const sorted = [...group].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const layout = Object.fromEntries(sorted);
    const { headerBytes, dataSectionBytes } = encodeSafetensorsHeader(layout, { format: 'pt' });
    for (const [name, t] of group) {
      weightMap[name] = fileName;
      totalTensorBytes += tensorByteLength(t);
    }
    return { fileName, layout, headerBytes, fileBytes: headerBytes.length + dataSectionBytes };
  });
  const sortedWeightMap = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    folder,
    shards,
    totalFileBytes: shards.reduce((s, sh) => s + sh.fileBytes, 0),
    totalTensorBytes,
    indexJson: JSON.stringify({ metadata: { total_size: totalTensorBytes }, weight_map: sortedWeightMap }, null, 2) + '\n',
    configJson: JSON.stringify(llamaConfig(), null, 2) + '\n',
  };
}

function llamaConfig(): Record<string, unknown> {
  const { hiddenSize, layers, heads, intermediateSize, vocabSize } = LLAMA2_7B;
  return {
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    bos_token_id: 1,
    eos_token_id: 2,
    hidden_act: 'silu',
    hidden_size: hiddenSize,
    initializer_range: 0.02,
    intermediate_size: intermediateSize,
    max_position_embeddings: 4096,
    model_type: 'llama',
    num_attention_heads: heads,
    num_hidden_layers: layers,
    num_key_value_heads: heads,
    pretraining_tp: 1,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 10000.0,
    tie_word_embeddings: false,
    torch_dtype: 'bfloat16',
    transformers_version: '4.31.0.dev0',
    use_cache: true,
    vocab_size: vocabSize,
  };
}

// ---- pseudo-random BF16 data ---------------------------------------------------------------

/** xorshift32 seeded from a string: fast, deterministic, good enough for filler weights. */
function seededRandom(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0) || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

/** `count` BF16 values ~ N(mean, std^2) (Box-Muller), rounded to nearest even, little-endian. */
function gaussianBf16(count: number, mean: number, std: number, seed: string): Uint8Array {
  const next = seededRandom(seed);
  const floats = new Float32Array(2);
  const floatBits = new Uint32Array(floats.buffer);
  const out = new Uint16Array(count);
  for (let i = 0; i < count; i += 2) {
    const u1 = (next() + 1) / 4294967297; // (0, 1): never log(0)
    const u2 = next() / 4294967296;
    const radius = std * Math.sqrt(-2 * Math.log(u1));
    floats[0] = mean + radius * Math.cos(2 * Math.PI * u2);
    floats[1] = mean + radius * Math.sin(2 * Math.PI * u2);
    for (let k = 0; k < 2 && i + k < count; k++) {
      const bits = floatBits[k]!;
      out[i + k] = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
    }
  }
  return new Uint8Array(out.buffer);
}

/**
 * Writes `length` bytes of matrix filler at `position`: the base buffer XORed per 64 MB chunk with a
 * mask on the sign and low mantissa bits, so chunks differ while keeping the value distribution.
 */
async function writeMatrixData(
  handle: FileHandle,
  position: number,
  length: number,
  base: Uint32Array,
  scratch: Uint32Array,
  chunkSeed: () => number,
  onBytes: (n: number) => void,
): Promise<void> {
  let written = 0;
  while (written < length) {
    const chunkBytes = Math.min(CHUNK_BYTES, length - written);
    const mask = (chunkSeed() & 0x807f807f) >>> 0;
    const words = Math.ceil(chunkBytes / 4);
    for (let i = 0; i < words; i++) scratch[i] = base[i]! ^ mask;
    const bytes = new Uint8Array(scratch.buffer, 0, chunkBytes);
    let done = 0;
    while (done < chunkBytes) {
      const { bytesWritten } = await handle.write(bytes, done, chunkBytes - done, position + written + done);
      done += bytesWritten;
    }
    written += chunkBytes;
    onBytes(chunkBytes);
  }
}

// ---- files on disk -------------------------------------------------------------------------

/** A shard is complete when its size and header are as planned and its blocks are allocated (not sparse). */
async function shardIsComplete(filePath: string, shard: ShardPlan): Promise<boolean> {
  try {
    const info = await stat(filePath);
    if (info.size !== shard.fileBytes) return false;
    // st_blocks counts 512-byte units; a sparse file allocates far fewer than its size.
    if (info.blocks * 512 < info.size * 0.99) return false;
    const handle = await open(filePath, 'r');
    try {
      const head = new Uint8Array(shard.headerBytes.length);
      await handle.read(head, 0, head.length, 0);
      return Buffer.from(head).equals(Buffer.from(shard.headerBytes));
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  }
}

async function nearestExistingDir(dir: string): Promise<string> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      await access(current, fsConstants.F_OK);
      return current;
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

export function formatGB(bytes: number): string {
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

export type EnsureResult =
  | { ok: true; reused: boolean; plan: CheckpointPlan; files: string[] }
  | { ok: false; reason: string };

/**
 * Makes sure the checkpoint exists and is complete in `folder`, writing missing or incomplete shards.
 * Refuses (ok: false) when the disk lacks the space for what must be written.
 */
export async function ensureCheckpoint(folder: string, log: (line: string) => void): Promise<EnsureResult> {
  const plan = planCheckpoint(folder);
  const missing: ShardPlan[] = [];
  for (const shard of plan.shards) {
    if (!(await shardIsComplete(path.join(folder, shard.fileName), shard))) missing.push(shard);
  }
  const files = plan.shards.map((s) => path.join(folder, s.fileName));

  if (missing.length > 0) {
    const needed = missing.reduce((s, sh) => s + sh.fileBytes, 0);
    // Incomplete files of the same name will be deleted first, so their space counts as free.
    let reclaimable = 0;
    for (const shard of missing) {
      for (const name of [shard.fileName, shard.fileName + '.partial']) {
        try {
          reclaimable += (await stat(path.join(folder, name))).blocks * 512;
        } catch {
          // absent
        }
      }
    }
    const fsInfo = await statfs(await nearestExistingDir(folder));
    const free = fsInfo.bavail * fsInfo.bsize + reclaimable;
    if (free < needed + FREE_SPACE_MARGIN_BYTES) {
      return {
        ok: false,
        reason:
          `the benchmark checkpoint needs ${formatGB(needed)} more in ${folder} (plus ${formatGB(FREE_SPACE_MARGIN_BYTES)} to spare), ` +
          `but only ${formatGB(free)} is free there. Free some space or point LINEAGE_BENCH_DIR at a bigger disk.`,
      };
    }
    await mkdir(folder, { recursive: true });
    log(`writing a Llama-2-7B-shaped BF16 checkpoint (${formatGB(plan.totalFileBytes)}) to ${folder} ...`);
    const started = performance.now();
    // Matrices: N(0, 0.02^2) like initialised / trained projections; one 64 MB base buffer reused.
    const base = new Uint32Array(gaussianBf16(CHUNK_BYTES / BF16_BYTES, 0, 0.02, 'lineage-bench|matrix').buffer);
    const scratch = new Uint32Array(CHUNK_BYTES / 4);
    let writtenTotal = 0;
    let lastReport = performance.now();
    const onBytes = (n: number) => {
      writtenTotal += n;
      const now = performance.now();
      if (now - lastReport >= 5000) {
        lastReport = now;
        const seconds = (now - started) / 1000;
        log(`  ${formatGB(writtenTotal)} / ${formatGB(needed)} written (${(writtenTotal / 1e6 / seconds).toFixed(0)} MB/s)`);
      }
    };
    for (const shard of missing) {
      const finalPath = path.join(folder, shard.fileName);
      const partialPath = finalPath + '.partial';
      await unlink(finalPath).catch(() => undefined);
      const handle = await open(partialPath, 'w');
      try {
        await handle.write(shard.headerBytes, 0, shard.headerBytes.length, 0);
        let position = shard.headerBytes.length;
        for (const [name, t] of Object.entries(shard.layout)) {
          const bytes = tensorByteLength(t);
          if (t.shape.length === 1) {
            // RMSNorm gains: ~1.0 with a little spread, distinct per tensor.
            const data = gaussianBf16(bytes / BF16_BYTES, 1.0, 0.05, `lineage-bench|${name}`);
            await handle.write(data, 0, data.length, position);
            onBytes(data.length);
          } else {
            await writeMatrixData(handle, position, bytes, base, scratch, seededRandom(`lineage-bench|${name}`), onBytes);
          }
          position += bytes;
        }
        if (position !== shard.fileBytes) throw new Error(`internal: ${shard.fileName} ended at ${position}, planned ${shard.fileBytes}`);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await rename(partialPath, finalPath);
      log(`  wrote ${shard.fileName} (${formatGB(shard.fileBytes)})`);
    }
    const seconds = (performance.now() - started) / 1000;
    log(`checkpoint written in ${seconds.toFixed(1)} s (${(needed / 1e6 / seconds).toFixed(0)} MB/s)`);
  }

  // The small JSON files: rewrite when absent or different.
  for (const [name, text] of [
    ['model.safetensors.index.json', plan.indexJson],
    ['config.json', plan.configJson],
  ] as const) {
    const filePath = path.join(folder, name);
    const current = await readFile(filePath, 'utf8').catch(() => undefined);
    if (current !== text) await writeFile(filePath, text);
  }
  return { ok: true, reused: missing.length === 0, plan, files };
}

/**
 * XORs out[at..at+n) with the 4-byte `mask` repeated, starting at mask byte `phase`: bytes until `out`
 * is word-aligned, then whole little-endian words (the mock serves tens of MB per run; a byte loop
 * made its CPU, on the same cores as the client, a large part of the benchmark's wall time).
 */
function xorRepeating(out: Uint8Array, at: number, n: number, mask: Uint8Array, phase: number): void {
  let i = 0;
  let k = phase;
  for (; i < n && (out.byteOffset + at + i) % 4 !== 0; i++, k = (k + 1) & 3) out[at + i] = out[at + i]! ^ mask[k]!;
  const words = Math.floor((n - i) / 4);
  if (words > 0) {
    const word = (mask[k]! | (mask[(k + 1) & 3]! << 8) | (mask[(k + 2) & 3]! << 16) | (mask[(k + 3) & 3]! << 24)) >>> 0;
    const view = new Uint32Array(out.buffer, out.byteOffset + at + i, words);
    for (let w = 0; w < words; w++) view[w] = view[w]! ^ word;
    i += words * 4;
  }
  for (; i < n; i++, k = (k + 1) & 3) out[at + i] = out[at + i]! ^ mask[k]!;
}

// ---- the same bytes, synthesized from offsets (the remote benchmark's mock Hub serves them) ----

export interface SynthesizedFile {
  name: string;
  size: number;
  /** Bytes [start, end) exactly as ensureCheckpoint writes them. */
  read(start: number, end: number): Uint8Array;
}

/** The checkpoint's files computed on the fly from the plan: no 13 GB on disk. */
export function synthesizedCheckpoint(plan: CheckpointPlan): SynthesizedFile[] {
  let base: Uint8Array | undefined;
  const baseBytes = (): Uint8Array => (base ??= gaussianBf16(CHUNK_BYTES / BF16_BYTES, 0, 0.02, 'lineage-bench|matrix'));
  const vectors = new Map<string, Uint8Array>();
  const masks = new Map<string, number[]>();
  const maskOf = (name: string, chunk: number): number => {
    const list = masks.get(name) ?? [];
    masks.set(name, list);
    if (list.length === 0) {
      // The per-chunk masks are the first outputs of the tensor's generator, in chunk order.
      const next = seededRandom(`lineage-bench|${name}`);
      list.push(...Array.from({ length: 8 }, () => (next() & 0x807f807f) >>> 0));
    }
    return list[chunk]!;
  };
  const shardFiles = plan.shards.map((shard): SynthesizedFile => {
    const tensors: Array<{ name: string; start: number; end: number; vector: boolean }> = [];
    let position = shard.headerBytes.length;
    for (const [name, t] of Object.entries(shard.layout)) {
      const bytes = tensorByteLength(t);
      tensors.push({ name, start: position, end: position + bytes, vector: t.shape.length === 1 });
      // Norm vectors are small: made now, not while a timed run waits for them.
      if (t.shape.length === 1) vectors.set(name, gaussianBf16(bytes / BF16_BYTES, 1.0, 0.05, `lineage-bench|${name}`));
      position += bytes;
    }
    return {
      name: shard.fileName,
      size: shard.fileBytes,
      read(start: number, end: number): Uint8Array {
        // Not zeroed: the header and the tensors cover every byte of a shard (checked when writing it).
        const out = Buffer.allocUnsafe(end - start);
        const header = shard.headerBytes;
        if (start < header.length) out.set(header.subarray(start, Math.min(end, header.length)), 0);
        // The first tensor ending after `start` (tensors are in file order): most reads are one row.
        let low = 0;
        for (let high = tensors.length; low < high; ) {
          const mid = (low + high) >>> 1;
          if (tensors[mid]!.end <= start) low = mid + 1;
          else high = mid;
        }
        for (let k = low; k < tensors.length && tensors[k]!.start < end; k++) {
          const t = tensors[k]!;
          const from = Math.max(start, t.start);
          const to = Math.min(end, t.end);
          if (from >= to) continue;
          if (t.vector) {
            out.set(vectors.get(t.name)!.subarray(from - t.start, to - t.start), from - start);
            continue;
          }
          const source = baseBytes();
          for (let at = from; at < to; ) {
            const inTensor = at - t.start;
            const chunk = Math.floor(inTensor / CHUNK_BYTES);
            const chunkEnd = Math.min(to, t.start + (chunk + 1) * CHUNK_BYTES);
            const mask = maskOf(t.name, chunk);
            const maskBytes = Uint8Array.of(mask & 0xff, (mask >>> 8) & 0xff, (mask >>> 16) & 0xff, (mask >>> 24) & 0xff);
            const j0 = (at - t.start) % CHUNK_BYTES;
            const o0 = at - start;
            const n = chunkEnd - at;
            // Same bytes as writeMatrixData: the base buffer XORed with the chunk's little-endian word mask.
            out.set(source.subarray(j0, j0 + n), o0);
            xorRepeating(out, o0, n, maskBytes, j0 & 3);
            at = chunkEnd;
          }
        }
        return out;
      },
    };
  });
  const text = (name: string, body: string): SynthesizedFile => {
    const bytes = new TextEncoder().encode(body);
    return { name, size: bytes.length, read: (s, e) => bytes.subarray(s, e) };
  };
  return [...shardFiles, text('model.safetensors.index.json', plan.indexJson), text('config.json', plan.configJson)];
}
