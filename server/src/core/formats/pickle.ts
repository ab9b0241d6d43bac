// A non-executing pickle reader (protocols 0-5): a symbolic stack machine that turns opcodes into
// plain data. Globals are recorded as names and never resolved; calls become symbolic Call values.
import { ModelFormatError } from '../errors';
import { BinaryCursor } from '../io/binaryReader';
import type { ByteSource } from '../io/byteSource';
import { appendAll } from '../util/arrays';

export type PickleValue = null | boolean | number | bigint | string | PickleObject;

export type PickleObject =
  | PickleBytes
  | PickleTuple
  | PickleList
  | PickleDict
  | PickleSet
  | PickleGlobal
  | PickleCall
  | PicklePersistentRef
  | PickleExtensionRef
  | PickleOutOfBandBuffer;

export interface PickleBytes {
  kind: 'bytes';
  bytes: Uint8Array;
  /** BYTEARRAY8 (a Python bytearray) rather than bytes. */
  mutable: boolean;
}
export interface PickleTuple {
  kind: 'tuple';
  items: PickleValue[];
}
export interface PickleList {
  kind: 'list';
  items: PickleValue[];
}
export interface PickleDict {
  kind: 'dict';
  entries: Array<[PickleValue, PickleValue]>;
}
export interface PickleSet {
  kind: 'set';
  items: PickleValue[];
  frozen: boolean;
}
/** A `module.name` reference. Only a symbol: nothing is imported or looked up. */
export interface PickleGlobal {
  kind: 'global';
  module: string;
  name: string;
}
export type CallOpcode = 'REDUCE' | 'NEWOBJ' | 'NEWOBJ_EX' | 'INST' | 'OBJ';
/** What the real unpickler would have called, with what; plus what was later stored into the result. */
export interface PickleCall {
  kind: 'call';
  callee: PickleValue;
  args: PickleValue;
  kwargs?: PickleValue;
  via: CallOpcode;
  /** State given by BUILD (the object's __dict__ or __setstate__ argument). */
  state?: PickleValue;
  /** Items added by APPEND/APPENDS (list subclasses). */
  listItems: PickleValue[];
  /** Items added by SETITEM/SETITEMS (OrderedDict and other dict subclasses). */
  dictItems: Array<[PickleValue, PickleValue]>;
}
/** PERSID/BINPERSID: the object the unpickler's persistent_load would return for `id` (torch: storages). */
export interface PicklePersistentRef {
  kind: 'persistent';
  id: PickleValue;
}
/** EXT1/2/4: a copyreg extension code, which names a global only through a runtime registry. */
export interface PickleExtensionRef {
  kind: 'extension';
  code: number;
}
/** NEXT_BUFFER: an out-of-band buffer the caller would have to supply. */
export interface PickleOutOfBandBuffer {
  kind: 'buffer';
  readonly: boolean;
}

export type GlobalOpcode = 'GLOBAL' | 'STACK_GLOBAL' | 'INST' | 'EXT';

/** One import the pickle asks for, and how it asked. */
export interface PickleGlobalRef {
  module: string;
  name: string;
  opcode: GlobalOpcode;
  /** Absolute offset of the opcode in the file. */
  offset: number;
  /** STACK_GLOBAL whose module or name string came out of the memo (an indirection scanners miss). */
  operandsFromMemo: boolean;
  /** False when the names are not plain strings (STACK_GLOBAL on other values, EXT codes): unknown target. */
  resolved: boolean;
}

export interface PickleLimits {
  maxOpcodes: number;
  maxStack: number;
  maxMarks: number;
  maxMemo: number;
  maxContainerItems: number;
  /** Deepest nesting of containers and calls; deeper input is a nesting bomb. */
  maxNesting: number;
  /** Longest integer (LONG1/LONG4 bytes or decimal digits of INT/LONG). */
  maxIntegerBytes: number;
}

export const DEFAULT_PICKLE_LIMITS: Readonly<PickleLimits> = {
  maxOpcodes: 50_000_000,
  maxStack: 1 << 20,
  maxMarks: 4096,
  maxMemo: 1 << 22,
  maxContainerItems: 1 << 24,
  maxNesting: 1000,
  maxIntegerBytes: 4096,
};

/** Largest single pickle read from a file (a state dict of many thousands of tensors is a few MB). */
export const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

