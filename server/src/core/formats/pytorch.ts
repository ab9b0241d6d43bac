// PyTorch checkpoints (torch.save zip and legacy formats, TorchScript archives) read without executing
// their pickles: tensors come from symbolic _rebuild_tensor calls, imported globals become findings.
import { ModelFormatError, UnsupportedError } from '../errors';
import { BinaryCursor, decodeUtf8 } from '../io/binaryReader';
import { withLocalFile, type ByteSource } from '../io/byteSource';
import { ELEMENT_BYTES, type ElementDType } from './dtypes';
import {
  describeValue,
  isGlobal,
  MAX_PICKLE_BYTES,
  PickleError,
  sequenceItems,
  walkPickle,
  walkPickleAt,
  type PickleCall,
  type PickleGlobalRef,
  type PickleResult,
  type PickleValue,
} from './pickle';
import { frameAnomalyFindings, globalFindings, parseErrorFinding } from './pickleSafety';
import { isContiguous } from './tensorStore';
import { appendAll } from '../util/arrays';
import type { SecurityFinding, TensorInfo } from './types';
import { looksLikeZip, readZipDirectory, readZipEntry, storedEntrySource, type ZipDirectory } from './zip';

export interface PytorchCheckpoint {
  file: string;
  format: 'pytorch-zip' | 'pytorch-legacy' | 'torchscript';
  /** dataOffset is absolute in `file`. */
  tensors: TensorInfo[];
  /** Every distinct global the pickles import, in order of first appearance. */
  globals: Array<{ module: string; name: string }>;
  findings: SecurityFinding[];
}

/** A storage as torch's persistent id describes it: ('storage', type, key, location, numel). */
export interface StorageRef {
  key: string;
  /** Element type of the storage (U8 for untyped storages, whose numel counts bytes). */
  dtype: ElementDType;
  /** Elements of `dtype` in the storage, when the id states it. */
  numel?: number;
  location: string;
}

/** One tensor found in an unpickled object graph, before it is placed in a file. */
export interface TensorRef {
  name: string;
  dtype: ElementDType;
  storage: StorageRef;
  /** In elements of `dtype`. */
  storageOffset: number;
  shape: number[];
  stride: number[];
}

/** Reads a checkpoint file confined to `root` (default: its own folder, see LocalFileSource.open). */
export async function readPytorchCheckpoint(path: string, root?: string): Promise<PytorchCheckpoint> {
  return withLocalFile(path, readPytorchCheckpointFrom, root);
}

export async function readPytorchCheckpointFrom(source: ByteSource): Promise<PytorchCheckpoint> {
  if (await looksLikeZip(source)) return readZipCheckpoint(source);
  if (source.sizeBytes >= 262 && decodeUtf8(await source.read(257, 5)) === 'ustar') {
    throw new ModelFormatError(source.name, 'tar-based PyTorch checkpoints (torch < 0.4) are not supported');
  }
  if (source.sizeBytes === 0) throw new ModelFormatError(source.name, 'empty file');
  return readLegacyCheckpoint(source);
}

// ---------------------------------------------------------------------------------------------
// Tensors in the object graph

const STORAGE_CLASS_DTYPES: Readonly<Record<string, ElementDType>> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8',
  BoolStorage: 'BOOL', UInt16Storage: 'U16', UInt32Storage: 'U32', UInt64Storage: 'U64',
  Float8_e4m3fnStorage: 'F8_E4M3', Float8_e5m2Storage: 'F8_E5M2', UntypedStorage: 'U8',
};

const TORCH_DTYPES: Readonly<Record<string, ElementDType>> = {
  float32: 'F32', float: 'F32', float16: 'F16', half: 'F16', bfloat16: 'BF16', float64: 'F64', double: 'F64',
  int64: 'I64', long: 'I64', int32: 'I32', int: 'I32', int16: 'I16', short: 'I16', int8: 'I8', uint8: 'U8',
  bool: 'BOOL', uint16: 'U16', uint32: 'U32', uint64: 'U64', float8_e4m3fn: 'F8_E4M3', float8_e5m2: 'F8_E5M2',
};

const TENSOR_REBUILDERS = new Set(['_rebuild_tensor', '_rebuild_tensor_v2', '_rebuild_tensor_v3']);
const PARAMETER_REBUILDERS = new Set(['_rebuild_parameter', '_rebuild_parameter_with_state']);
/** nn.Module attribute dicts whose keys torch's state_dict() does not spell out. */
const TRANSPARENT_MODULE_KEYS = new Set(['_parameters', '_buffers', '_modules']);

