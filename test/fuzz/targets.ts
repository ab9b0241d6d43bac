// Fuzz targets shared by the property tests (test/fuzz/readers.test.ts, small fixed budget) and the
// long-running `npm run fuzz` (scripts/fuzz.ts): per format, real seed files (zoo and generated
// fixtures), a fast-check arbitrary of byte mutations, and the contract every reader must keep:
// a parsed result, or a typed error (ModelFormatError / UnsupportedError) whose message names the file.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ModelFormatError, UnsupportedError } from '../../server/src/core/errors';
import { readGgufHeader } from '../../server/src/core/formats/gguf';
import { parseOnnxModel } from '../../server/src/core/formats/onnx';
import { readPytorchCheckpointFrom } from '../../server/src/core/formats/pytorch';
import { readSafetensorsHeader } from '../../server/src/core/formats/safetensors';
import { TensorStore } from '../../server/src/core/formats/tensorStore';
import type { TensorInfo } from '../../server/src/core/formats/types';
import { BufferSource } from '../../server/src/core/io/byteSource';
import { vocabularyFromSentencePieceModel } from '../../server/src/core/tokenizers/sentencepiece';
import { decodeTextFile } from '../../server/src/core/tokenizers/tokenizerFiles';
import { vocabularyFromTokenizerJsonText } from '../../server/src/core/tokenizers/tokenizerJson';
import { encodeGguf } from '../fixtures/ggufWriter';
import { junkFieldOnnx, manyTensorSafetensors, tokenizerJsonWithEntries } from '../fixtures/hostileInputs';
import { buildZip, float32Bytes, legacyCheckpoint, PickleWriter, stateDictPickle, type TensorSpec } from '../fixtures/pickleWriter';
import { zooPath } from '../support/zoo';

export type FuzzFormat = 'safetensors' | 'gguf' | 'pytorch-zip' | 'pickle' | 'onnx' | 'tokenizer-json' | 'sentencepiece';
export const FUZZ_FORMATS: readonly FuzzFormat[] = ['safetensors', 'gguf', 'pytorch-zip', 'pickle', 'onnx', 'tokenizer-json', 'sentencepiece'];

const TENSOR: TensorSpec = { name: 'layer.weight', storageClass: 'FloatStorage', key: '0', numel: 4, offset: 0, shape: [2, 2], stride: [2, 1] };

/** Seed inputs per format: small real files from the zoo, and generated fixtures with every structure. */
export function seedsFor(format: FuzzFormat): Uint8Array[] {
  const zoo = (...parts: string[]): Uint8Array => new Uint8Array(readFileSync(zooPath(...parts)));
  switch (format) {
    case 'safetensors':
      return [zoo('tiny-gpt2', 'model.safetensors'), manyTensorSafetensors(16)];
    case 'gguf':
      return [zoo('tinyllamas-stories260K-gguf', 'stories260K.gguf'),
        encodeGguf({ metadata: [['general.architecture', 'llama'], ['tokenizer.ggml.tokens', ['a', 'b']]], tensors: [{ name: 'w', shape: [2, 32], data: new Float32Array(64).fill(0.5), type: 'Q8_0' }] })];
    case 'pytorch-zip':
      return [zoo('silero-vad-v5', 'silero_vad.jit'),
        buildZip([{ name: 'archive/data.pkl', data: stateDictPickle([TENSOR]) }, { name: 'archive/data/0', data: float32Bytes([1, 2, 3, 4]) }, { name: 'archive/byteorder', data: Buffer.from('little') }])];
    case 'pickle':
      return [zoo('tiny-gpt2', 'pytorch_model.bin'), legacyCheckpoint([TENSOR], [{ key: '0', numel: 4, data: float32Bytes([1, 2, 3, 4]) }]),
        new PickleWriter().proto(4).op('FRAME').u64(20).str('os').op('MEMOIZE').str('system').op('MEMOIZE').op('STACK_GLOBAL').str('id').op('TUPLE1').op('REDUCE').op('STOP').bytes()];
    case 'onnx':
      return [zoo('silero-vad-v5', 'silero_vad.onnx'), junkFieldOnnx(2048)];
    case 'tokenizer-json':
      return [zoo('minilm-all-L6-v2-meta', 'tokenizer.json'), Buffer.from(tokenizerJsonWithEntries(300))];
    case 'sentencepiece':
      return [zoo('tok-openllama-sentencepiece', 'tokenizer.model')];
  }
}

