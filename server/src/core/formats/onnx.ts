// Reads an ONNX model (a ModelProto protobuf) into tensor descriptions without loading its weights:
// field headers are read positionally, raw_data payloads are skipped and later read in place.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { ModelFormatError } from '../errors';
import { BinaryCursor, decodeUtf8 } from '../io/binaryReader';
import { BufferSource, LocalFileSource, type ByteSource } from '../io/byteSource';
import { confinementRoot, PathEscapeError, resolveConfined } from '../io/confinedPath';
import {
  WindowedByteReader,
  WireType,
  expectStreamedWireType,
  readFieldKey,
  readVarint64,
  skipField,
  streamMessageFields,
  type StreamedField,
} from '../io/protobufWire';
import { ELEMENT_BYTES, type ElementDType } from './dtypes';
import type { SecurityFinding, TensorInfo } from './types';
import type { SourceOpener } from './tensorStore';

export interface OnnxOpset {
  /** '' is the default ONNX domain (ai.onnx). */
  domain: string;
  version: number;
}

/** Where a reported tensor came from in the model. */
export interface OnnxTensorOrigin {
  kind: 'initializer' | 'constant';
  /** '' for the main graph; for subgraphs the path of owning nodes and attributes, e.g. `If_0/else_branch`. */
  graphPath: string;
  /** TensorProto.name as stored (may be empty for constants, and may repeat across subgraphs). */
  protoName: string;
}

export interface OnnxSkippedTensor {
  name: string;
  reason: string;
}

/**
 * One node of the main graph, as much as mapping anonymous initializers to roles needs
 * (core/model/onnxRoles.ts): torch.onnx names nodes by module path, `/model/layers.0/mlp/gate_proj/MatMul`.
 */
export interface OnnxNode {
  opType: string;
  /** NodeProto.name ('' when the exporter wrote none). */
  name: string;
  /** Input tensor names in slot order ('' for an omitted optional input). */
  inputs: string[];
  outputs: string[];
  /** Gemm: transB (0 when absent). */
  transB?: number;
  /** Transpose: perm (absent means reverse the dimensions). */
  perm?: number[];
}

/**
 * Where weights live in ONNX, and what this reader does with each:
 * - graph initializers (main graph and control-flow subgraphs) are the usual home of weights;
 * - `Constant` nodes hold weights in some exporters (Silero VAD keeps every weight in Constant
 *   nodes inside `If` branches). A Constant's tensor is reported when it is named or large, under
 *   its node's output name, which is unique across branches where the tensor names repeat;
 * - raw_data, packed float_data (4-byte LE floats) and packed double_data are addressed in place;
 * - int32_data / int64_data / uint64_data (varints: F16 bit patterns, int8, int64, ...) are not the
 *   raw bytes, so they are decoded into `inlineTensorBytes` (bounded) and served by
 *   `onnxSourceOpener`; their TensorInfo.file is a synthetic `onnx-inline:` key, not a path;
 * - external data is resolved inside the model's folder only; an escaping `location` is reported as
 *   a high-severity finding and never opened;
 * - sparse initializers, segments, strings and unsupported element types are listed in
 *   `skippedTensors` with the reason, and never fail the whole model.
 */
export interface OnnxModel {
  file: string;
  irVersion?: number;
  producer?: string;
  producerVersion?: string;
  /** Versions of opset_import, in file order (domains in `opsets`). */
  opsetVersions: number[];
  opsets: OnnxOpset[];
  /** Readable weights: initializers, then weight-like Constant tensors, in file order. */
  tensors: TensorInfo[];
  findings: SecurityFinding[];
  /** Dense initializers in all graphs, readable or not. */
  initializerCount: number;
  sparseInitializerCount: number;
  /** Constant-node tensors reported in `tensors`. */
  constantTensorCount: number;
  /** Keyed by TensorInfo.name. */
  origins: Map<string, OnnxTensorOrigin>;
  /** Little-endian bytes of tensors decoded from varint fields, keyed by their TensorInfo.file. */
  inlineTensorBytes: Map<string, Uint8Array>;
  /** Tensors that hold data this reader does not expose, with the reason (first MAX_SKIP_NOTES). */
  skippedTensors: OnnxSkippedTensor[];
  /** Nodes of the main graph in file order (subgraph nodes are walked for weights but not kept). */
  nodes: OnnxNode[];
}

export interface OnnxReadOptions {
  /** Files up to this size are read whole (one read); larger ones are walked by positional reads. */
  inMemoryLimitBytes?: number;
  /** Folder that external data locations are relative to; defaults to the model file's folder. */
  modelDirectory?: string;
  /** Folder every file read must resolve inside; defaults to confinementRoot(modelDirectory). */
  root?: string;
}

export const ONNX_IN_MEMORY_LIMIT_BYTES = 64 * 1024 * 1024;
/** Total bytes of varint-encoded tensors decoded into memory; such tensors are small in practice. */
export const MAX_INLINE_TENSOR_BYTES = 64 * 1024 * 1024;
export const INLINE_TENSOR_PREFIX = 'onnx-inline:';