const MAX_GRAPH_DEPTH = 200;
const MAX_GRAPH_VISITS = 5_000_000;

/** Element type named by a storage class (`torch.FloatStorage`) or a dtype (`torch.float32`). */
function dtypeOfTorchGlobal(value: PickleValue, fileName: string, what: string): ElementDType {
  if (typeof value === 'object' && value !== null && value.kind === 'global' && (value.module === 'torch' || value.module === 'torch.storage')) {
    const dtype = STORAGE_CLASS_DTYPES[value.name] ?? (value.module === 'torch' ? TORCH_DTYPES[value.name] : undefined);
    if (dtype) return dtype;
    throw new UnsupportedError(`${fileName}: ${what} has element type ${value.module}.${value.name}, which is not supported`);
  }
  throw new ModelFormatError(fileName, `${what}: expected a torch storage class or dtype, found ${describeValue(value)}`);
}

function asCount(value: PickleValue, fileName: string, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ModelFormatError(fileName, `${what} must be a non-negative integer, found ${describeValue(value)}`);
  }
  return value;
}

function asCounts(value: PickleValue, fileName: string, what: string): number[] {
  // torch.Size may arrive as REDUCE(torch.Size, (tuple,)) from hand-written pickles.
  if (typeof value === 'object' && value !== null && value.kind === 'call' && isGlobal(value.callee, 'torch', 'Size')) {
    return asCounts(sequenceItems(value.args)?.[0] ?? null, fileName, what);
  }
  const items = sequenceItems(value);
  if (!items) throw new ModelFormatError(fileName, `${what} must be a tuple, found ${describeValue(value)}`);
  return items.map((item, i) => asCount(item, fileName, `${what}[${i}]`));
}

function storageFromPersistentId(value: PickleValue, fileName: string, tensorName: string): StorageRef {
  if (typeof value !== 'object' || value === null || value.kind !== 'persistent') {
    throw new ModelFormatError(fileName, `tensor ${tensorName}: storage is ${describeValue(value)}, not a persistent reference`);
  }
  const fields = sequenceItems(value.id);
  if (!fields || fields[0] !== 'storage' || fields.length < 4) {
    throw new ModelFormatError(fileName, `tensor ${tensorName}: persistent id is not a ('storage', type, key, location, numel) tuple`);
  }
  const [, type, key, location, numel, viewMetadata] = fields;
  if (typeof key !== 'string' || key.length === 0 || key.length > 256) {
    throw new ModelFormatError(fileName, `tensor ${tensorName}: storage key is ${describeValue(key ?? null)}`);
  }
  if (viewMetadata !== undefined && viewMetadata !== null) {
    throw new UnsupportedError(`${fileName}: tensor ${tensorName} uses a storage view (pre-1.0 legacy format), which is not supported`);
  }
  const storage: StorageRef = {
    key,
    dtype: dtypeOfTorchGlobal(type ?? null, fileName, `storage ${key}`),
    location: typeof location === 'string' ? location : String(location),
  };
  if (numel !== undefined) storage.numel = asCount(numel, fileName, `storage ${key} numel`);
  return storage;
}

/** The tensor a value rebuilds, or undefined when the value is not a tensor-rebuilding call. */
function asTensor(value: PickleCall, name: string, fileName: string): TensorRef | undefined {
  let callee = value.callee;
  let args = sequenceItems(value.args);
  for (let unwrap = 0; unwrap < 8 && args; unwrap++) {
    if (typeof callee !== 'object' || callee === null || callee.kind !== 'global') return undefined;
    if (callee.module === 'torch._utils' && PARAMETER_REBUILDERS.has(callee.name)) {
      // _rebuild_parameter(data, requires_grad, hooks): data is itself a tensor call.
      const inner = args[0];
      if (typeof inner !== 'object' || inner === null || inner.kind !== 'call') return undefined;
      callee = inner.callee;
      args = sequenceItems(inner.args);
    } else if (callee.module === 'torch._tensor' && callee.name === '_rebuild_from_type_v2') {
      // _rebuild_from_type_v2(func, type, func_args, state): a tensor subclass around func(*func_args).
      callee = args[0] ?? null;
      args = sequenceItems(args[2] ?? null);
    } else if (callee.module === 'torch._utils' && TENSOR_REBUILDERS.has(callee.name)) {
      if (args.length < 4) throw new ModelFormatError(fileName, `tensor ${name}: ${callee.name} has ${args.length} arguments`);
      const storage = storageFromPersistentId(args[0]!, fileName, name);
      const dtype = callee.name === '_rebuild_tensor_v3' && args[6] !== undefined ? dtypeOfTorchGlobal(args[6], fileName, `tensor ${name}`) : storage.dtype;
      const shape = asCounts(args[2]!, fileName, `tensor ${name} size`);
      const stride = asCounts(args[3]!, fileName, `tensor ${name} stride`);
      if (shape.length !== stride.length) throw new ModelFormatError(fileName, `tensor ${name}: size has ${shape.length} dimensions but stride has ${stride.length}`);
      return { name, dtype, storage, storageOffset: asCount(args[1]!, fileName, `tensor ${name} storage offset`), shape, stride };
    } else {
      return undefined;
    }
  }
  return undefined;
}

