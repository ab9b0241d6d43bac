// Reads safetensors files (single and sharded by model.safetensors.index.json) into TensorInfo lists.
// Only headers are read; every length, offset, shape and shard path is validated before it is trusted.
import * as path from 'node:path';
import { ModelFormatError } from '../errors';
import { withLocalFile, type ByteSource } from '../io/byteSource';
import { confinementRoot, PathEscapeError, resolveConfined } from '../io/confinedPath';
import { appendAll } from '../util/arrays';
import { runWithConcurrency } from '../util/concurrency';
import { byteLengthOf, type ElementDType } from './dtypes';
import type { TensorInfo } from './types';

/** One safetensors file: its header, decoded and validated. */
export interface SafetensorsFile {
  file: string;
  /** Bytes before the data section: the 8-byte length prefix plus the JSON header. */
  headerBytes: number;
  /** The `__metadata__` map (string to string), empty when absent. */
  metadata: Record<string, string>;
  /** Tensors in data-section order (then by name); `dataOffset` is absolute in `file`. */
  tensors: TensorInfo[];
}

/** A model split over several safetensors files listed by a `model.safetensors.index.json`. */
export interface ShardedSafetensors {
  indexFile: string;
  /** The index's `metadata` object (usually `{ total_size }`), empty when absent. */
  metadata: Record<string, unknown>;
  /** Every shard named by `weight_map`, sorted by file name. */
  shards: SafetensorsFile[];
  /** Every tensor of every shard, shard by shard. */
  tensors: TensorInfo[];
  /**
   * Tensors stored in a shard but missing from `weight_map`. They are kept in `tensors`, because a
   * loader that reads whole shards (transformers does) gets them too; callers may report the inconsistency.
   */
  unmappedTensorNames: string[];
}

/** Bytes of the little-endian u64 that gives the JSON header's length. */
export const LENGTH_PREFIX_BYTES = 8;
/** The reference implementation refuses headers above 100 MB (MAX_HEADER_SIZE); so do we. */
export const MAX_HEADER_BYTES = 100_000_000;
/** An index is a few kilobytes per thousand tensors; 50 MB is far beyond any real one. */
export const MAX_INDEX_BYTES = 50 * 1024 * 1024;
/** Real models have at most a few hundred shards; the cap bounds file handles and header reads. */
export const MAX_SHARDS = 10_000;
/** Shard headers read at once. */
const SHARD_HEADERS_IN_FLIGHT = 8;
/** A header is at most 3 levels deep (object, tensor entry, shape array); unknown extra fields get some slack. */
const MAX_JSON_NESTING = 32;
/** No real tensor has more dimensions than this; the cap keeps hostile shapes cheap to check. */
const MAX_TENSOR_RANK = 64;

