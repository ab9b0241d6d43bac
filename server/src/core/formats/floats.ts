// Scalar decoders for the small float formats (IEEE half, bfloat16, float8), shared by every container.

export const f16Table = buildF16Table();

function buildF16Table(): Float32Array {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[h] = mantissa ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
}

/** IEEE half precision bits to a number. */
export function f16ToNumber(bits: number): number {
  return f16Table[bits & 0xffff]!;
}

export function f8e4m3ToNumber(b: number): number {
  // OCP "fn" variant as used by PyTorch float8_e4m3fn: bias 7, no infinities, S.1111.111 is NaN.
  const sign = b & 0x80 ? -1 : 1;
  const exponent = (b >> 3) & 0xf;
  const mantissa = b & 0x7;
  if (exponent === 0xf && mantissa === 0x7) return NaN;
  if (exponent === 0) return sign * mantissa * 2 ** -9;
  return sign * (1 + mantissa / 8) * 2 ** (exponent - 7);
}

export function f8e5m2ToNumber(b: number): number {
  // The top byte of an IEEE half.
  return f16ToNumber(b << 8);
}

const bf16Scratch = new DataView(new ArrayBuffer(4));
export function bf16ToNumber(bits: number): number {
  bf16Scratch.setUint32(0, (bits & 0xffff) << 16, true);
  return bf16Scratch.getFloat32(0, true);
}

