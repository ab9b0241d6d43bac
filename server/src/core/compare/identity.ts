// Exact-identity tests that need no statistics: same file bytes, same decoded tensor values in
// another container, or the same values up to the rounding grid of a lower-precision format.
import type { Fingerprint, TensorDigest } from '../fingerprint/types';
import type { MatrixPair, TokenRowsPair, VectorPair } from './pairing';

/** Weight files' sha256 multisets are equal (and known on both sides). */
export function sameWeightFiles(a: Fingerprint, b: Fingerprint): boolean {
  const hashes = (fp: Fingerprint) => fp.files.filter((f) => f.role === 'weights').map((f) => f.sha256);
  const ha = hashes(a);
  const hb = hashes(b);
  if (ha.length === 0 || ha.length !== hb.length || ha.some((h) => !h) || hb.some((h) => !h)) return false;
  return [...ha].sort().join() === [...hb].sort().join();
}

/** Tensors that carry no learned parameters of their own (causal-mask buffers of older transformers). */
function isBuffer(t: TensorDigest): boolean {
  return t.role === 'other' && /(^|\.)attn\.(masked_)?bias$/.test(t.name);
}

function digestKey(t: TensorDigest): string {
  return t.role === 'other' ? `other|${t.name}` : `${t.role}|${t.layer ?? ''}|${/bias$/.test(t.name) ? 'bias' : 'weight'}`;
}

export interface DigestComparison {
  shared: number;
  equal: number;
  onlyA: string[];
  onlyB: string[];
  shapeMismatches: number;
}

/**
 * Compares per-tensor digests of canonically decoded values, keyed by canonical role so that names of
 * different containers meet. Buffers and an lm_head tied to the embedding (same digest) are not extras.
 */
export function compareTensorDigests(a: Fingerprint, b: Fingerprint): DigestComparison {
  const index = (fp: Fingerprint) => {
    const map = new Map<string, TensorDigest>();
    const embed = fp.tensors.find((t) => t.role === 'embed');
    for (const t of fp.tensors) {
      if (isBuffer(t)) continue;
      if (t.role === 'lm_head' && embed && t.digest === embed.digest) continue;
      map.set(digestKey(t), t);
    }
    return map;
  };
  const ia = index(a);
  const ib = index(b);
  let shared = 0;
  let equal = 0;
  let shapeMismatches = 0;
  for (const [key, ta] of ia) {
    const tb = ib.get(key);
    if (!tb) continue;
    shared++;
    if (ta.shape.join('x') !== tb.shape.join('x')) shapeMismatches++;
    else if (ta.digest === tb.digest) equal++;
  }
  return {
    shared,
    equal,
    onlyA: [...ia.keys()].filter((k) => !ib.has(k)),
    onlyB: [...ib.keys()].filter((k) => !ia.has(k)),
    shapeMismatches,
  };
}

/**
 * Relative RMS rounding error a value set shows after a round trip through each storage type
 * (measured on Gaussian weights, with headroom). A difference above this is more than rounding.
 */
const ROUNDING_NOISE: Readonly<Record<string, number>> = {
  F64: 1e-12, F32: 1e-6, BF16: 8e-3, F16: 1.2e-3, F8_E4M3: 0.07, F8_E5M2: 0.14,
  Q8_0: 0.012, Q8_1: 0.012, Q8_K: 0.012, Q6_K: 0.035, Q5_0: 0.06, Q5_1: 0.06, Q5_K: 0.06,
  Q4_0: 0.13, Q4_1: 0.13, Q4_K: 0.13, Q3_K: 0.25, Q2_K: 0.45,
};

export function roundingNoise(dtype: string): number | undefined {
  return ROUNDING_NOISE[dtype];
}

export interface QuantizationCheck {
  /** Every compared signal differs by no more than the coarser side's rounding grid. */
  withinGrid: boolean;
  /** Some compared tensors are stored at different precision. */
  precisionDiffers: boolean;
  /** Which side holds the finer values (the parent of a quantization). */
  finer?: 'a' | 'b';
  worstRelativeError: number;
  compared: number;
  detail: string;
}

function relativeRmsError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    diff += d * d;
    norm += a[i]! * a[i]!;
  }
  return norm > 0 ? Math.sqrt(diff / norm) : diff > 0 ? Infinity : 0;
}

/** Is B (or A) a lower-precision copy of the other? Judged on every index-aligned signal pair. */
export function checkQuantization(vectors: readonly VectorPair[], matrices: readonly MatrixPair[], tokens: readonly TokenRowsPair[]): QuantizationCheck {
  const pairs: Array<{ a: ArrayLike<number>; b: ArrayLike<number>; dtypeA: string; dtypeB: string }> = [
    ...vectors.map((v) => ({ a: v.a.values, b: v.b.values, dtypeA: v.a.dtype, dtypeB: v.b.dtype })),
    ...matrices.map((m) => ({ a: m.a.values, b: m.b.values, dtypeA: m.a.dtype, dtypeB: m.b.dtype })),
    ...tokens.filter((t) => t.cols.a === t.cols.b && t.tokens.length > 0).map((t) => ({ a: t.a, b: t.b, dtypeA: t.dtype.a, dtypeB: t.dtype.b })),
  ];
  let withinGrid = pairs.length > 0;
  let precisionDiffers = false;
  let finerVotes = 0;
  let worst = 0;
  for (const p of pairs) {
    const noiseA = roundingNoise(p.dtypeA) ?? 1e-6;
    const noiseB = roundingNoise(p.dtypeB) ?? 1e-6;
    const err = relativeRmsError(p.a, p.b);
    worst = Math.max(worst, err);
    if (err > Math.max(noiseA, noiseB, 1e-6)) withinGrid = false;
    if (p.dtypeA !== p.dtypeB) {
      precisionDiffers = true;
      finerVotes += noiseA < noiseB ? 1 : noiseA > noiseB ? -1 : 0;
    }
  }
  return {
    withinGrid,
    precisionDiffers,
    finer: finerVotes > 0 ? 'a' : finerVotes < 0 ? 'b' : undefined,
    worstRelativeError: worst,
    compared: pairs.length,
    detail: `${pairs.length} signal pair(s), worst relative RMS difference ${worst.toExponential(2)}`,
  };
}