/** dtypes the spec defines; the ones we cannot decode are rejected by name rather than as garbage. */
const SUPPORTED_DTYPES: ReadonlySet<string> = new Set<ElementDType>([
  'F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL', 'F8_E4M3', 'F8_E5M2',
]);
const KNOWN_UNSUPPORTED_DTYPES: ReadonlySet<string> = new Set(['F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64']);

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads and validates the header of the safetensors file behind `source` (the data is not read). */
export async function readSafetensorsHeader(source: ByteSource): Promise<SafetensorsFile> {
  const file = source.name;
  if (source.sizeBytes < LENGTH_PREFIX_BYTES) {
    throw new ModelFormatError(file, `file has ${source.sizeBytes} bytes, too few for the 8-byte header length of a safetensors file`);
  }
  const prefix = await source.read(0, LENGTH_PREFIX_BYTES);
  // Read as a BigInt so that a hostile length beyond 2^53 is reported exactly rather than rounded.
  const declaredJsonBytes = new DataView(prefix.buffer, prefix.byteOffset, LENGTH_PREFIX_BYTES).getBigUint64(0, true);
  const bytesAfterPrefix = source.sizeBytes - LENGTH_PREFIX_BYTES;
  if (declaredJsonBytes > BigInt(bytesAfterPrefix)) {
    throw new ModelFormatError(
      file,
      `header length ${declaredJsonBytes} is larger than the ${bytesAfterPrefix} bytes that follow it: the file is truncated or not safetensors`,
      0,
    );
  }
  if (declaredJsonBytes > BigInt(MAX_HEADER_BYTES)) {
    throw new ModelFormatError(file, `header length ${declaredJsonBytes} exceeds the limit of ${MAX_HEADER_BYTES} bytes`, 0);
  }
  const jsonBytes = Number(declaredJsonBytes);
  if (jsonBytes < 2) throw new ModelFormatError(file, `header length ${jsonBytes} is too short for a JSON object`, 0);

  const raw = await source.read(LENGTH_PREFIX_BYTES, jsonBytes);
  // The spec requires the header to start with '{' (padding is only allowed at the end).
  if (raw[0] !== 0x7b) throw new ModelFormatError(file, `header does not start with '{' (found byte 0x${raw[0]!.toString(16)}): not a safetensors file`, LENGTH_PREFIX_BYTES);
  const header = parseJsonObject(decodeStrictUtf8(raw, file, 'header'), file, 'header');

  const headerBytes = LENGTH_PREFIX_BYTES + jsonBytes;
  const dataSectionBytes = source.sizeBytes - headerBytes;
  let metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') metadata = parseMetadata(value, file);
    else entries.push(parseTensorEntry(name, value, file));
  }
  checkDataLayout(entries, dataSectionBytes, headerBytes, file);

  const tensors = entries.map(
    (e): TensorInfo => ({
      name: e.name,
      dtype: e.dtype,
      shape: e.shape,
      file,
      dataOffset: headerBytes + e.begin,
      byteLength: e.end - e.begin,
    }),
  );
  return { file, headerBytes, metadata, tensors };
}

/** Opens `filePath` (confined to `root`, see LocalFileSource.open), reads its safetensors header, and closes it. */
export async function readSafetensorsFile(filePath: string, root?: string): Promise<SafetensorsFile> {
  return withLocalFile(filePath, readSafetensorsHeader, root);
}

/**
 * Reads a sharded model from its `model.safetensors.index.json`: the index, then every shard's header.
 * Shard names must stay inside the index's folder (or, in a Hugging Face cache snapshot, resolve
 * into the repository's `blobs/` folder, where the cache keeps the real files behind symlinks).
 * Fails when a mapped tensor is missing from its shard or one tensor name is stored in two shards.
 */
export async function readShardedSafetensors(indexPath: string, root?: string): Promise<ShardedSafetensors> {
  const indexText = await withLocalFile(indexPath, async (source) => {
    if (source.sizeBytes > MAX_INDEX_BYTES) {
      throw new ModelFormatError(indexPath, `index file of ${source.sizeBytes} bytes exceeds the limit of ${MAX_INDEX_BYTES} bytes`);
    }
    return decodeStrictUtf8(await source.read(0, source.sizeBytes), indexPath, 'index');
  }, root);
  const folder = path.dirname(path.resolve(indexPath));
  const shardRoot = root ?? (await confinementRoot(folder));
  return readShardedSafetensorsFrom(indexText, indexPath, async (shardName) => readSafetensorsFile(await resolveShardPath(folder, shardRoot, shardName, indexPath), shardRoot));
}

/**
 * The shard-combining half of readShardedSafetensors, for any storage: `readShard` opens a shard by
 * the name the index gives (the caller confines names to the model) and reads its header.
 */