/** Strings, dims lists, opset and external-data entries are tiny; anything bigger is hostile. */
const MAX_SMALL_FIELD_BYTES = 1024 * 1024;
const MAX_TENSOR_RANK = 64;
/** Control flow nests a few levels; the cap stops a recursion bomb. */
const MAX_GRAPH_DEPTH = 32;
const MAX_TENSORS = 1_000_000;
const MAX_SKIP_NOTES = 1000;
/** Varint-encoded values (unpacked or packed) that one tensor may carry before it is skipped. */
const MAX_UNPACKED_VALUES = 1 << 20;
/** Unnamed Constant tensors below this size are graph plumbing (axes, shapes, epsilons), not weights. */
const MIN_UNNAMED_CONSTANT_ELEMENTS = 256;
/** Main-graph nodes kept for role mapping: an unoptimized torch.onnx export of an 80-layer decoder has about 15,000. */
export const MAX_GRAPH_NODES = 200_000;
/** One node's op type, name, input or output name: real ones are under 200 bytes. */
export const MAX_NODE_STRING_BYTES = 64 * 1024;
/** All node strings kept (each costs its length plus NODE_STRING_OVERHEAD), so a hostile graph cannot fill memory. */
export const MAX_GRAPH_STRING_BYTES = 128 * 1024 * 1024;
const NODE_STRING_OVERHEAD = 16;
/** Transpose perm entries read (a weight has rank 2; anything above the tensor rank limit is junk). */
const MAX_PERM_ENTRIES = MAX_TENSOR_RANK;

/** TensorProto.DataType -> our dtype, for the element types we decode. */
const ONNX_DTYPES: Readonly<Partial<Record<number, ElementDType>>> = {
  1: 'F32', 2: 'U8', 3: 'I8', 4: 'U16', 5: 'I16', 6: 'I32', 7: 'I64', 9: 'BOOL',
  10: 'F16', 11: 'F64', 12: 'U32', 13: 'U64', 16: 'BF16', 17: 'F8_E4M3', 19: 'F8_E5M2',
};

/** Names of the ONNX types we do not decode, so a skip note says what the tensor was. */
const UNSUPPORTED_ONNX_TYPE_NAMES: Readonly<Partial<Record<number, string>>> = {
  0: 'UNDEFINED', 8: 'STRING', 14: 'COMPLEX64', 15: 'COMPLEX128', 18: 'FLOAT8E4M3FNUZ',
  20: 'FLOAT8E5M2FNUZ', 21: 'UINT4', 22: 'INT4', 23: 'FLOAT4E2M1',
};

/** TensorProto field numbers (onnx.proto). */
const TensorField = {
  Dims: 1, DataType: 2, Segment: 3, FloatData: 4, Int32Data: 5, StringData: 6, Int64Data: 7,
  Name: 8, RawData: 9, DoubleData: 10, Uint64Data: 11, ExternalData: 13, DataLocation: 14,
} as const;

/** Which element types each typed repeated field may carry (onnx.proto comments). */
const VALUE_FIELD_DTYPES: Readonly<Record<number, readonly ElementDType[]>> = {
  [TensorField.FloatData]: ['F32'],
  [TensorField.Int32Data]: ['I32', 'I16', 'I8', 'U16', 'U8', 'BOOL', 'F16', 'BF16', 'F8_E4M3', 'F8_E5M2'],
  [TensorField.Int64Data]: ['I64'],
  [TensorField.DoubleData]: ['F64'],
  [TensorField.Uint64Data]: ['U32', 'U64'],
};

const DATA_LOCATION_EXTERNAL = 1;

/** One occurrence of a typed repeated value field: a packed run, or a single unpacked element. */
interface ValueChunk {
  offset: number;
  length: number;
  packed: boolean;
  /** The element of an unpacked varint occurrence. */
  varint: bigint;
}

interface ParsedTensorProto {
  name: string;
  dims: number[];
  dataType?: number;
  raw?: { offset: number; length: number };
  valueFields: Set<number>;
  valueChunks: ValueChunk[];
  externalData: Map<string, string>;
  dataLocation: number;
  hasSegment: boolean;
  hasStringData: boolean;
}

interface ReadContext {
  file: string;
  reader: WindowedByteReader;
  modelDirectory: string;
  /** Confinement root for external data (real path), resolved on first use. */
  root?: string;
  tensors: TensorInfo[];
  names: Set<string>;
  origins: Map<string, OnnxTensorOrigin>;
  findings: SecurityFinding[];
  findingKeys: Set<string>;
  skipped: OnnxSkippedTensor[];
  inline: Map<string, Uint8Array>;
  inlineBytesUsed: number;
  initializerCount: number;
  sparseInitializerCount: number;
  constantTensorCount: number;
  externalFileSizes: Map<string, number>;
  nodes: OnnxNode[];
  nodeStringBytes: number;
}

/** Reads an ONNX model file. Throws ModelFormatError for malformed or truncated files. */
export async function readOnnxModel(modelPath: string, options: OnnxReadOptions = {}): Promise<OnnxModel> {
  const file = await LocalFileSource.open(modelPath, options.root);
  try {
    const limit = options.inMemoryLimitBytes ?? ONNX_IN_MEMORY_LIMIT_BYTES;
    // Small models are cheaper to walk from memory; large ones must never be read whole.
    const source: ByteSource = file.sizeBytes <= limit ? new BufferSource(modelPath, await file.read(0, file.sizeBytes)) : file;
    return await parseOnnxModel(source, options);
  } finally {
    await file.close();
  }
}