export interface PickleResult {
  value: PickleValue;
  globals: PickleGlobalRef[];
  /** Absolute offsets of the first opcode and of the byte after STOP. */
  start: number;
  end: number;
  protocol: number;
  opcodeCount: number;
  /** Framing no pickler writes (opcodes straddling a FRAME end, overlapping frames): scanner evasions. */
  frameAnomalies: PickleAnomaly[];
}

/** Something legal for CPython's unpickler but never written by a pickler: a sign of a crafted file. */
export interface PickleAnomaly {
  /** Absolute offset of the opcode concerned. */
  offset: number;
  message: string;
}

/** A pickle that cannot be read. Carries every global met before the fault (they are still findings). */
export class PickleError extends ModelFormatError {
  constructor(
    file: string,
    /** What is wrong, without the file and offset prefix. */
    readonly reason: string,
    offset: number,
    readonly globals: PickleGlobalRef[],
    /** The bytes ended before STOP (more bytes might complete it). */
    readonly truncated: boolean,
    readonly frameAnomalies: PickleAnomaly[] = [],
  ) {
    super(file, `pickle: ${reason}`, offset);
    this.name = 'PickleError';
  }
}

export interface WalkOptions {
  /** Where the pickle starts in `bytes`. */
  start?: number;
  /** Absolute file offset of bytes[0], for offsets in results and errors. */
  baseOffset?: number;
  limits?: Partial<PickleLimits>;
}

const HIGHEST_PROTOCOL = 5;

/** Opcode bytes by pickletools' names (so errors can be matched against its disassembly). */
export const PICKLE_OPCODES = {
  MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32, FLOAT: 0x46, INT: 0x49, BININT: 0x4a,
  BININT1: 0x4b, LONG: 0x4c, BININT2: 0x4d, NONE: 0x4e, PERSID: 0x50, BINPERSID: 0x51, REDUCE: 0x52,
  STRING: 0x53, BINSTRING: 0x54, SHORT_BINSTRING: 0x55, UNICODE: 0x56, BINUNICODE: 0x58, APPEND: 0x61,
  BUILD: 0x62, GLOBAL: 0x63, DICT: 0x64, EMPTY_DICT: 0x7d, APPENDS: 0x65, GET: 0x67, BINGET: 0x68,
  INST: 0x69, LONG_BINGET: 0x6a, LIST: 0x6c, EMPTY_LIST: 0x5d, OBJ: 0x6f, PUT: 0x70, BINPUT: 0x71,
  LONG_BINPUT: 0x72, SETITEM: 0x73, TUPLE: 0x74, EMPTY_TUPLE: 0x29, SETITEMS: 0x75, BINFLOAT: 0x47,
  PROTO: 0x80, NEWOBJ: 0x81, EXT1: 0x82, EXT2: 0x83, EXT4: 0x84, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87,
  NEWTRUE: 0x88, NEWFALSE: 0x89, LONG1: 0x8a, LONG4: 0x8b, BINBYTES: 0x42, SHORT_BINBYTES: 0x43,
  SHORT_BINUNICODE: 0x8c, BINUNICODE8: 0x8d, BINBYTES8: 0x8e, EMPTY_SET: 0x8f, ADDITEMS: 0x90,
  FROZENSET: 0x91, NEWOBJ_EX: 0x92, STACK_GLOBAL: 0x93, MEMOIZE: 0x94, FRAME: 0x95, BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97, READONLY_BUFFER: 0x98,
} as const;

const OP = PICKLE_OPCODES;
const OPCODE_NAMES = new Map<number, string>(Object.entries(OP).map(([name, code]) => [code, name]));

/** Reads one pickle (up to and including its STOP) without executing anything. */
export function walkPickle(bytes: Uint8Array, fileName: string, options: WalkOptions = {}): PickleResult {
  return new PickleMachine(bytes, fileName, options).run();
}

/** Reads consecutive pickles until the bytes end (torch's legacy format writes several in a row). */
export function walkPickleStream(bytes: Uint8Array, fileName: string, options: WalkOptions & { maxPickles?: number } = {}): PickleResult[] {
  const results: PickleResult[] = [];
  const maxPickles = options.maxPickles ?? 64;
  let start = options.start ?? 0;
  while (start < bytes.length) {
    if (results.length >= maxPickles) {
      throw new ModelFormatError(fileName, `more than ${maxPickles} pickles in one stream`, (options.baseOffset ?? 0) + start);
    }
    try {
      results.push(walkPickle(bytes, fileName, { ...options, start }));
    } catch (err) {
      if (err instanceof PickleError) {
        // Earlier pickles' globals belong in the report as much as the broken one's.
        const globals = appendAll(results.flatMap((r) => r.globals), err.globals);
        throw new PickleError(err.file, err.reason, err.offset ?? 0, globals, err.truncated, appendAll(results.flatMap((r) => r.frameAnomalies), err.frameAnomalies));
      }
      throw err;
    }
    start = results[results.length - 1]!.end - (options.baseOffset ?? 0);
  }
  return results;
}