export async function readShardedSafetensorsFrom(
  indexText: string,
  indexPath: string,
  readShard: (shardName: string) => Promise<SafetensorsFile>,
): Promise<ShardedSafetensors> {
  const index = parseJsonObject(indexText, indexPath, 'index');
  const metadata = parseIndexMetadata(index['metadata'], indexPath);
  const tensorNamesByShard = parseWeightMap(index['weight_map'], indexPath);

  const shards: SafetensorsFile[] = [];
  const tensors: TensorInfo[] = [];
  const unmappedTensorNames: string[] = [];
  const shardOfTensor = new Map<string, string>();
  const ordered = [...tensorNamesByShard].sort(([a], [b]) => compareStrings(a, b));
  // Headers are read a few at a time (a remote shard costs round trips), then checked in name order.
  const headers = await runWithConcurrency(ordered.map(([shardName]) => () => readShard(shardName)), SHARD_HEADERS_IN_FLIGHT);
  for (const [i, [shardName, mappedNames]] of ordered.entries()) {
    const shard = headers[i]!;
    const stored = new Set(shard.tensors.map((t) => t.name));
    for (const name of mappedNames) {
      if (!stored.has(name)) {
        throw new ModelFormatError(indexPath, `weight_map puts tensor ${quoted(name)} in ${quoted(shardName)}, but that shard does not contain it`);
      }
    }
    const mapped = new Set(mappedNames);
    for (const t of shard.tensors) {
      const otherShard = shardOfTensor.get(t.name);
      if (otherShard !== undefined) {
        throw new ModelFormatError(indexPath, `tensor ${quoted(t.name)} is stored in both ${quoted(otherShard)} and ${quoted(shardName)}; which one a loader uses is undefined`);
      }
      shardOfTensor.set(t.name, shardName);
      if (!mapped.has(t.name)) unmappedTensorNames.push(t.name);
    }
    appendAll(tensors, shard.tensors);
    shards.push(shard);
  }
  return { indexFile: indexPath, metadata, shards, tensors, unmappedTensorNames };
}

interface TensorEntry {
  name: string;
  dtype: ElementDType;
  shape: number[];
  /** Offsets relative to the start of the data section, as stored in `data_offsets`. */
  begin: number;
  end: number;
}

function parseTensorEntry(name: string, value: unknown, file: string): TensorEntry {
  const what = `tensor ${quoted(name)}`;
  if (!isPlainObject(value)) throw new ModelFormatError(file, `${what}: entry must be an object with dtype, shape and data_offsets`);

  const dtype = value['dtype'];
  if (typeof dtype !== 'string') throw new ModelFormatError(file, `${what}: dtype must be a string`);
  if (!SUPPORTED_DTYPES.has(dtype)) {
    const kind = KNOWN_UNSUPPORTED_DTYPES.has(dtype) ? 'unsupported dtype' : 'unknown (unsupported) dtype';
    throw new ModelFormatError(file, `${what}: ${kind} ${quoted(dtype)}; readable dtypes are ${[...SUPPORTED_DTYPES].join(', ')}`);
  }
  const elementDType = dtype as ElementDType;

  const shape = value['shape'];
  if (!Array.isArray(shape) || shape.length > MAX_TENSOR_RANK) {
    throw new ModelFormatError(file, `${what}: shape must be an array of at most ${MAX_TENSOR_RANK} dimensions`);
  }
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || (dim as number) < 0) {
      throw new ModelFormatError(file, `${what}: shape ${JSON.stringify(shape)} has a dimension that is not a non-negative integer`);
    }
  }
  const dims = shape as number[];
  const elements = checkedElementCount(dims);
  if (elements === undefined) throw new ModelFormatError(file, `${what}: shape ${JSON.stringify(dims)} has more elements than can be addressed`);

  const offsets = value['data_offsets'];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
    throw new ModelFormatError(file, `${what}: data_offsets must be [begin, end], two non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new ModelFormatError(file, `${what}: data_offsets [${begin}, ${end}] end before they begin`);

  const expectedBytes = byteLengthOf(elementDType, elements);
  if (expectedBytes !== end - begin) {
    throw new ModelFormatError(
      file,
      `${what}: shape ${JSON.stringify(dims)} of ${dtype} needs ${expectedBytes ?? 'an impossible number of'} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { name, dtype: elementDType, shape: dims, begin, end };
}