/** Parses the ModelProto in `source`; TensorInfo.file is `source.name`, so it must be the model's path. */
export async function parseOnnxModel(source: ByteSource, options: OnnxReadOptions = {}): Promise<OnnxModel> {
  const file = source.name;
  const ctx: ReadContext = {
    file,
    reader: new WindowedByteReader(source),
    modelDirectory: path.resolve(options.modelDirectory ?? path.dirname(file)),
    root: options.root,
    tensors: [],
    names: new Set(),
    origins: new Map(),
    findings: [],
    findingKeys: new Set(),
    skipped: [],
    inline: new Map(),
    inlineBytesUsed: 0,
    initializerCount: 0,
    sparseInitializerCount: 0,
    constantTensorCount: 0,
    externalFileSizes: new Map(),
    nodes: [],
    nodeStringBytes: 0,
  };
  let irVersion: number | undefined;
  let producer: string | undefined;
  let producerVersion: string | undefined;
  const opsets: OnnxOpset[] = [];
  let graphCount = 0;
  for await (const field of streamMessageFields(ctx.reader, 0, source.sizeBytes)) {
    switch (field.fieldNumber) {
      case 1:
        expectStreamedWireType(file, field, WireType.Varint, 'ModelProto.ir_version');
        irVersion = varintToSafeNumber(file, field, 'ir_version');
        break;
      case 2:
        producer = await readStringField(ctx, field, 'ModelProto.producer_name');
        break;
      case 3:
        producerVersion = await readStringField(ctx, field, 'ModelProto.producer_version');
        break;
      case 7:
        expectStreamedWireType(file, field, WireType.LengthDelimited, 'ModelProto.graph');
        graphCount++;
        await walkGraph(ctx, field.valueOffset, field.valueOffset + field.valueLength, 0, '');
        break;
      case 8:
        opsets.push(await readOpset(ctx, field));
        break;
      default:
        break;
    }
  }
  if (graphCount === 0) {
    throw new ModelFormatError(file, 'no graph found: this is not an ONNX model (or it is empty). Check that the file is a .onnx export');
  }
  return {
    file,
    irVersion,
    producer,
    producerVersion,
    opsetVersions: opsets.map((o) => o.version),
    opsets,
    tensors: ctx.tensors,
    findings: ctx.findings,
    initializerCount: ctx.initializerCount,
    sparseInitializerCount: ctx.sparseInitializerCount,
    constantTensorCount: ctx.constantTensorCount,
    origins: ctx.origins,
    inlineTensorBytes: ctx.inline,
    skippedTensors: ctx.skipped,
    nodes: ctx.nodes,
  };
}

/** A TensorStore source opener that serves the model's inline tensors from memory and files from disk. */
export function onnxSourceOpener(model: Pick<OnnxModel, 'inlineTensorBytes'>, openFile: SourceOpener = (p) => LocalFileSource.open(p)): SourceOpener {
  return async (file) => {
    const inline = model.inlineTensorBytes.get(file);
    if (inline) return new BufferSource(file, inline);
    return openFile(file);
  };
}

/**
 * Why an external-data `location` is refused, or undefined when it is a plain relative path.
 * `escapes` marks paths that try to leave the model folder (a security finding, not just a bad file).
 */
export function externalDataLocationProblem(location: string): { reason: string; escapes: boolean } | undefined {
  if (location.length === 0) return { reason: 'is empty', escapes: false };
  if (location.includes('\0')) return { reason: 'contains a NUL byte', escapes: true };
  // Either platform's absolute forms are refused everywhere: a model file is not tied to the OS reading it.
  if (path.posix.isAbsolute(location) || path.win32.isAbsolute(location) || /^[a-zA-Z]:/.test(location)) {
    return { reason: 'is an absolute path', escapes: true };
  }
  if (location.split(/[\\/]+/).includes('..')) return { reason: 'climbs out of the model folder with ".."', escapes: true };
  return undefined;
}

async function walkGraph(ctx: ReadContext, start: number, end: number, depth: number, graphPath: string): Promise<void> {
  if (depth > MAX_GRAPH_DEPTH) {
    throw new ModelFormatError(ctx.file, `subgraphs nest deeper than ${MAX_GRAPH_DEPTH} levels`, start);
  }
  for await (const field of streamMessageFields(ctx.reader, start, end)) {
    switch (field.fieldNumber) {
      case 1:
        expectStreamedWireType(ctx.file, field, WireType.LengthDelimited, 'GraphProto.node');
        await walkNode(ctx, field, depth, graphPath);
        break;
      case 5: {
        expectStreamedWireType(ctx.file, field, WireType.LengthDelimited, 'GraphProto.initializer');
        ctx.initializerCount++;
        const parsed = await parseTensorProto(ctx, field.valueOffset, field.valueOffset + field.valueLength);
        await addTensor(ctx, parsed, parsed.name, { kind: 'initializer', graphPath, protoName: parsed.name });
        break;
      }
      case 15: {
        expectStreamedWireType(ctx.file, field, WireType.LengthDelimited, 'GraphProto.sparse_initializer');
        ctx.sparseInitializerCount++;
        const name = await sparseTensorName(ctx, field);
        noteSkipped(ctx, name, 'sparse initializers are not read (their values and indices need densifying)');
        break;
      }
      default:
        break;
    }
  }
}

