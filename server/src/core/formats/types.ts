// Plain-data descriptions of tensors and of what a container parser found, shared by all formats.
import type { DType } from './dtypes';

export type WeightFormat = 'safetensors' | 'gguf' | 'pytorch-zip' | 'pytorch-legacy' | 'torchscript' | 'onnx';

/** Where one tensor's bytes are and how to decode them. Produced by every container parser. */
export interface TensorInfo {
  /** Name as stored in the container. */
  name: string;
  dtype: DType;
  /** Logical shape, outermost dimension first (PyTorch order; GGUF's ne[] is reversed into this). */
  shape: number[];
  /** Path of the file that holds the bytes. */
  file: string;
  /** Absolute byte offset of the first element in `file`. */
  dataOffset: number;
  byteLength: number;
  /** Element strides when the tensor is not C-contiguous (PyTorch views); absent means contiguous. */
  strides?: number[];
}

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/** A supply-chain or safety fact found while reading a file (dangerous pickle global, code in an archive, ...). */
export interface SecurityFinding {
  severity: Severity;
  /** Stable machine code, e.g. `pickle-dangerous-global`, `torchscript-code`. */
  code: string;
  file: string;
  message: string;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