/** Product of the dimensions, or undefined when it exceeds 2^53 (no real tensor is that large). */
function checkedElementCount(shape: readonly number[]): number | undefined {
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const dim of shape) {
    count *= dim;
    if (!Number.isSafeInteger(count)) return undefined;
  }
  return count;
}

/**
 * Every tensor must lie inside the data section and no two may share bytes. Gaps and trailing bytes
 * are tolerated (the reference loader refuses them) because they cannot change what a tensor holds.
 * Sorts `entries` into data order, which is also the order we report tensors in.
 */
function checkDataLayout(entries: TensorEntry[], dataSectionBytes: number, headerBytes: number, file: string): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end || compareStrings(a.name, b.name));
  let furthest: TensorEntry | undefined;
  for (const e of entries) {
    if (e.end > dataSectionBytes) {
      throw new ModelFormatError(
        file,
        `tensor ${quoted(e.name)}: data_offsets [${e.begin}, ${e.end}] reach past the end of the data section, which has only ${dataSectionBytes} bytes: the file is truncated`,
        headerBytes + e.begin,
      );
    }
  }
  for (const e of entries) {
    if (furthest && e.begin < furthest.end) {
      throw new ModelFormatError(
        file,
        `tensors ${quoted(furthest.name)} (data_offsets [${furthest.begin}, ${furthest.end}]) and ${quoted(e.name)} (data_offsets [${e.begin}, ${e.end}]) overlap`,
        headerBytes + e.begin,
      );
    }
    if (!furthest || e.end > furthest.end) furthest = e;
  }
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  // The reference implementation reads `__metadata__` as Option<HashMap<String, String>>: null means absent.
  if (value === null) return {};
  if (!isPlainObject(value)) throw new ModelFormatError(file, '__metadata__ must be an object of string values');
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new ModelFormatError(file, `__metadata__ entry ${quoted(key)} must be a string, not ${jsonKind(v)}`);
  }
  // Object.fromEntries defines own properties, so a key named "__proto__" stays plain data.
  return Object.fromEntries(Object.entries(value as Record<string, string>));
}

function parseIndexMetadata(value: unknown, indexPath: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw new ModelFormatError(indexPath, `"metadata" must be an object, not ${jsonKind(value)}`);
  return value;
}

/** weight_map as shard name -> tensor names, with each shard name checked for path tricks. */
function parseWeightMap(value: unknown, indexPath: string): Map<string, string[]> {
  if (!isPlainObject(value)) throw new ModelFormatError(indexPath, `"weight_map" must be an object mapping tensor names to shard files`);
  const byShard = new Map<string, string[]>();
  for (const [tensorName, shardName] of Object.entries(value)) {
    if (typeof shardName !== 'string') {
      throw new ModelFormatError(indexPath, `weight_map entry ${quoted(tensorName)} must name a shard file, not ${jsonKind(shardName)}`);
    }
    let names = byShard.get(shardName);
    if (!names) {
      checkShardName(shardName, indexPath);
      if (byShard.size >= MAX_SHARDS) throw new ModelFormatError(indexPath, `weight_map names more than ${MAX_SHARDS} shard files`);
      names = [];
      byShard.set(shardName, names);
    }
    names.push(tensorName);
  }
  if (byShard.size === 0) throw new ModelFormatError(indexPath, 'weight_map is empty: the index lists no tensors');
  return byShard;
}