/**
 * NodeProto: subgraph attributes and Constant values (weights) at any depth; main-graph nodes are also
 * kept (op type, name, inputs, outputs, Gemm transB, Transpose perm) for mapping initializers to roles.
 */
async function walkNode(ctx: ReadContext, nodeField: StreamedField, depth: number, graphPath: string): Promise<void> {
  const keep = depth === 0;
  if (keep && ctx.nodes.length >= MAX_GRAPH_NODES) {
    throw new ModelFormatError(ctx.file, `the graph has more than ${MAX_GRAPH_NODES} nodes (limit for role mapping); a hostile or corrupt file`, nodeField.valueOffset);
  }
  const node: OnnxNode = { opType: '', name: '', inputs: [], outputs: [] };
  // Attributes are handled after the whole node is seen: op_type may follow them in the bytes.
  const attributes: StreamedField[] = [];
  for await (const field of streamMessageFields(ctx.reader, nodeField.valueOffset, nodeField.valueOffset + nodeField.valueLength)) {
    switch (field.fieldNumber) {
      case 1:
        if (keep) node.inputs.push(await readNodeString(ctx, field, 'NodeProto.input'));
        break;
      case 2:
        // Outputs are kept for every node: a Constant's first output names its tensor.
        if (keep || node.outputs.length === 0) node.outputs.push(await readNodeString(ctx, field, 'NodeProto.output', keep));
        break;
      case 3:
        node.name = await readNodeString(ctx, field, 'NodeProto.name', keep);
        break;
      case 4:
        node.opType = await readNodeString(ctx, field, 'NodeProto.op_type', keep);
        break;
      case 5:
        expectStreamedWireType(ctx.file, field, WireType.LengthDelimited, 'NodeProto.attribute');
        attributes.push(field);
        break;
      default:
        break;
    }
  }
  for (const attribute of attributes) {
    await walkAttribute(ctx, attribute, node, depth, graphPath);
  }
  if (keep) ctx.nodes.push(node);
}

/** A node string, bounded per string and (for kept nodes) by the graph's total string budget. */
async function readNodeString(ctx: ReadContext, field: StreamedField, fieldName: string, counted = true): Promise<string> {
  expectStreamedWireType(ctx.file, field, WireType.LengthDelimited, fieldName);
  if (field.valueLength > MAX_NODE_STRING_BYTES) {
    throw new ModelFormatError(ctx.file, `${fieldName} is ${field.valueLength} bytes long (limit ${MAX_NODE_STRING_BYTES}); a hostile or corrupt graph`, field.valueOffset);
  }
  if (counted) {
    ctx.nodeStringBytes += field.valueLength + NODE_STRING_OVERHEAD;
    if (ctx.nodeStringBytes > MAX_GRAPH_STRING_BYTES) {
      throw new ModelFormatError(ctx.file, `the graph's node names and edges take more than ${MAX_GRAPH_STRING_BYTES} bytes; a hostile or corrupt graph`, field.valueOffset);
    }
  }
  return decodeUtf8(await ctx.reader.bytes(field.valueOffset, field.valueLength));
}

async function walkAttribute(
  ctx: ReadContext,
  attributeField: StreamedField,
  node: OnnxNode,
  depth: number,
  graphPath: string,
): Promise<void> {
  let attributeName = '';
  const graphs: StreamedField[] = [];
  let valueTensor: StreamedField | undefined;
  let intValue: bigint | undefined;
  const ints: StreamedField[] = [];
  for await (const field of streamMessageFields(ctx.reader, attributeField.valueOffset, attributeField.valueOffset + attributeField.valueLength)) {
    switch (field.fieldNumber) {
      case 1:
        attributeName = await readStringField(ctx, field, 'AttributeProto.name');
        break;
      case 3: // i
        if (field.wireType === WireType.Varint) intValue = field.varint;
        break;
      case 5:
        expectStreamedWireType(ctx.file, field, WireType.LengthDelimited, 'AttributeProto.t');
        valueTensor = field;
        break;
      case 6: // g
      case 11: // graphs
        expectStreamedWireType(ctx.file, field, WireType.LengthDelimited, 'AttributeProto.g');
        graphs.push(field);
        break;
      case 8: // ints (packed or not)
        if (ints.length <= MAX_PERM_ENTRIES) ints.push(field);
        break;
      default:
        break;
    }
  }
  if (depth === 0) {
    if (node.opType === 'Gemm' && attributeName === 'transB' && intValue !== undefined) node.transB = Number(BigInt.asIntN(32, intValue));
    if (node.opType === 'Transpose' && attributeName === 'perm') node.perm = await readPerm(ctx, ints);
  }
  const owner = node.name || node.opType || 'node';
  for (const graph of graphs) {
    const childPath = graphPath ? `${graphPath}/${owner}/${attributeName}` : `${owner}/${attributeName}`;
    await walkGraph(ctx, graph.valueOffset, graph.valueOffset + graph.valueLength, depth + 1, childPath);
  }
  if (valueTensor && node.opType === 'Constant' && attributeName === 'value') {
    const parsed = await parseTensorProto(ctx, valueTensor.valueOffset, valueTensor.valueOffset + valueTensor.valueLength);
    const elements = safeElementCount(parsed.dims);
    if (parsed.name === '' && (elements === undefined || elements < MIN_UNNAMED_CONSTANT_ELEMENTS)) return;
    // The node output is unique in the graph; TensorProto names repeat across If branches (Silero VAD).
    const reportedName = node.outputs[0] || parsed.name;
    const added = await addTensor(ctx, parsed, reportedName, { kind: 'constant', graphPath, protoName: parsed.name });
    if (added) ctx.constantTensorCount++;
  }
}