/**
 * Reads one pickle starting at `offset` of a source whose length is unknown in advance: reads a window,
 * and if the pickle runs past it, re-reads a four times larger one (bounded by MAX_PICKLE_BYTES).
 */
export async function walkPickleAt(source: ByteSource, offset: number, limits?: Partial<PickleLimits>): Promise<PickleResult> {
  const available = Math.min(source.sizeBytes - offset, MAX_PICKLE_BYTES);
  let window = Math.min(available, 64 * 1024);
  for (;;) {
    const bytes = await source.read(offset, window);
    try {
      return walkPickle(bytes, source.name, { baseOffset: offset, limits });
    } catch (err) {
      if (!(err instanceof PickleError) || !err.truncated || window >= available) throw err;
      window = Math.min(available, window * 4);
    }
  }
}

/** The operand stack with MARK frames, remembering which values were fetched from the memo. */
class SymbolicStack {
  private readonly values: PickleValue[] = [];
  private readonly fromMemo: boolean[] = [];
  private readonly marks: number[] = [];

  constructor(
    private readonly limits: PickleLimits,
    private readonly fail: (message: string) => never,
  ) {}

  /** Items above the innermost mark (the frame Python's unpickler would see as its stack). */
  get frameSize(): number {
    return this.values.length - (this.marks[this.marks.length - 1] ?? 0);
  }

  push(value: PickleValue, fromMemo = false): void {
    if (this.values.length >= this.limits.maxStack) this.fail(`stack exceeds ${this.limits.maxStack} items`);
    this.values.push(value);
    this.fromMemo.push(fromMemo);
  }

  pop(opName: string): PickleValue {
    if (this.frameSize <= 0) this.fail(`stack underflow at ${opName}`);
    this.fromMemo.pop();
    return this.values.pop()!;
  }

  /** Pops the top value and whether it came from the memo. */
  popWithOrigin(opName: string): { value: PickleValue; fromMemo: boolean } {
    if (this.frameSize <= 0) this.fail(`stack underflow at ${opName}`);
    const fromMemo = this.fromMemo.pop()!;
    return { value: this.values.pop()!, fromMemo };
  }

  top(opName: string): PickleValue {
    if (this.frameSize <= 0) this.fail(`stack underflow at ${opName}`);
    return this.values[this.values.length - 1]!;
  }

  mark(): void {
    if (this.marks.length >= this.limits.maxMarks) this.fail(`more than ${this.limits.maxMarks} nested MARKs`);
    this.marks.push(this.values.length);
  }

  /** Pops everything above the innermost mark, and the mark. */
  popMark(opName: string): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) this.fail(`${opName} without a MARK`);
    this.fromMemo.length = mark;
    return this.values.splice(mark);
  }
}

class PickleMachine {
  private readonly cursor: BinaryCursor;
  private readonly limits: PickleLimits;
  private readonly stack: SymbolicStack;
  private readonly memo = new Map<number, PickleValue>();
  private readonly globals: PickleGlobalRef[] = [];
  /** Nesting depth of each container built so far (plain values have depth 0). */
  private readonly depths = new WeakMap<object, number>();
  private opcodeOffset = 0;
  private protocol = 0;
  /** Cursor position where the current FRAME ends; undefined outside frames. */
  private frameEnd: number | undefined;
  private readonly frameAnomalies: PickleAnomaly[] = [];

  constructor(
    bytes: Uint8Array,
    private readonly fileName: string,
    options: WalkOptions,
  ) {
    this.cursor = new BinaryCursor(bytes, fileName, options.baseOffset ?? 0);
    this.cursor.position = options.start ?? 0;
    this.limits = { ...DEFAULT_PICKLE_LIMITS, ...options.limits };
    this.stack = new SymbolicStack(this.limits, (m) => this.fail(m));
  }

  private fail(message: string, truncated = false): never {
    throw new PickleError(this.fileName, message, this.cursor.baseOffset + this.opcodeOffset, [...this.globals], truncated, [...this.frameAnomalies]);
  }