/** Named children of a container: dict keys, sequence indices, object state and dict-subclass items. */
function* childrenOf(value: PickleValue): Generator<[string | undefined, PickleValue]> {
  if (typeof value !== 'object' || value === null) return;
  const entries = function* (pairs: Array<[PickleValue, PickleValue]>, transparent: boolean): Generator<[string | undefined, PickleValue]> {
    for (const [key, child] of pairs) {
      if (typeof key !== 'string' && typeof key !== 'number') continue;
      const k = String(key);
      yield [transparent && TRANSPARENT_MODULE_KEYS.has(k) ? undefined : k, child];
    }
  };
  switch (value.kind) {
    case 'dict':
      yield* entries(value.entries, false);
      break;
    case 'list':
    case 'tuple':
      for (let i = 0; i < value.items.length; i++) yield [String(i), value.items[i]!];
      break;
    case 'call': {
      yield* entries(value.dictItems, false);
      for (let i = 0; i < value.listItems.length; i++) yield [String(i), value.listItems[i]!];
      // Object state: a __dict__, or (dict, slots) from __reduce_ex__ with slots.
      const states = value.state === undefined ? [] : (sequenceItems(value.state) ?? [value.state]);
      for (const state of states) {
        if (typeof state === 'object' && state !== null && state.kind === 'dict') yield* entries(state.entries, true);
      }
      break;
    }
    default:
      break;
  }
}

/**
 * Every tensor reachable from `root`, named by the dotted path of keys that leads to it
 * (state dicts, nested {'state_dict': ...} / {'model': ...} wrappers, pickled nn.Modules).
 */
export function findTensorReferences(root: PickleValue, fileName: string): TensorRef[] {
  const found: TensorRef[] = [];
  const names = new Set<string>();
  const path = new Set<object>();
  let visits = 0;
  const visit = (value: PickleValue, name: string, depth: number): void => {
    if (typeof value !== 'object' || value === null || path.has(value)) return;
    if (++visits > MAX_GRAPH_VISITS) throw new ModelFormatError(fileName, `object graph has more than ${MAX_GRAPH_VISITS} nodes to visit`);
    if (depth > MAX_GRAPH_DEPTH) throw new ModelFormatError(fileName, `object graph nests deeper than ${MAX_GRAPH_DEPTH} levels`);
    if (value.kind === 'call') {
      const tensor = asTensor(value, name || 'tensor', fileName);
      if (tensor) {
        // The same name twice (a key 'a.b' beside a nested a -> b) keeps the first, like a dict update would not.
        if (!names.has(tensor.name)) {
          names.add(tensor.name);
          found.push(tensor);
        }
        return;
      }
    }
    path.add(value);
    for (const [key, child] of childrenOf(value)) visit(child, key === undefined ? name : name ? `${name}.${key}` : key, depth + 1);
    path.delete(value);
  };
  visit(root, '', 0);
  return found;
}

/**
 * Places a tensor in a file: `storageStart`/`storageBytes` locate its storage's bytes. Checks that the
 * span its shape and strides cover lies inside the storage.
 */