/** Transpose's perm: AttributeProto.ints, one varint per field or packed; junk gives undefined (reverse). */
async function readPerm(ctx: ReadContext, fields: readonly StreamedField[]): Promise<number[] | undefined> {
  const perm: number[] = [];
  for (const field of fields) {
    if (field.wireType === WireType.Varint) {
      perm.push(Number(BigInt.asIntN(32, field.varint)));
    } else if (field.wireType === WireType.LengthDelimited && field.valueLength <= MAX_PERM_ENTRIES * 10) {
      const cursor = new BinaryCursor(await ctx.reader.bytes(field.valueOffset, field.valueLength), ctx.file, field.valueOffset);
      while (cursor.remaining > 0 && perm.length <= MAX_PERM_ENTRIES) perm.push(Number(BigInt.asIntN(32, readVarint64(cursor))));
    }
    if (perm.length > MAX_PERM_ENTRIES) return undefined;
  }
  return perm.length > 0 ? perm : undefined;
}

async function parseTensorProto(ctx: ReadContext, start: number, end: number): Promise<ParsedTensorProto> {
  const parsed: ParsedTensorProto = {
    name: '',
    dims: [],
    valueFields: new Set(),
    valueChunks: [],
    externalData: new Map(),
    dataLocation: 0,
    hasSegment: false,
    hasStringData: false,
  };
  for await (const field of streamMessageFields(ctx.reader, start, end)) {
    switch (field.fieldNumber) {
      case TensorField.Dims:
        await readDims(ctx, field, parsed.dims);
        break;
      case TensorField.DataType:
        expectStreamedWireType(ctx.file, field, WireType.Varint, 'TensorProto.data_type');
        parsed.dataType = Number(BigInt.asIntN(32, field.varint));
        break;
      case TensorField.Segment:
        parsed.hasSegment = true;
        break;
      case TensorField.StringData:
        parsed.hasStringData = true;
        break;
      case TensorField.Name:
        parsed.name = await readStringField(ctx, field, 'TensorProto.name');
        break;
      case TensorField.RawData:
        expectStreamedWireType(ctx.file, field, WireType.LengthDelimited, 'TensorProto.raw_data');
        // Payload skipped: TensorStore reads it in place later.
        parsed.raw = { offset: field.valueOffset, length: field.valueLength };
        break;
      case TensorField.FloatData:
      case TensorField.Int32Data:
      case TensorField.Int64Data:
      case TensorField.DoubleData:
      case TensorField.Uint64Data:
        if (parsed.valueChunks.length >= MAX_UNPACKED_VALUES) {
          throw new ModelFormatError(ctx.file, `tensor ${parsed.name || '(unnamed)'} has more than ${MAX_UNPACKED_VALUES} separately encoded values`, field.valueOffset);
        }
        parsed.valueFields.add(field.fieldNumber);
        parsed.valueChunks.push({
          offset: field.valueOffset,
          length: field.valueLength,
          packed: field.wireType === WireType.LengthDelimited,
          varint: field.varint,
        });
        break;
      case TensorField.ExternalData:
        expectStreamedWireType(ctx.file, field, WireType.LengthDelimited, 'TensorProto.external_data');
        await readStringEntry(ctx, field, parsed.externalData);
        break;
      case TensorField.DataLocation:
        expectStreamedWireType(ctx.file, field, WireType.Varint, 'TensorProto.data_location');
        parsed.dataLocation = Number(BigInt.asIntN(32, field.varint));
        break;
      default:
        break;
    }
  }
  return parsed;
}