/** Values that make lengths and counts interesting when written over a field. */
const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'duplicate'; at: number; length: number };

/** Positions biased to the first 4 KiB, where headers and pickles live. */
const position = fc.oneof(fc.nat({ max: 4095 }), fc.nat({ max: (1 << 24) - 1 }));

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: position, value: fc.constantFrom(...INTERESTING.map((v) => v & 0xff), 0x2e, 0x7b, 0x22) }),
  fc.record({ kind: fc.constant('u32' as const), at: position, value: fc.constantFrom(...INTERESTING) }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: position, length: fc.integer({ min: 1, max: 256 }) }),
);

/** One fuzz case: which seed, and the mutations applied to it in order. */
export const caseArb = fc.record({ seed: fc.nat(), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 6 }) });
export type FuzzCase = { seed: number; mutations: Mutation[] };

export function applyMutations(seed: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = Uint8Array.from(seed);
  for (const m of mutations) {
    if (bytes.length === 0) break;
    const at = m.at % bytes.length;
    switch (m.kind) {
      case 'flip':
        bytes[at]! ^= 1 << m.bit;
        break;
      case 'set':
        bytes[at] = m.value;
        break;
      case 'u32':
        for (let i = 0; i < 4 && at + i < bytes.length; i++) bytes[at + i] = (m.value >>> (8 * i)) & 0xff;
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
      case 'insert': {
        const out = new Uint8Array(bytes.length + m.bytes.length);
        out.set(bytes.subarray(0, at));
        out.set(m.bytes, at);
        out.set(bytes.subarray(at), at + m.bytes.length);
        bytes = out;
        break;
      }
      case 'duplicate': {
        const chunk = bytes.subarray(at, at + m.length);
        const out = new Uint8Array(bytes.length + chunk.length);
        out.set(bytes.subarray(0, at + chunk.length));
        out.set(chunk, at + chunk.length);
        out.set(bytes.subarray(at + chunk.length), at + 2 * chunk.length);
        bytes = out;
        break;
      }
    }
  }
  return bytes;
}

/** The input of a case: its seed file (by index modulo the seeds) with the mutations applied. */
export function caseInput(seeds: readonly Uint8Array[], c: FuzzCase): Uint8Array {
  return applyMutations(seeds[c.seed % seeds.length]!, c.mutations);
}

/** Decodes up to three tensors (a few elements each), so decoders see mutated layouts too. */
async function touchTensors(tensors: readonly TensorInfo[], source: BufferSource): Promise<void> {
  const store = new TensorStore(tensors.slice(0, 3), async () => source);
  for (const t of tensors.slice(0, 3)) await store.readAll(t.name, 1 << 16);
}

/** Runs the reader of `format` on `bytes` (named `name`); throws whatever the reader throws. */
export async function runReader(format: FuzzFormat, bytes: Uint8Array, name: string): Promise<void> {
  const source = new BufferSource(name, bytes);
  switch (format) {
    case 'safetensors':
      return touchTensors((await readSafetensorsHeader(source)).tensors, source);
    case 'gguf':
      return touchTensors((await readGgufHeader(source)).tensors, source);
    case 'pytorch-zip':
    case 'pickle':
      return touchTensors((await readPytorchCheckpointFrom(source)).tensors, source);
    case 'onnx':
      return touchTensors((await parseOnnxModel(source)).tensors.filter((t) => t.file === name), source);
    case 'tokenizer-json':
      vocabularyFromTokenizerJsonText(decodeTextFile(bytes, name), name);
      return;
    case 'sentencepiece':
      vocabularyFromSentencePieceModel(bytes, name);
      return;
  }
}

/** Undefined when the outcome keeps the contract, else why not (the error is a crash). */
export function contractViolation(err: unknown, name: string): string | undefined {
  if (err === undefined) return undefined;
  if (err instanceof ModelFormatError || err instanceof UnsupportedError) {
    return err.message.includes(name) ? undefined : `typed error without the file name: ${err.message}`;
  }
  return `untyped error: ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err)}`;
}

/** Runs one case and returns the contract violation, if any. */
export async function checkCase(format: FuzzFormat, bytes: Uint8Array, name = `fuzz-input.${format}`): Promise<string | undefined> {
  try {
    await runReader(format, bytes, name);
    return undefined;
  } catch (err) {
    return contractViolation(err, name);
  }
}