export function placeTensor(ref: TensorRef, file: string, storageStart: number, storageBytes: number): TensorInfo {
  const itemBytes = ELEMENT_BYTES[ref.dtype];
  const fail = (message: string): never => {
    throw new ModelFormatError(file, `tensor ${ref.name}: ${message}`);
  };
  let elements = 1;
  let lastIndex = 0;
  for (let d = 0; d < ref.shape.length; d++) {
    elements *= ref.shape[d]!;
    lastIndex += Math.max(0, ref.shape[d]! - 1) * ref.stride[d]!;
  }
  if (!Number.isSafeInteger(elements) || !Number.isSafeInteger(lastIndex)) fail('shape or strides overflow');
  const startByte = ref.storageOffset * itemBytes;
  const byteLength = elements === 0 ? 0 : (lastIndex + 1) * itemBytes;
  if (!Number.isSafeInteger(startByte + byteLength) || startByte + byteLength > storageBytes) {
    fail(`covers storage bytes ${startByte}..${startByte + byteLength} but storage ${ref.storage.key} has ${storageBytes}`);
  }
  const info: TensorInfo = {
    name: ref.name,
    dtype: ref.dtype,
    shape: ref.shape,
    file,
    dataOffset: storageStart + startByte,
    byteLength,
    strides: ref.stride,
  };
  if (elements === 0 || isContiguous(info)) delete info.strides;
  return info;
}