/** Turns a parsed TensorProto into a TensorInfo, a skip note or a finding. Returns whether it was added. */
async function addTensor(ctx: ReadContext, parsed: ParsedTensorProto, storedName: string, origin: OnnxTensorOrigin): Promise<boolean> {
  const name = uniqueName(ctx, storedName || `(unnamed ${origin.kind} ${ctx.tensors.length})`, origin.graphPath);
  if (name === undefined) {
    noteSkipped(ctx, storedName, 'another tensor already has this name in the same graph');
    return false;
  }
  if (parsed.dataType === undefined) return skip(ctx, name, 'it has no data_type');
  const dtype = ONNX_DTYPES[parsed.dataType];
  if (!dtype) {
    const typeName = UNSUPPORTED_ONNX_TYPE_NAMES[parsed.dataType] ?? 'unknown';
    return skip(ctx, name, `data_type ${parsed.dataType} (${typeName}) is not supported`);
  }
  if (parsed.hasSegment) return skip(ctx, name, 'segmented tensors are not supported');
  const elements = safeElementCount(parsed.dims);
  if (elements === undefined) {
    throw new ModelFormatError(ctx.file, `tensor ${name} has an impossible shape [${parsed.dims.join(', ')}]`);
  }
  const byteLength = elements * ELEMENT_BYTES[dtype];
  if (!Number.isSafeInteger(byteLength)) throw new ModelFormatError(ctx.file, `tensor ${name} is too large (${elements} elements)`);
  if (ctx.tensors.length >= MAX_TENSORS) throw new ModelFormatError(ctx.file, `more than ${MAX_TENSORS} tensors`);

  const base = { name, dtype, shape: parsed.dims, byteLength };
  const isExternal = parsed.dataLocation === DATA_LOCATION_EXTERNAL
    || (parsed.externalData.size > 0 && !parsed.raw && parsed.valueChunks.length === 0);
  let info: TensorInfo | undefined;
  if (isExternal) {
    const place = await locateExternalData(ctx, name, parsed.externalData, byteLength);
    if (typeof place === 'string') return skip(ctx, name, place);
    info = { ...base, file: place.file, dataOffset: place.offset };
  } else if (parsed.raw) {
    if (parsed.raw.length !== byteLength) {
      throw new ModelFormatError(ctx.file, `tensor ${name}: raw_data has ${parsed.raw.length} bytes but ${dtype}[${parsed.dims.join(', ')}] needs ${byteLength}`, parsed.raw.offset);
    }
    info = { ...base, file: ctx.file, dataOffset: parsed.raw.offset };
  } else if (parsed.valueChunks.length > 0) {
    const placed = await placeTypedValues(ctx, name, dtype, elements, byteLength, parsed);
    if (typeof placed === 'string') return skip(ctx, name, placed);
    info = { ...base, ...placed };
  } else if (elements === 0) {
    info = { ...base, file: ctx.file, dataOffset: 0 };
  } else if (parsed.hasStringData) {
    return skip(ctx, name, 'string tensors are not supported');
  } else {
    return skip(ctx, name, 'it holds no data');
  }
  ctx.names.add(name);
  ctx.tensors.push(info);
  ctx.origins.set(name, origin);
  return true;
}

/** Address or decode values stored in the typed repeated fields (float_data, int32_data, ...). */
async function placeTypedValues(
  ctx: ReadContext,
  name: string,
  dtype: ElementDType,
  elements: number,
  byteLength: number,
  parsed: ParsedTensorProto,
): Promise<{ file: string; dataOffset: number } | string> {
  if (parsed.valueFields.size !== 1) return `values are split across several typed fields (${[...parsed.valueFields].join(', ')})`;
  const fieldNumber = [...parsed.valueFields][0]!;
  if (!VALUE_FIELD_DTYPES[fieldNumber]?.includes(dtype)) return `field ${fieldNumber} cannot hold ${dtype} values`;
  const isFixedWidth = fieldNumber === TensorField.FloatData || fieldNumber === TensorField.DoubleData;
  const only = parsed.valueChunks.length === 1 ? parsed.valueChunks[0]! : undefined;
  // Packed float_data / double_data are exactly little-endian F32 / F64: read them in place like raw_data.
  if (isFixedWidth && only?.packed) {
    if (only.length !== byteLength) {
      throw new ModelFormatError(ctx.file, `tensor ${name}: packed values take ${only.length} bytes but ${dtype}[${parsed.dims.join(', ')}] needs ${byteLength}`, only.offset);
    }
    return { file: ctx.file, dataOffset: only.offset };
  }
  if (ctx.inlineBytesUsed + byteLength > MAX_INLINE_TENSOR_BYTES) {
    return `its ${byteLength} bytes of varint-encoded values exceed the in-memory budget of ${MAX_INLINE_TENSOR_BYTES} bytes`;
  }
  const out = new Uint8Array(byteLength);
  const view = new DataView(out.buffer);
  let written = 0;
  const tooMany = (offset: number): never => {
    throw new ModelFormatError(ctx.file, `tensor ${name} stores more values than its shape [${parsed.dims.join(', ')}] holds`, offset);
  };
  for (const chunk of parsed.valueChunks) {
    if (isFixedWidth) {
      // Unpacked or split packed runs: the bytes are still LE floats, only not contiguous in the file.
      if (written + chunk.length > byteLength) tooMany(chunk.offset);
      out.set(await ctx.reader.bytes(chunk.offset, chunk.length), written);
      written += chunk.length;
    } else if (!chunk.packed) {
      if (written >= elements) tooMany(chunk.offset);
      writeIntegerElement(view, dtype, written++, chunk.varint);
    } else {
      // A varint takes at least one byte, so a run longer than 10 bytes per element cannot be valid.
      if (chunk.length > (elements - written) * 10) tooMany(chunk.offset);
      const cursor = new BinaryCursor(await ctx.reader.bytes(chunk.offset, chunk.length), ctx.file, chunk.offset);
      while (cursor.remaining > 0) {
        if (written >= elements) tooMany(chunk.offset + cursor.position);
        writeIntegerElement(view, dtype, written++, readVarint64(cursor));
      }
    }
  }
  const count = isFixedWidth ? written / ELEMENT_BYTES[dtype] : written;
  if (count !== elements) {
    throw new ModelFormatError(ctx.file, `tensor ${name} stores ${count} values but its shape [${parsed.dims.join(', ')}] needs ${elements}`);
  }
  ctx.inlineBytesUsed += byteLength;
  const key = `${INLINE_TENSOR_PREFIX}${ctx.file}#${name}`;
  ctx.inline.set(key, out);
  return { file: key, dataOffset: 0 };
}

