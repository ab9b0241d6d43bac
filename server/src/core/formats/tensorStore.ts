// Reads decoded tensor values from any container through positional reads: one read per
// contiguous run of requested rows, so sampling a few rows of a 10 GB shard costs kilobytes.
import { ModelFormatError, UnsupportedError } from '../errors';
import { LocalFileSource, type ByteSource } from '../io/byteSource';
import { runWithConcurrency } from '../util/concurrency';
import { decodeInto, dtypeLayout } from './dtypes';
import { recordBf16Form } from './floats';
import { elementCount, type TensorInfo } from './types';

export type SourceOpener = (path: string) => Promise<ByteSource>;

/** Largest tensor `readAll` will decode unless the caller allows more (64 M floats = 256 MB). */
export const DEFAULT_MAX_DECODED_ELEMENTS = 64 * 1024 * 1024;
/** Positional reads one readRowSet keeps in flight. */
const READS_IN_FLIGHT = 8;
/** Storage elements decoded at once when gathering a strided (transposed) view: 16 MB of F32. */
const STRIDED_WINDOW_ELEMENTS = 4 * 1024 * 1024;

export class TensorStore {
  private readonly byName = new Map<string, TensorInfo>();
  private readonly sources = new Map<string, Promise<ByteSource>>();

  constructor(
    tensors: Iterable<TensorInfo>,
    private readonly openSource: SourceOpener = (p) => LocalFileSource.open(p),
  ) {
    for (const t of tensors) this.byName.set(t.name, t);
  }

  get tensors(): TensorInfo[] {
    return [...this.byName.values()];
  }

  get(name: string): TensorInfo | undefined {
    return this.byName.get(name);
  }