function storageByteLength(storage: StorageRef, file: string): number | undefined {
  if (storage.numel === undefined) return undefined;
  const bytes = storage.numel * ELEMENT_BYTES[storage.dtype];
  if (!Number.isSafeInteger(bytes)) throw new ModelFormatError(file, `storage ${storage.key}: ${storage.numel} elements overflow`);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Findings shared by both layouts

class FindingCollector {
  readonly findings: SecurityFinding[] = [];
  private readonly globalNames = new Map<string, { module: string; name: string }>();

  constructor(
    private readonly file: string,
    private readonly torchscript: boolean,
  ) {}

  private remember(globals: readonly PickleGlobalRef[]): void {
    for (const g of globals) {
      const key = `${g.module}\n${g.name}`;
      if (!this.globalNames.has(key)) this.globalNames.set(key, { module: g.module, name: g.name });
    }
  }

  private findingsFor(globals: readonly PickleGlobalRef[], where: string): SecurityFinding[] {
    return globalFindings(globals, this.file, where, { torchscript: this.torchscript });
  }

  /**
   * Walks one pickle. A parse fault after suspicious globals becomes findings (the nullifAI evasion:
   * break the pickle right after the payload so scanners give up); a fault in an otherwise clean
   * pickle is just a damaged file and stays an error.
   */
  async record(walk: () => PickleResult | Promise<PickleResult>, where: string): Promise<PickleResult | undefined> {
    try {
      const result = await walk();
      this.remember(result.globals);
      appendAll(this.findings, this.findingsFor(result.globals, where));
      appendAll(this.findings, frameAnomalyFindings(result.frameAnomalies, this.file, where));
      return result;
    } catch (err) {
      if (!(err instanceof PickleError)) throw err;
      const findings = appendAll(this.findingsFor(err.globals, where), frameAnomalyFindings(err.frameAnomalies, this.file, where));
      if (findings.length === 0) throw err;
      this.remember(err.globals);
      appendAll(this.findings, findings);
      this.findings.push(parseErrorFinding(this.file, where, err.message));
      return undefined;
    }
  }

  get globals(): Array<{ module: string; name: string }> {
    return [...this.globalNames.values()];
  }
}

// ---------------------------------------------------------------------------------------------
// Zip layout (torch >= 1.6, TorchScript)

const MAX_PICKLE_ENTRIES = 256;

async function readZipCheckpoint(source: ByteSource): Promise<PytorchCheckpoint> {
  const file = source.name;
  const zip = await readZipDirectory(source);
  const dataPickles = zip.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (dataPickles.length !== 1) {
    const problem = dataPickles.length === 0 ? 'zip archive has no <archive>/data.pkl: not a PyTorch checkpoint' : `zip archive has ${dataPickles.length} top-level data.pkl entries (ambiguous)`;
    return scanForeignZip(source, zip, problem);
  }
  const prefix = dataPickles[0]!.name.slice(0, -'/data.pkl'.length);
  await checkByteOrder(source, zip, prefix);

  const codeFiles = zip.entries.filter((e) => e.name.startsWith(`${prefix}/code/`) && !e.name.endsWith('/'));
  const torchscript = codeFiles.length > 0 || zip.byName.has(`${prefix}/constants.pkl`);
  const collector = new FindingCollector(file, torchscript);
  if (torchscript) {
    collector.findings.push({
      severity: 'high',
      code: 'torchscript-code',
      file,
      message: `archive contains TorchScript code (${codeFiles.length} file(s) under ${prefix}/code/), which torch.jit.load executes`,
    });
  }

  // Every pickle in the archive is scanned, not only the ones torch.load reads (picklescan's rule).
  const pickleEntries = pickleEntriesOf(zip, file);
  let dataPickle: PickleResult | undefined;
  for (const entry of [dataPickles[0]!, ...pickleEntries.filter((e) => e !== dataPickles[0])]) {
    const bytes = await readZipEntry(source, entry, MAX_PICKLE_BYTES);
    const walked = await collector.record(() => walkPickle(bytes, file, { baseOffset: entry.dataOffset }), entry.name);
    if (entry === dataPickles[0]) dataPickle = walked;
  }

  const tensors: TensorInfo[] = [];
  if (dataPickle) {
    for (const ref of findTensorReferences(dataPickle.value, file)) {
      const entryName = `${prefix}/data/${ref.storage.key}`;
      const entry = zip.byName.get(entryName);
      if (!entry) throw new ModelFormatError(file, `tensor ${ref.name}: storage entry ${entryName} is missing`);
      const storage = storedEntrySource(source, entry); // a compressed storage is an error here
      const declared = storageByteLength(ref.storage, file);
      if (declared !== undefined && declared > storage.sizeBytes) {
        throw new ModelFormatError(file, `storage ${entryName}: ${declared} bytes declared but the entry holds ${storage.sizeBytes}`);
      }
      tensors.push(placeTensor(ref, file, entry.dataOffset, declared ?? storage.sizeBytes));
    }
  }
  return { file, format: torchscript ? 'torchscript' : 'pytorch-zip', tensors, globals: collector.globals, findings: collector.findings };
}

/** Zip entries that hold pickles by name (`.pkl`, `.pickle`, `data.pkl` at any depth). */
function pickleEntriesOf(zip: ZipDirectory, file: string): ZipDirectory['entries'] {
  const entries = zip.entries.filter((e) => /\.(?:pkl|pickle)$/i.test(e.name));
  if (entries.length > MAX_PICKLE_ENTRIES) throw new ModelFormatError(file, `zip archive holds ${entries.length} pickles (limit ${MAX_PICKLE_ENTRIES})`);
  return entries;
}

/**
 * A zip that is not laid out as a torch.save archive may still hold pickles something will load
 * (numpy .npz object arrays, joblib dumps, hand-made archives): scan them all. Any finding makes it
 * a (tensor-less) checkpoint with findings; a zip with nothing to report stays the layout error.
 */
async function scanForeignZip(source: ByteSource, zip: ZipDirectory, layoutProblem: string): Promise<PytorchCheckpoint> {
  const file = source.name;
  const collector = new FindingCollector(file, false);
  for (const entry of pickleEntriesOf(zip, file)) {
    const bytes = await readZipEntry(source, entry, MAX_PICKLE_BYTES);
    try {
      await collector.record(() => walkPickle(bytes, file, { baseOffset: entry.dataOffset }), entry.name);
    } catch (err) {
      // A damaged pickle with nothing dangerous in it is not worth more than the layout error below.
      if (!(err instanceof PickleError)) throw err;
    }
  }
  if (collector.findings.length === 0) throw new ModelFormatError(file, layoutProblem);
  collector.findings.push({ severity: 'medium', code: 'pickle-foreign-zip', file, message: `${layoutProblem}; its pickles were scanned and no tensors were read` });
  return { file, format: 'pytorch-zip', tensors: [], globals: collector.globals, findings: collector.findings };
}

async function checkByteOrder(source: ByteSource, zip: ZipDirectory, prefix: string): Promise<void> {
  const entry = zip.byName.get(`${prefix}/byteorder`);
  if (!entry) return; // torch before 2.1 wrote no byteorder record: those files are little-endian
  const order = decodeUtf8(await readZipEntry(source, entry, 64)).trim();
  if (order !== 'little') {
    throw new ModelFormatError(source.name, `checkpoint byte order is ${JSON.stringify(order)}; only little-endian checkpoints are supported`);
  }
}

// ---------------------------------------------------------------------------------------------
// Legacy layout (torch < 1.6, or _use_new_zipfile_serialization=False)

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
const MAX_TRAILING_PICKLES = 64;

async function readLegacyCheckpoint(source: ByteSource): Promise<PytorchCheckpoint> {
  const file = source.name;
  const collector = new FindingCollector(file, false);
  const result = (tensors: TensorInfo[]): PytorchCheckpoint => ({ file, format: 'pytorch-legacy', tensors, globals: collector.globals, findings: collector.findings });

  const magic = await collector.record(() => walkPickleAt(source, 0), 'pickle 1');
  if (!magic) return result([]);
  if (magic.value !== LEGACY_MAGIC) {
    // Not a torch checkpoint but a plain pickle (what torch.load would still unpickle first):
    // scan it and whatever pickles follow, and report no tensors.
    let offset = magic.end;
    for (let n = 2; offset < source.sizeBytes && n <= MAX_TRAILING_PICKLES; n++) {
      try {
        const next = await collector.record(() => walkPickleAt(source, offset), `pickle ${n}`);
        if (!next) break;
        offset = next.end;
      } catch (err) {
        // Trailing bytes that are not a pickle (and import nothing) do not make the first one less reportable.
        if (err instanceof PickleError) break;
        throw err;
      }
    }
    return result([]);
  }

  const protocol = await collector.record(() => walkPickleAt(source, magic.end), 'pickle 2 (protocol version)');
  if (!protocol) return result([]);
  if (protocol.value !== LEGACY_PROTOCOL) throw new ModelFormatError(file, `legacy checkpoint protocol ${String(protocol.value)} is not ${LEGACY_PROTOCOL}`, protocol.start);
  const sysInfo = await collector.record(() => walkPickleAt(source, protocol.end), 'pickle 3 (system info)');
  if (!sysInfo) return result([]);
  checkLittleEndian(sysInfo.value, file);
  const objects = await collector.record(() => walkPickleAt(source, sysInfo.end), 'pickle 4 (objects)');
  if (!objects) return result([]);
  const keyList = await collector.record(() => walkPickleAt(source, objects.end), 'pickle 5 (storage keys)');
  if (!keyList) return result([]);

  const refs = findTensorReferences(objects.value, file);
  const storages = new Map<string, StorageRef>();
  for (const ref of refs) {
    const known = storages.get(ref.storage.key);
    if (known && known.dtype !== ref.storage.dtype) {
      throw new ModelFormatError(file, `storage ${ref.storage.key} is referenced as both ${known.dtype} and ${ref.storage.dtype}`);
    }
    storages.set(ref.storage.key, ref.storage);
  }
  const keys = sequenceItems(keyList.value);
  if (!keys || keys.some((k) => typeof k !== 'string')) throw new ModelFormatError(file, 'storage key list is not a list of strings', keyList.start);

  // Storages follow the key list in its order, each as u64 element count + raw bytes.
  const placed = new Map<string, { start: number; bytes: number }>();
  let offset = keyList.end;
  for (const key of keys as string[]) {
    const storage = storages.get(key);
    if (!storage) throw new ModelFormatError(file, `storage ${key} is listed but no tensor uses it, so its element size is unknown`, offset);
    const numel = new BinaryCursor(await source.read(offset, 8), file, offset).u64();
    if (storage.numel !== undefined && numel !== storage.numel) {
      throw new ModelFormatError(file, `storage ${key} holds ${numel} elements but the pickle says ${storage.numel}`, offset);
    }
    const bytes = numel * ELEMENT_BYTES[storage.dtype];
    const start = offset + 8;
    if (!Number.isSafeInteger(bytes) || start + bytes > source.sizeBytes) {
      throw new ModelFormatError(file, `storage ${key} (${numel} elements at ${start}) runs past the end of the file (${source.sizeBytes} bytes)`, offset);
    }
    if (placed.has(key)) throw new ModelFormatError(file, `storage ${key} is listed twice`, offset);
    placed.set(key, { start, bytes });
    offset = start + bytes;
  }

  const tensors = refs.map((ref) => {
    const storage = placed.get(ref.storage.key);
    if (!storage) throw new ModelFormatError(file, `tensor ${ref.name}: storage ${ref.storage.key} is not in the storage list`);
    return placeTensor(ref, file, storage.start, storage.bytes);
  });
  return result(tensors);
}

function checkLittleEndian(sysInfo: PickleValue, file: string): void {
  if (typeof sysInfo !== 'object' || sysInfo === null || sysInfo.kind !== 'dict') return;
  for (const [key, value] of sysInfo.entries) {
    if (key === 'little_endian' && value === false) {
      throw new ModelFormatError(file, 'checkpoint was saved on a big-endian machine; only little-endian checkpoints are supported');
    }
  }
}