/** Writes one varint-encoded value as element `index` of `dtype` in little-endian storage. */
function writeIntegerElement(view: DataView, dtype: ElementDType, index: number, value: bigint): void {
  const low32 = Number(BigInt.asIntN(32, value));
  switch (dtype) {
    case 'I32': view.setInt32(index * 4, low32, true); break;
    case 'I16': view.setInt16(index * 2, low32, true); break;
    case 'U16': view.setUint16(index * 2, low32 & 0xffff, true); break;
    // int32_data holds the bit pattern of 16-bit floats in its low 16 bits.
    case 'F16':
    case 'BF16': view.setUint16(index * 2, low32 & 0xffff, true); break;
    case 'I8': view.setInt8(index, low32); break;
    case 'U8':
    case 'F8_E4M3':
    case 'F8_E5M2': view.setUint8(index, low32 & 0xff); break;
    case 'BOOL': view.setUint8(index, low32 === 0 ? 0 : 1); break;
    case 'I64': view.setBigInt64(index * 8, BigInt.asIntN(64, value), true); break;
    case 'U64': view.setBigUint64(index * 8, BigInt.asUintN(64, value), true); break;
    case 'U32': view.setUint32(index * 4, Number(BigInt.asUintN(32, value)), true); break;
    default: throw new Error(`unreachable: ${dtype} is not stored as varints`);
  }
}

/** Resolves external data inside the model folder, or says why it cannot be read (a string). */
async function locateExternalData(
  ctx: ReadContext,
  name: string,
  entries: Map<string, string>,
  byteLength: number,
): Promise<{ file: string; offset: number } | string> {
  const location = entries.get('location');
  if (location === undefined) return 'its external_data has no location';
  const problem = externalDataLocationProblem(location);
  if (problem) {
    if (problem.escapes) reportEscapingPath(ctx, name, location, problem.reason);
    return `external data location "${location}" ${problem.reason}`;
  }
  const offset = parseDecimalEntry(ctx, name, entries, 'offset') ?? 0;
  const length = parseDecimalEntry(ctx, name, entries, 'length');
  if (length !== undefined && length !== byteLength) {
    throw new ModelFormatError(ctx.file, `tensor ${name}: external data length ${length} does not match the ${byteLength} bytes its shape needs`);
  }
  const externalPath = path.resolve(ctx.modelDirectory, location);
  let sizeBytes = ctx.externalFileSizes.get(externalPath);
  if (sizeBytes === undefined) {
    try {
      const info = await stat(externalPath);
      if (!info.isFile()) return `external data "${location}" is not a regular file`;
      sizeBytes = info.size;
    } catch {
      return `external data file "${location}" is missing beside the model; download it to read this tensor`;
    }
    // A symlink inside the folder can still point elsewhere; judge where it really leads (reads are confined again).
    ctx.root ??= await confinementRoot(ctx.modelDirectory);
    try {
      await resolveConfined(externalPath, ctx.root);
    } catch (err) {
      if (!(err instanceof PathEscapeError)) throw err;
      reportEscapingPath(ctx, name, location, `resolves (through a link) to ${err.realPath}, outside the model folder`);
      return `external data location "${location}" leads outside the model folder`;
    }
    ctx.externalFileSizes.set(externalPath, sizeBytes);
  }
  if (offset + byteLength > sizeBytes) {
    throw new ModelFormatError(externalPath, `tensor ${name} needs bytes ${offset}..${offset + byteLength} but the file has ${sizeBytes} (truncated external data)`);
  }
  return { file: externalPath, offset };
}

function reportEscapingPath(ctx: ReadContext, name: string, location: string, reason: string): void {
  // One finding per location: a hostile file can repeat the same path on every tensor.
  const key = `onnx-external-data-path\0${location}`;
  if (ctx.findingKeys.has(key)) return;
  ctx.findingKeys.add(key);
  ctx.findings.push({
    severity: 'high',
    code: 'onnx-external-data-path',
    file: ctx.file,
    message: `tensor ${name} points its external data at "${location}", which ${reason}. It was not read. ` +
      'A genuine model only references data files inside its own folder: treat this file as untrusted.',
  });
}

function parseDecimalEntry(ctx: ReadContext, name: string, entries: Map<string, string>, key: string): number | undefined {
  const text = entries.get(key);
  if (text === undefined) return undefined;
  const value = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new ModelFormatError(ctx.file, `tensor ${name}: external data ${key} "${text.slice(0, 40)}" is not a byte count`);
  }
  return value;
}