  /** Bounds check for operands: running out of bytes is truncation, not a malformed opcode. */
  private need(length: number, what: string): void {
    if (!Number.isSafeInteger(length) || length < 0) this.fail(`invalid ${what} length ${length}`);
    if (length > this.cursor.remaining) {
      this.fail(`${what} of ${length} bytes runs past the end of the data (${this.cursor.remaining} bytes left)`, true);
    }
  }
  private u8(): number {
    this.need(1, 'operand');
    return this.cursor.u8();
  }
  private u16(): number {
    this.need(2, 'operand');
    return this.cursor.u16();
  }
  private u32(): number {
    this.need(4, 'operand');
    return this.cursor.u32();
  }
  private i32(): number {
    this.need(4, 'operand');
    return this.cursor.i32();
  }
  private u64(what: string): number {
    this.need(8, 'operand');
    const view = new DataView(this.cursor.bytes.buffer, this.cursor.bytes.byteOffset + this.cursor.position, 8);
    const value = view.getBigUint64(0, true);
    this.cursor.position += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} length ${value} is absurd`);
    return Number(value);
  }
  private take(length: number, what: string): Uint8Array {
    this.need(length, what);
    return this.cursor.take(length);
  }
  /** Text-mode operand: bytes up to the next newline (excluded, with a trailing CR stripped). */
  private line(what: string, decode: (bytes: Uint8Array) => string = latin1): string {
    const bytes = this.cursor.bytes;
    const newline = bytes.indexOf(0x0a, this.cursor.position);
    if (newline < 0) this.fail(`${what} has no terminating newline`, true);
    let text = decode(bytes.subarray(this.cursor.position, newline));
    this.cursor.position = newline + 1;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    return text;
  }

  private depthOf(value: PickleValue): number {
    return typeof value === 'object' && value !== null ? (this.depths.get(value) ?? 1) : 0;
  }
  /** Records that `container` now holds `items`; refuses nesting bombs before they reach a consumer. */
  private nest<T extends PickleObject>(container: T, items: readonly PickleValue[]): T {
    let depth = this.depths.get(container) ?? 1;
    for (const item of items) depth = Math.max(depth, this.depthOf(item) + 1);
    if (depth > this.limits.maxNesting) this.fail(`values nest deeper than ${this.limits.maxNesting} levels`);
    this.depths.set(container, depth);
    return container;
  }
  private checkItems(count: number): void {
    if (count > this.limits.maxContainerItems) this.fail(`container exceeds ${this.limits.maxContainerItems} items`);
  }

  private anomaly(offset: number, message: string): void {
    // A handful proves the point; a hostile file must not grow this list without bound.
    if (this.frameAnomalies.length < 16) this.frameAnomalies.push({ offset: this.cursor.baseOffset + offset, message });
  }

  /**
   * CPython's C unpickler treats FRAME only as a read-ahead hint: opcodes may straddle a frame's end
   * and still run. Walk on regardless (every opcode is seen), and note the straddle as an evasion.
   */
  private checkFrameBoundary(previousOpcode: number): void {
    if (this.frameEnd === undefined) return;
    const position = this.cursor.position;
    if (position > this.frameEnd) {
      this.anomaly(previousOpcode, `opcode at byte ${this.cursor.baseOffset + previousOpcode} runs across the end of its FRAME (byte ${this.cursor.baseOffset + this.frameEnd})`);
    }
    if (position >= this.frameEnd) this.frameEnd = undefined;
  }

  private recordGlobal(module: string, name: string, opcode: GlobalOpcode, operandsFromMemo = false, resolved = true): PickleGlobal {
    this.globals.push({ module, name, opcode, offset: this.cursor.baseOffset + this.opcodeOffset, operandsFromMemo, resolved });
    return { kind: 'global', module, name };
  }

  private memoGet(index: number): PickleValue {
    if (!this.memo.has(index)) this.fail(`memo has no entry ${index}`);
    return this.memo.get(index)!;
  }
  private memoPut(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0) this.fail(`invalid memo index ${index}`);
    if (!this.memo.has(index) && this.memo.size >= this.limits.maxMemo) this.fail(`memo exceeds ${this.limits.maxMemo} entries`);
    this.memo.set(index, this.stack.top('PUT'));
  }

  private call(callee: PickleValue, args: PickleValue, via: CallOpcode, kwargs?: PickleValue): PickleCall {
    const value: PickleCall = { kind: 'call', callee, args, via, listItems: [], dictItems: [] };
    if (kwargs !== undefined) value.kwargs = kwargs;
    return this.nest(value, kwargs === undefined ? [callee, args] : [callee, args, kwargs]);
  }

  private pairs(items: PickleValue[], opName: string): Array<[PickleValue, PickleValue]> {
    if (items.length % 2 !== 0) this.fail(`${opName} needs key/value pairs but got ${items.length} items`);
    const out: Array<[PickleValue, PickleValue]> = [];
    for (let i = 0; i < items.length; i += 2) out.push([items[i]!, items[i + 1]!]);
    return out;
  }

  private appendTo(target: PickleValue, items: PickleValue[], opName: string): void {
    if (typeof target !== 'object' || target === null) this.fail(`${opName} on a ${describeValue(target)}`);
    if (target.kind === 'list') {
      this.checkItems(target.items.length + items.length);
      appendAll(target.items, items);
    } else if (target.kind === 'call') {
      this.checkItems(target.listItems.length + items.length);
      appendAll(target.listItems, items);
    } else {
      this.fail(`${opName} on a ${target.kind}`);
    }
    this.nest(target, items);
  }

  private setItemsOn(target: PickleValue, entries: Array<[PickleValue, PickleValue]>, opName: string): void {
    if (typeof target !== 'object' || target === null) this.fail(`${opName} on a ${describeValue(target)}`);
    if (target.kind === 'dict') {
      this.checkItems(target.entries.length + entries.length);
      appendAll(target.entries, entries);
    } else if (target.kind === 'call') {
      this.checkItems(target.dictItems.length + entries.length);
      appendAll(target.dictItems, entries);
    } else {
      this.fail(`${opName} on a ${target.kind}`);
    }
    this.nest(target, entries.flat());
  }

  private integerFromText(text: string, what: string): number | bigint {
    const digits = text.trim();
    if (!/^[+-]?\d+$/.test(digits)) this.fail(`${what} operand ${JSON.stringify(digits.slice(0, 40))} is not an integer`);
    if (digits.length > this.limits.maxIntegerBytes) this.fail(`${what} has ${digits.length} digits`);
    return normalizeInteger(BigInt(digits));
  }

  private littleEndianInteger(bytes: Uint8Array): number | bigint {
    if (bytes.length > this.limits.maxIntegerBytes) this.fail(`integer of ${bytes.length} bytes`);
    if (bytes.length === 0) return 0;
    let value = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
    if (bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(bytes.length * 8);
    return normalizeInteger(value);
  }

  run(): PickleResult {
    const start = this.cursor.baseOffset + this.cursor.position;
    const stack = this.stack;
    for (let count = 1; ; count++) {
      if (count > this.limits.maxOpcodes) this.fail(`more than ${this.limits.maxOpcodes} opcodes`);
      this.checkFrameBoundary(this.opcodeOffset);
      this.opcodeOffset = this.cursor.position;
      if (this.cursor.remaining === 0) this.fail('data ends before the STOP opcode', true);
      const op = this.cursor.u8();
      switch (op) {
        case OP.PROTO: {
          const version = this.u8();
          if (version > HIGHEST_PROTOCOL) this.fail(`unsupported pickle protocol ${version}`);
          this.protocol = version;
          break;
        }
        case OP.FRAME: {
          // Frames only batch reads. A frame longer than the data is not rejected here: walking on
          // until the bytes really end still reports the globals before the cut (nullifAI).
          const length = this.u64('frame');
          if (this.frameEnd !== undefined && this.opcodeOffset < this.frameEnd) {
            this.anomaly(this.opcodeOffset, `FRAME at byte ${this.cursor.baseOffset + this.opcodeOffset} starts inside the previous frame (which ends at byte ${this.cursor.baseOffset + this.frameEnd})`);
          }
          this.frameEnd = this.cursor.position + length;
          break;
        }
        case OP.STOP: {
          const value = stack.pop('STOP');
          if (this.frameEnd !== undefined && this.frameEnd > this.cursor.position) {
            this.anomaly(this.opcodeOffset, `STOP at byte ${this.cursor.baseOffset + this.opcodeOffset} comes before the end of its FRAME (byte ${this.cursor.baseOffset + this.frameEnd}): bytes hidden after the pickle`);
          }
          const end = this.cursor.baseOffset + this.cursor.position;
          return { value, globals: this.globals, start, end, protocol: this.protocol, opcodeCount: count, frameAnomalies: this.frameAnomalies };
        }
        case OP.MARK:
          stack.mark();
          break;
        case OP.POP:
          // Python's unpickler pops the mark itself when the current frame is empty.
          if (stack.frameSize > 0) stack.pop('POP');
          else stack.popMark('POP');
          break;
        case OP.POP_MARK:
          stack.popMark('POP_MARK');
          break;
        case OP.DUP:
          stack.push(stack.top('DUP'));
          break;

        case OP.NONE:
          stack.push(null);
          break;
        case OP.NEWTRUE:
          stack.push(true);
          break;
        case OP.NEWFALSE:
          stack.push(false);
          break;
        case OP.INT: {
          const text = this.line('INT');
          // Protocol 0 spells booleans as I01 / I00.
          if (text === '01') stack.push(true);
          else if (text === '00') stack.push(false);
          else stack.push(this.integerFromText(text, 'INT'));
          break;
        }
        case OP.LONG:
          stack.push(this.integerFromText(this.line('LONG').replace(/L$/, ''), 'LONG'));
          break;
        case OP.BININT:
          stack.push(this.i32());
          break;
        case OP.BININT1:
          stack.push(this.u8());
          break;
        case OP.BININT2:
          stack.push(this.u16());
          break;
        case OP.LONG1:
          stack.push(this.littleEndianInteger(this.take(this.u8(), 'LONG1')));
          break;
        case OP.LONG4: {
          const length = this.i32();
          if (length < 0) this.fail(`negative LONG4 length ${length}`);
          stack.push(this.littleEndianInteger(this.take(length, 'LONG4')));
          break;
        }
        case OP.FLOAT:
          stack.push(this.floatFromText(this.line('FLOAT')));
          break;
        case OP.BINFLOAT: {
          const bytes = this.take(8, 'BINFLOAT');
          stack.push(new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, false));
          break;
        }

        case OP.STRING:
          stack.push(this.quotedString(this.line('STRING')));
          break;
        case OP.BINSTRING: {
          const length = this.i32();
          if (length < 0) this.fail(`negative BINSTRING length ${length}`);
          stack.push(latin1(this.take(length, 'BINSTRING')));
          break;
        }
        case OP.SHORT_BINSTRING:
          stack.push(latin1(this.take(this.u8(), 'SHORT_BINSTRING')));
          break;
        case OP.UNICODE:
          stack.push(rawUnicodeEscape(this.line('UNICODE')));
          break;
        case OP.SHORT_BINUNICODE:
          stack.push(utf8(this.take(this.u8(), 'SHORT_BINUNICODE')));
          break;
        case OP.BINUNICODE:
          stack.push(utf8(this.take(this.u32(), 'BINUNICODE')));
          break;
        case OP.BINUNICODE8:
          stack.push(utf8(this.take(this.u64('BINUNICODE8'), 'BINUNICODE8')));
          break;
        case OP.SHORT_BINBYTES:
          stack.push({ kind: 'bytes', bytes: this.take(this.u8(), 'SHORT_BINBYTES'), mutable: false });
          break;
        case OP.BINBYTES:
          stack.push({ kind: 'bytes', bytes: this.take(this.u32(), 'BINBYTES'), mutable: false });
          break;
        case OP.BINBYTES8:
          stack.push({ kind: 'bytes', bytes: this.take(this.u64('BINBYTES8'), 'BINBYTES8'), mutable: false });
          break;
        case OP.BYTEARRAY8:
          stack.push({ kind: 'bytes', bytes: this.take(this.u64('BYTEARRAY8'), 'BYTEARRAY8'), mutable: true });
          break;
        case OP.NEXT_BUFFER:
          stack.push({ kind: 'buffer', readonly: false });
          break;
        case OP.READONLY_BUFFER: {
          const top = stack.top('READONLY_BUFFER');
          if (typeof top === 'object' && top !== null && top.kind === 'buffer') top.readonly = true;
          break;
        }

        case OP.EMPTY_TUPLE:
          stack.push(this.nest({ kind: 'tuple', items: [] }, []));
          break;
        case OP.TUPLE1:
        case OP.TUPLE2:
        case OP.TUPLE3: {
          const size = op - OP.TUPLE1 + 1;
          const items: PickleValue[] = [];
          for (let i = 0; i < size; i++) items.unshift(stack.pop(OPCODE_NAMES.get(op)!));
          stack.push(this.nest({ kind: 'tuple', items }, items));
          break;
        }
        case OP.TUPLE: {
          const items = stack.popMark('TUPLE');
          stack.push(this.nest({ kind: 'tuple', items }, items));
          break;
        }
        case OP.EMPTY_LIST:
          stack.push(this.nest({ kind: 'list', items: [] }, []));
          break;
        case OP.LIST: {
          const items = stack.popMark('LIST');
          stack.push(this.nest({ kind: 'list', items }, items));
          break;
        }
        case OP.APPEND: {
          const item = stack.pop('APPEND');
          this.appendTo(stack.top('APPEND'), [item], 'APPEND');
          break;
        }
        case OP.APPENDS: {
          const items = stack.popMark('APPENDS');
          this.appendTo(stack.top('APPENDS'), items, 'APPENDS');
          break;
        }
        case OP.EMPTY_DICT:
          stack.push(this.nest({ kind: 'dict', entries: [] }, []));
          break;
        case OP.DICT: {
          const items = stack.popMark('DICT');
          stack.push(this.nest({ kind: 'dict', entries: this.pairs(items, 'DICT') }, items));
          break;
        }
        case OP.SETITEM: {
          const value = stack.pop('SETITEM');
          const key = stack.pop('SETITEM');
          this.setItemsOn(stack.top('SETITEM'), [[key, value]], 'SETITEM');
          break;
        }
        case OP.SETITEMS: {
          const items = stack.popMark('SETITEMS');
          this.setItemsOn(stack.top('SETITEMS'), this.pairs(items, 'SETITEMS'), 'SETITEMS');
          break;
        }
        case OP.EMPTY_SET:
          stack.push(this.nest({ kind: 'set', items: [], frozen: false }, []));
          break;
        case OP.ADDITEMS: {
          const items = stack.popMark('ADDITEMS');
          const target = stack.top('ADDITEMS');
          if (typeof target !== 'object' || target === null || target.kind !== 'set') this.fail(`ADDITEMS on a ${describeValue(target)}`);
          this.checkItems(target.items.length + items.length);
          appendAll(target.items, items);
          this.nest(target, items);
          break;
        }
        case OP.FROZENSET: {
          const items = stack.popMark('FROZENSET');
          stack.push(this.nest({ kind: 'set', items, frozen: true }, items));
          break;
        }

        case OP.GET:
          stack.push(this.memoGet(Number(this.integerFromText(this.line('GET'), 'GET'))), true);
          break;
        case OP.BINGET:
          stack.push(this.memoGet(this.u8()), true);
          break;
        case OP.LONG_BINGET:
          stack.push(this.memoGet(this.u32()), true);
          break;
        case OP.PUT:
          this.memoPut(Number(this.integerFromText(this.line('PUT'), 'PUT')));
          break;
        case OP.BINPUT:
          this.memoPut(this.u8());
          break;
        case OP.LONG_BINPUT:
          this.memoPut(this.u32());
          break;
        case OP.MEMOIZE:
          this.memoPut(this.memo.size);
          break;

        case OP.GLOBAL: {
          // Python 3 decodes protocol 0 names as UTF-8.
          const module = this.line('GLOBAL module', utf8);
          const name = this.line('GLOBAL name', utf8);
          stack.push(this.recordGlobal(module, name, 'GLOBAL'));
          break;
        }
        case OP.STACK_GLOBAL: {
          const name = stack.popWithOrigin('STACK_GLOBAL');
          const module = stack.popWithOrigin('STACK_GLOBAL');
          const fromMemo = name.fromMemo || module.fromMemo;
          if (typeof module.value === 'string' && typeof name.value === 'string') {
            stack.push(this.recordGlobal(module.value, name.value, 'STACK_GLOBAL', fromMemo));
          } else {
            // picklescan's rule: a target we cannot name is treated as dangerous, not skipped.
            stack.push(this.recordGlobal(`<${describeValue(module.value)}>`, `<${describeValue(name.value)}>`, 'STACK_GLOBAL', fromMemo, false));
          }
          break;
        }
        case OP.EXT1:
        case OP.EXT2:
        case OP.EXT4: {
          const code = op === OP.EXT1 ? this.u8() : op === OP.EXT2 ? this.u16() : this.i32();
          this.recordGlobal('<copyreg extension>', String(code), 'EXT', false, false);
          stack.push({ kind: 'extension', code });
          break;
        }
        case OP.INST: {
          const module = this.line('INST module', utf8);
          const name = this.line('INST name', utf8);
          const args = stack.popMark('INST');
          const callee = this.recordGlobal(module, name, 'INST');
          stack.push(this.call(callee, this.nest({ kind: 'tuple', items: args }, args), 'INST'));
          break;
        }
        case OP.OBJ: {
          const items = stack.popMark('OBJ');
          if (items.length === 0) this.fail('OBJ without a class');
          const args = items.slice(1);
          stack.push(this.call(items[0]!, this.nest({ kind: 'tuple', items: args }, args), 'OBJ'));
          break;
        }
        case OP.REDUCE: {
          const args = stack.pop('REDUCE');
          const callee = stack.pop('REDUCE');
          stack.push(this.call(callee, args, 'REDUCE'));
          break;
        }
        case OP.NEWOBJ: {
          const args = stack.pop('NEWOBJ');
          const cls = stack.pop('NEWOBJ');
          stack.push(this.call(cls, args, 'NEWOBJ'));
          break;
        }
        case OP.NEWOBJ_EX: {
          const kwargs = stack.pop('NEWOBJ_EX');
          const args = stack.pop('NEWOBJ_EX');
          const cls = stack.pop('NEWOBJ_EX');
          stack.push(this.call(cls, args, 'NEWOBJ_EX', kwargs));
          break;
        }
        case OP.BUILD: {
          const state = stack.pop('BUILD');
          const target = stack.top('BUILD');
          if (typeof target === 'object' && target !== null && target.kind === 'call') {
            target.state = state;
            this.nest(target, [state]);
          }
          break;
        }
        case OP.PERSID:
          stack.push({ kind: 'persistent', id: this.line('PERSID') });
          break;
        case OP.BINPERSID: {
          const id = stack.pop('BINPERSID');
          stack.push(this.nest({ kind: 'persistent', id }, [id]));
          break;
        }
        default:
          this.fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
      }
    }
  }

  private floatFromText(text: string): number {
    const t = text.trim().toLowerCase();
    if (t === 'inf' || t === '+inf') return Infinity;
    if (t === '-inf') return -Infinity;
    if (t === 'nan' || t === '-nan' || t === '+nan') return NaN;
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) this.fail(`FLOAT operand ${JSON.stringify(t.slice(0, 40))} is not a number`);
    return Number(t);
  }

  /** Protocol 0 STRING: a Python bytes repr in single or double quotes. */
  private quotedString(text: string): string {
    const quote = text[0];
    if (text.length < 2 || (quote !== "'" && quote !== '"') || text[text.length - 1] !== quote) {
      this.fail('STRING operand is not quoted');
    }
    return unescapePythonBytes(text.slice(1, -1));
  }
}

/** Python integers: a number when exactly representable, otherwise a bigint. */
function normalizeInteger(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });
function utf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}
/** Byte-per-character decoding, lossless for Python 2 `str` and protocol 0 text. */
function latin1(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\', "'": "'", '"': '"', n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '',
};

function unescapePythonBytes(body: string): string {
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|[\s\S])/g, (whole, esc: string) => {
    if (esc[0] === 'x') return String.fromCharCode(parseInt(esc.slice(1), 16));
    if (/^[0-7]+$/.test(esc)) return String.fromCharCode(parseInt(esc, 8) & 0xff);
    return SIMPLE_ESCAPES[esc] ?? whole;
  });
}

/** Python's raw-unicode-escape codec: only \uXXXX and \UXXXXXXXX are escapes. */
function rawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (whole, short?: string, long?: string) => {
    const code = parseInt(short ?? long ?? '', 16);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** A short description of a value for messages: its type, and a preview of plain values. */
export function describeValue(value: PickleValue): string {
  if (value === null) return 'None';
  if (typeof value === 'string') return `string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value !== 'object') return `${typeof value} ${String(value).slice(0, 40)}`;
  if (value.kind === 'global') return `${value.module}.${value.name}`;
  return value.kind;
}

/** True when `value` is the global `module.name`. */
export function isGlobal(value: PickleValue, module: string, name: string): value is PickleGlobal {
  return typeof value === 'object' && value !== null && value.kind === 'global' && value.module === module && value.name === name;
}

/** Items of a tuple or list, or undefined for anything else. */
export function sequenceItems(value: PickleValue): PickleValue[] | undefined {
  if (typeof value === 'object' && value !== null && (value.kind === 'tuple' || value.kind === 'list')) return value.items;
  return undefined;
}