/** A shard must be named by a plain relative path; anything that could climb out of the folder is refused. */
function checkShardName(shardName: string, indexPath: string): void {
  const refuse = (why: string): never => {
    throw new ModelFormatError(indexPath, `shard file ${quoted(shardName)} ${why}; shard names must be plain file names inside the model folder`);
  };
  if (shardName.length === 0 || shardName.length > 1024) refuse('has an empty or overlong name');
  if (shardName.includes('\0')) refuse('contains a NUL character');
  if (shardName.includes('\\')) refuse('contains a backslash');
  if (path.posix.isAbsolute(shardName) || path.win32.isAbsolute(shardName) || /^[A-Za-z]:/.test(shardName)) refuse('is an absolute path');
  if (shardName.split('/').some((segment) => segment === '..')) refuse("contains '..'");
  if (shardName.split('/').some((segment) => segment === '' || segment === '.')) refuse('has an empty or "." path segment');
}

/** Checks that the shard resolves inside the model's confinement root; the read itself is confined again. */
async function resolveShardPath(folder: string, root: string, shardName: string, indexPath: string): Promise<string> {
  const shardPath = path.join(folder, shardName);
  try {
    await resolveConfined(shardPath, root);
  } catch (err) {
    if (err instanceof PathEscapeError) {
      throw new ModelFormatError(indexPath, `shard file ${quoted(shardName)} resolves to ${err.realPath}, outside the model folder ${folder}`);
    }
    throw new ModelFormatError(indexPath, `shard file ${quoted(shardName)} named in weight_map does not exist in ${folder}`);
  }
  return shardPath;
}

function decodeStrictUtf8(bytes: Uint8Array, file: string, what: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new ModelFormatError(file, `${what} is not valid UTF-8`);
  }
}

/** Parses JSON that must be an object, after checking nesting depth and duplicate keys. */
function parseJsonObject(text: string, file: string, what: string): Record<string, unknown> {
  checkJsonKeysAndNesting(text, file, what);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ModelFormatError(file, `${what} is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isPlainObject(parsed)) throw new ModelFormatError(file, `${what} must be a JSON object, not ${jsonKind(parsed)}`);
  return parsed;
}

/**
 * JSON.parse silently keeps the last of duplicate keys, so a header could show us one tensor and a
 * loader that keeps the first another. This pass finds duplicates in any object, and refuses deep
 * nesting before JSON.parse can recurse on it. Malformed JSON is left for JSON.parse to report.
 */
function checkJsonKeysAndNesting(text: string, file: string, what: string): void {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const open: (Set<string> | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (open.length >= MAX_JSON_NESTING) throw new ModelFormatError(file, `${what} nests deeper than ${MAX_JSON_NESTING} levels`);
      open.push(c === 0x7b ? new Set<string>() : null);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      open.pop();
    } else if (c === 0x22 /* " */) {
      const close = endOfJsonString(text, i);
      if (close < 0) return;
      const keys = open[open.length - 1];
      if (keys && nextNonSpace(text, close + 1) === 0x3a /* : */) {
        const literal = text.slice(i, close + 1);
        // Keys without escapes (nearly all) are their own text; only escaped ones need decoding.
        const key = literal.includes('\\') ? decodeJsonString(literal) : literal.slice(1, -1);
        if (key !== undefined) {
          if (keys.has(key)) throw new ModelFormatError(file, `${what} has the key ${quoted(key)} twice; refusing an ambiguous header`);
          keys.add(key);
        }
      }
      i = close;
    }
  }
}

/** Index of the quote that closes the string opening at `start`, or -1 when it never closes. */
function endOfJsonString(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const quote = text.indexOf('"', i);
    if (quote < 0) return -1;
    let backslashes = 0;
    for (let j = quote - 1; j > start && text.charCodeAt(j) === 0x5c; j--) backslashes++;
    if (backslashes % 2 === 0) return quote;
    i = quote + 1;
  }
}

function nextNonSpace(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  }
  return -1;
}

function decodeJsonString(literal: string): string | undefined {
  try {
    const value: unknown = JSON.parse(literal);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Names come from untrusted files: quote them (escaping control characters) and cap their length. */
function quoted(name: string): string {
  const shown = name.length > 200 ? `${name.slice(0, 200)}...` : name;
  return JSON.stringify(shown);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