/** dims: repeated int64, unpacked (one varint per field, the proto2 default) or packed. */
async function readDims(ctx: ReadContext, field: StreamedField, dims: number[]): Promise<void> {
  const push = (raw: bigint, offset: number): void => {
    const dim = BigInt.asIntN(64, raw);
    if (dim < 0n || dim > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ModelFormatError(ctx.file, `tensor dimension ${dim} is invalid`, offset);
    }
    if (dims.length >= MAX_TENSOR_RANK) throw new ModelFormatError(ctx.file, `tensor has more than ${MAX_TENSOR_RANK} dimensions`, offset);
    dims.push(Number(dim));
  };
  if (field.wireType === WireType.Varint) {
    push(field.varint, field.valueOffset);
    return;
  }
  expectStreamedWireType(ctx.file, field, WireType.LengthDelimited, 'TensorProto.dims');
  const cursor = new BinaryCursor(await readSmallField(ctx, field, 'TensorProto.dims'), ctx.file, field.valueOffset);
  while (cursor.remaining > 0) push(readVarint64(cursor), field.valueOffset + cursor.position);
}

async function readSmallField(ctx: ReadContext, field: StreamedField, fieldName: string): Promise<Uint8Array> {
  expectStreamedWireType(ctx.file, field, WireType.LengthDelimited, fieldName);
  if (field.valueLength > MAX_SMALL_FIELD_BYTES) {
    throw new ModelFormatError(ctx.file, `${fieldName} is ${field.valueLength} bytes long (limit ${MAX_SMALL_FIELD_BYTES})`, field.valueOffset);
  }
  return ctx.reader.bytes(field.valueOffset, field.valueLength);
}

async function readStringField(ctx: ReadContext, field: StreamedField, fieldName: string): Promise<string> {
  return decodeUtf8(await readSmallField(ctx, field, fieldName));
}

/** OperatorSetIdProto: domain (1), version (2). */
async function readOpset(ctx: ReadContext, field: StreamedField): Promise<OnnxOpset> {
  const cursor = new BinaryCursor(await readSmallField(ctx, field, 'ModelProto.opset_import'), ctx.file, field.valueOffset);
  const opset: OnnxOpset = { domain: '', version: 0 };
  while (cursor.remaining > 0) {
    const key = readFieldKey(cursor);
    if (key.fieldNumber === 1 && key.wireType === WireType.LengthDelimited) {
      opset.domain = cursor.utf8(readVarintLength(cursor));
    } else if (key.fieldNumber === 2 && key.wireType === WireType.Varint) {
      const version = BigInt.asIntN(64, readVarint64(cursor));
      if (version < 0n || version > BigInt(Number.MAX_SAFE_INTEGER)) cursor.fail(`opset version ${version} is invalid`);
      opset.version = Number(version);
    } else {
      skipField(cursor, key.wireType);
    }
  }
  return opset;
}

/** StringStringEntryProto: key (1), value (2), added to `entries` (the last value of a key wins). */
async function readStringEntry(ctx: ReadContext, field: StreamedField, entries: Map<string, string>): Promise<void> {
  const cursor = new BinaryCursor(await readSmallField(ctx, field, 'TensorProto.external_data'), ctx.file, field.valueOffset);
  let key = '';
  let value = '';
  while (cursor.remaining > 0) {
    const fieldKey = readFieldKey(cursor);
    if (fieldKey.fieldNumber === 1 && fieldKey.wireType === WireType.LengthDelimited) key = cursor.utf8(readVarintLength(cursor));
    else if (fieldKey.fieldNumber === 2 && fieldKey.wireType === WireType.LengthDelimited) value = cursor.utf8(readVarintLength(cursor));
    else skipField(cursor, fieldKey.wireType);
  }
  entries.set(key, value);
}

/** SparseTensorProto.values (1) is a TensorProto whose name is the initializer's name. */
async function sparseTensorName(ctx: ReadContext, field: StreamedField): Promise<string> {
  for await (const inner of streamMessageFields(ctx.reader, field.valueOffset, field.valueOffset + field.valueLength)) {
    if (inner.fieldNumber === 1 && inner.wireType === WireType.LengthDelimited) {
      return (await parseTensorProto(ctx, inner.valueOffset, inner.valueOffset + inner.valueLength)).name;
    }
  }
  return '(unnamed sparse initializer)';
}

function readVarintLength(cursor: BinaryCursor): number {
  const length = readVarint64(cursor);
  if (length > BigInt(cursor.remaining)) cursor.fail(`length ${length} runs past the end of its message`);
  return Number(length);
}

function varintToSafeNumber(file: string, field: StreamedField, fieldName: string): number {
  const value = BigInt.asIntN(64, field.varint);
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ModelFormatError(file, `${fieldName} ${value} is invalid`, field.valueOffset);
  }
  return Number(value);
}

/** Product of dims, or undefined when it is not a safe integer. */
function safeElementCount(dims: readonly number[]): number | undefined {
  let count = 1;
  for (const dim of dims) {
    count *= dim;
    if (!Number.isSafeInteger(count)) return undefined;
  }
  return count;
}

/** The stored name, or a graph-qualified one when a subgraph reuses it; undefined when both are taken. */
function uniqueName(ctx: ReadContext, name: string, graphPath: string): string | undefined {
  if (!ctx.names.has(name)) return name;
  if (graphPath === '') return undefined;
  const qualified = `${graphPath}/${name}`;
  return ctx.names.has(qualified) ? undefined : qualified;
}

function skip(ctx: ReadContext, name: string, reason: string): false {
  noteSkipped(ctx, name, reason);
  return false;
}

function noteSkipped(ctx: ReadContext, name: string, reason: string): void {
  if (ctx.skipped.length < MAX_SKIP_NOTES) ctx.skipped.push({ name, reason });
}