  private info(name: string): TensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new UnsupportedError(`no tensor named ${name}`);
    return t;
  }

  private source(file: string): Promise<ByteSource> {
    let s = this.sources.get(file);
    if (!s) {
      s = this.openSource(file);
      this.sources.set(file, s);
    }
    return s;
  }

  /** Bytes read so far through every file this store opened. */
  async bytesRead(): Promise<number> {
    let total = 0;
    for (const s of this.sources.values()) total += (await s).stats.bytesRead;
    return total;
  }

  /** Rows are the outermost dimension; a row holds product(shape[1:]) elements (1-D: one element). */
  rowShape(name: string): { rows: number; rowElements: number } {
    const t = this.info(name);
    if (t.shape.length === 0) return { rows: 1, rowElements: 1 };
    return { rows: t.shape[0]!, rowElements: elementCount(t.shape.slice(1)) };
  }

  /** Decodes rows [startRow, startRow + rowCount) into one Float32Array (row-major). */
  async readRows(name: string, startRow: number, rowCount: number): Promise<Float32Array> {
    const rows = Array.from({ length: rowCount }, (_, i) => startRow + i);
    return this.readRowSet(name, rows);
  }

  /**
   * Decodes the given rows, in the given order, into one Float32Array (row i at i * rowElements).
   * Sorted runs of adjacent rows are fetched with one positional read each.
   */
  async readRowSet(name: string, rowIndices: readonly number[]): Promise<Float32Array> {
    const t = this.info(name);
    const { rows, rowElements } = this.rowShape(name);
    for (const r of rowIndices) {
      if (!Number.isInteger(r) || r < 0 || r >= rows) throw new UnsupportedError(`${t.file}: ${name}: row ${r} is outside 0..${rows - 1}`);
    }
    if (rowIndices.length === 0 || rowElements === 0) return new Float32Array(rowIndices.length * rowElements);
    if (!isContiguous(t)) return this.gatherStridedRows(t, rowIndices, rowElements, new Float32Array(rowIndices.length * rowElements));

    const { blockElements, blockBytes } = layoutOf(t);
    if (rowElements % blockElements !== 0) {
      throw new UnsupportedError(`${t.file}: ${name} rows of ${rowElements} elements do not fill whole ${t.dtype} blocks`);
    }
    const rowBytes = (rowElements / blockElements) * blockBytes;
    const source = await this.source(t.file);
    // Coalesce: visit requested rows in sorted order, read each run of consecutive rows once.
    const order = rowIndices.map((row, slot) => ({ row, slot })).sort((a, b) => a.row - b.row);
    const runs: Array<{ from: number; to: number }> = [];
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]!.row <= order[j]!.row + 1) j++;
      runs.push({ from: i, to: j });
      i = j + 1;
    }
    const rangeOf = ({ from, to }: { from: number; to: number }) => ({
      offset: t.dataOffset + order[from]!.row * rowBytes,
      length: (order[to]!.row - order[from]!.row + 1) * rowBytes,
    });
    let target: DecodeTarget | undefined;
    const decodeRun = ({ from, to }: { from: number; to: number }, bytes: Uint8Array) => {
      const { out, bf16Form } = (target ??= decodeTarget(t, rowIndices.length * rowElements));
      const first = order[from]!.row;
      for (let k = from; k <= to; k++) {
        const { row, slot } = order[k]!;
        const off = (row - first) * rowBytes;
        decodeInto(t.dtype, bytes.subarray(off, off + rowBytes), rowElements, out, slot * rowElements, t.file, bf16Form);
      }
    };
    if (source.readMany) {
      // A remote source: every run in one call, merged into multi-range requests. The output is
      // allocated once the bytes are in: hundreds of these calls are issued at once, and tens of MB
      // allocated before any answer arrives only make the collector run while the requests go out.
      const parts = await source.readMany(runs.map(rangeOf));
      runs.forEach((run, k) => decodeRun(run, parts[k]!));
    } else {
      // Scattered runs are independent reads: keep a few in flight so a cold disk's queue stays busy.
      const readRun = async (run: { from: number; to: number }) => {
        const { offset, length } = rangeOf(run);
        decodeRun(run, await source.read(offset, length));
      };
      await runWithConcurrency(runs.map((run) => () => readRun(run)), source.parallelReads ?? READS_IN_FLIGHT);
    }
    return completed(target!);
  }

  /** Decodes elements [start, start + count) of the flattened tensor. */
  async readElements(name: string, start: number, count: number): Promise<Float32Array> {
    const t = this.info(name);
    const total = elementCount(t.shape);
    if (start < 0 || count < 0 || start + count > total) throw new UnsupportedError(`${t.file}: ${name}: elements ${start}..${start + count} outside 0..${total}`);
    if (!isContiguous(t)) {
      const all = await this.readAll(name);
      return all.slice(start, start + count);
    }
    const { blockElements, blockBytes } = layoutOf(t);
    if (start % blockElements !== 0 || count % blockElements !== 0) {
      throw new UnsupportedError(`${t.file}: ${name}: element range must align to ${t.dtype} blocks of ${blockElements}`);
    }
    const source = await this.source(t.file);
    const bytes = await source.read(t.dataOffset + (start / blockElements) * blockBytes, (count / blockElements) * blockBytes);
    const target = decodeTarget(t, count);
    decodeInto(t.dtype, bytes, count, target.out, 0, t.file, target.bf16Form);
    return completed(target);
  }

  /** Decodes the whole tensor, refusing tensors larger than `maxElements`. */
  async readAll(name: string, maxElements = DEFAULT_MAX_DECODED_ELEMENTS): Promise<Float32Array> {
    const t = this.info(name);
    const total = elementCount(t.shape);
    if (total > maxElements) throw new UnsupportedError(`${t.file}: ${name}: ${total} elements exceed the decode limit of ${maxElements}`);
    if (!isContiguous(t)) {
      const { rowElements } = this.rowShape(name);
      const rows = t.shape.length === 0 ? 1 : t.shape[0]!;
      return this.gatherStridedRows(t, Array.from({ length: rows }, (_, i) => i), rowElements, new Float32Array(total));
    }
    return this.readElements(name, 0, total);
  }

  /**
   * Decodes several whole tensors. Contiguous tensors that sit back to back in the same file are read
   * together, up to `windowBytes` per read: a model of 100k tiny tensors (norm vectors, biases)
   * otherwise costs 100k positional reads. The bytes read are exactly the tensors' bytes.
   */
  async readAllMany(names: readonly string[], windowBytes = 1 << 20): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const batchable: Array<{ t: TensorInfo; total: number; bytes: number }> = [];
    for (const name of names) {
      const t = this.info(name);
      const total = elementCount(t.shape);
      const { blockElements, blockBytes } = layoutOf(t);
      const bytes = (total / blockElements) * blockBytes;
      if (isContiguous(t) && total % blockElements === 0 && bytes <= windowBytes && total <= DEFAULT_MAX_DECODED_ELEMENTS) batchable.push({ t, total, bytes });
      else out.set(name, await this.readAll(name));
    }
    batchable.sort((a, b) => (a.t.file < b.t.file ? -1 : a.t.file > b.t.file ? 1 : a.t.dataOffset - b.t.dataOffset));
    for (let i = 0; i < batchable.length; ) {
      const first = batchable[i]!;
      let end = first.t.dataOffset + first.bytes;
      let j = i + 1;
      while (j < batchable.length) {
        const next = batchable[j]!;
        if (next.t.file !== first.t.file || next.t.dataOffset !== end || end + next.bytes - first.t.dataOffset > windowBytes) break;
        end += next.bytes;
        j++;
      }
      const window = await (await this.source(first.t.file)).read(first.t.dataOffset, end - first.t.dataOffset);
      for (let k = i; k < j; k++) {
        const { t, total, bytes } = batchable[k]!;
        const at = t.dataOffset - first.t.dataOffset;
        const target = decodeTarget(t, total);
        decodeInto(t.dtype, window.subarray(at, at + bytes), total, target.out, 0, t.file, target.bf16Form);
        out.set(t.name, completed(target));
      }
      i = j;
    }
    return out;
  }

  /**
   * Non-contiguous (strided) tensors, such as the transposed view of an ONNX MatMul weight: the storage
   * offset of every requested element is computed, then storage is decoded one window at a time
   * (only windows holding requested elements), so memory stays bounded whatever the tensor's span.
   */
  private async gatherStridedRows(t: TensorInfo, rowIndices: readonly number[], rowElements: number, out: Float32Array): Promise<Float32Array> {
    const { blockElements, blockBytes } = layoutOf(t);
    if (blockElements !== 1) throw new UnsupportedError(`${t.file}: strided ${t.dtype} tensors are not supported`);
    if (elementCount(t.shape) === 0) return out;
    let span = 1;
    for (let d = 0; d < t.shape.length; d++) span += (t.shape[d]! - 1) * t.strides![d]!;
    if (span * blockBytes > t.byteLength) throw new ModelFormatError(t.file, `${t.name}: strides reach past the tensor's storage`);
    // Rows in groups, so the offset tables stay small when a caller asks for many rows.
    const groupRows = Math.max(1, Math.floor(STRIDED_WINDOW_ELEMENTS / Math.max(1, rowElements)));
    for (let first = 0; first < rowIndices.length; first += groupRows) {
      const group = rowIndices.slice(first, first + groupRows);
      await this.gatherStridedGroup(t, group, rowElements, span, out.subarray(first * rowElements, (first + group.length) * rowElements));
    }
    return out;
  }

  private async gatherStridedGroup(t: TensorInfo, rowIndices: readonly number[], rowElements: number, span: number, out: Float32Array): Promise<void> {
    const strides = t.strides!;
    const { blockBytes } = layoutOf(t);
    const count = rowIndices.length * rowElements;
    const offsets = new Float64Array(count);
    const inner = t.shape.slice(1);
    const innerStrides = strides.slice(1);
    rowIndices.forEach((row, slot) => {
      for (let e = 0; e < rowElements; e++) {
        let rem = e;
        let offset = row * (strides[0] ?? 0);
        for (let d = inner.length - 1; d >= 0; d--) {
          offset += (rem % inner[d]!) * innerStrides[d]!;
          rem = Math.floor(rem / inner[d]!);
        }
        offsets[slot * rowElements + e] = offset;
      }
    });
    // Bucket the requested elements by storage window (a counting sort: linear in the request).
    const windows = Math.ceil(span / STRIDED_WINDOW_ELEMENTS);
    const bucketStart = new Uint32Array(windows + 1);
    for (let i = 0; i < count; i++) bucketStart[Math.floor(offsets[i]! / STRIDED_WINDOW_ELEMENTS) + 1]!++;
    for (let w = 0; w < windows; w++) bucketStart[w + 1]! += bucketStart[w]!;
    const order = new Uint32Array(count);
    const fill = bucketStart.slice(0, windows);
    for (let i = 0; i < count; i++) order[fill[Math.floor(offsets[i]! / STRIDED_WINDOW_ELEMENTS)]!++] = i;
    const source = await this.source(t.file);
    for (let w = 0; w < windows; w++) {
      const from = bucketStart[w]!;
      const to = bucketStart[w + 1]!;
      if (from === to) continue;
      let low = Infinity;
      let high = -Infinity;
      for (let k = from; k < to; k++) {
        const offset = offsets[order[k]!]!;
        if (offset < low) low = offset;
        if (offset > high) high = offset;
      }
      const length = high - low + 1;
      const storage = new Float32Array(length);
      decodeInto(t.dtype, await source.read(t.dataOffset + low * blockBytes, length * blockBytes), length, storage, 0, t.file);
      for (let k = from; k < to; k++) {
        const i = order[k]!;
        out[i] = storage[offsets[i]! - low]!;
      }
    }
  }

  async close(): Promise<void> {
    for (const s of this.sources.values()) {
      try {
        await (await s).close();
      } catch {
        // A source that failed to open has nothing to close.
      }
    }
    this.sources.clear();
  }
}

/** The block layout of a tensor's dtype; an unknown one is an error naming the file and the tensor. */
function layoutOf(t: TensorInfo): ReturnType<typeof dtypeLayout> {
  try {
    return dtypeLayout(t.dtype);
  } catch (err) {
    if (!(err instanceof UnsupportedError)) throw err;
    throw new UnsupportedError(`${t.file}: tensor ${t.name} cannot be decoded (${err.message})`);
  }
}

export function isContiguous(t: TensorInfo): boolean {
  if (!t.strides) return true;
  let expected = 1;
  for (let d = t.shape.length - 1; d >= 0; d--) {
    if (t.shape[d]! !== 1 && t.strides[d] !== expected) return false;
    expected *= t.shape[d]!;
  }
  return true;
}

interface DecodeTarget {
  out: Float32Array;
  /** BF16 tensors: their values' BF16 form, filled while decoding and recorded with the result. */
  bf16Form?: Uint16Array;
}

function decodeTarget(t: TensorInfo, count: number): DecodeTarget {
  const out = new Float32Array(count);
  return t.dtype === 'BF16' ? { out, bf16Form: new Uint16Array(count) } : { out };
}

/** The decoded values, with their BF16 form recorded (complete from here, and never written to again). */
function completed(target: DecodeTarget): Float32Array {
  if (target.bf16Form) recordBf16Form(target.out, target.bf16Form);
  return target.out;
}
