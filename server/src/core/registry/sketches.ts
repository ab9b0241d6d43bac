// Fixed-length weight sketches (SimHash codes) and LSH band keys: what lets a scan retrieve
// candidates from the registry's index without decoding any stored fingerprint.
//
// Every SimHash here is a sparse random projection by feature hashing: element (key, index) adds
// +-value to one of `bits` buckets chosen by a hash of its *name* (norm role and layer, or anchor
// token string), never by its position in the fingerprint. So two models that share most anchor
// strings or layers get nearly the same code even when some anchors or layers differ, and under
// the null of independent weights every bit agrees with probability 1/2 (Charikar's bound
// P[bit differs] = angle / pi holds approximately, because each bucket sums many elements).
import type { Fingerprint, VectorSignal } from '../fingerprint/types';
import { logNormalSf } from '../compare/stats';
import { fmix32, hashString32 } from '../util/hash';

/** Bump when any sketch or band key changes: stored codes of another version are not comparable. */
export const SKETCH_VERSION = 1;

export type SketchKind = 'norm' | 'anchor' | 'profile';

export const SKETCH_KINDS: readonly SketchKind[] = ['norm', 'anchor', 'profile'];

/** Code length in bits per kind, and LSH rows per band (bits per band). */
export const SKETCH_BITS: Readonly<Record<SketchKind, number>> = { norm: 256, anchor: 256, profile: 128 };
const BITS_PER_BAND = 16;
/** Vocabulary MinHash LSH: 16 bands x 8 rows; a pair with Jaccard s collides with P = 1 - (1 - s^8)^16 (0.5 at s ~ 0.71). */
export const VOCAB_BANDS = 16;
const VOCAB_ROWS_PER_BAND = 8;

export type WeightSketches = Partial<Record<SketchKind, Uint8Array>>;

const SEEDS: Readonly<Record<SketchKind, number>> = { norm: 0x6e6f726d, anchor: 0x616e6368, profile: 0x70726f66 };
const NORM_ROLES = new Set(['attn_norm', 'mlp_norm', 'final_norm']);
/** Order statistics kept per norm vector by the permutation-invariant profile. */
const PROFILE_TAIL = 4;
const PROFILE_INNER_QUANTILES = 8;

/** Accumulates a feature-hashed projection; the code is the sign of each bucket sum. */
class SimHashBuilder {
  private readonly sums: Float64Array;
  elements = 0;
  constructor(private readonly bits: number) {
    this.sums = new Float64Array(bits);
  }

  add(key: number, value: number): void {
    if (!Number.isFinite(value)) return;
    const h = fmix32(key);
    this.sums[h % this.bits]! += h & 0x80000000 ? -value : value;
    this.elements++;
  }

  /** The code, or undefined when too few elements fed it (most buckets would be empty, and empty buckets agree spuriously). */
  finish(): Uint8Array | undefined {
    if (this.elements < this.bits) return undefined;
    const code = new Uint8Array(this.bits / 8);
    for (let i = 0; i < this.bits; i++) if (this.sums[i]! > 0) code[i >> 3]! |= 1 << (i & 7);
    return code;
  }
}

function elementKey(base: number, index: number): number {
  return (base + Math.imul(index + 1, 0x9e3779b1)) >>> 0;
}

/** Values centered and scaled to unit L2 norm, so every vector or row weighs the same; undefined if constant. */
function centeredUnit(values: Float32Array, center: boolean): Float64Array | undefined {
  let mean = 0;
  if (center) {
    for (const v of values) mean += v;
    mean /= Math.max(1, values.length);
  }
  const out = new Float64Array(values.length);
  let sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]! - mean;
    out[i] = Number.isFinite(v) ? v : 0;
    sumSquares += out[i]! * out[i]!;
  }
  if (!(sumSquares > 0)) return undefined;
  const scale = 1 / Math.sqrt(sumSquares);
  for (let i = 0; i < out.length; i++) out[i]! *= scale;
  return out;
}

function normVectors(fp: Fingerprint): VectorSignal[] {
  return fp.vectors.filter((v) => v.part === 'weight' && NORM_ROLES.has(v.role));
}

function vectorName(v: VectorSignal): string {
  return `${v.role}|${v.layer ?? -1}`;
}

/** Native-basis SimHash of all centered norm gains (breaks under a residual permutation; the profile does not). */
function normSketch(fp: Fingerprint): Uint8Array | undefined {
  const builder = new SimHashBuilder(SKETCH_BITS.norm);
  for (const v of normVectors(fp)) {
    const unit = centeredUnit(v.values, true);
    if (!unit) continue;
    const base = hashString32(vectorName(v), SEEDS.norm);
    for (let i = 0; i < unit.length; i++) builder.add(elementKey(base, i), unit[i]!);
  }
  return builder.finish();
}

/** SimHash of the anchor-token embedding rows, indexed by (token string, channel). */
function anchorSketch(fp: Fingerprint): Uint8Array | undefined {
  const rows = fp.tokenRows.find((t) => t.role === 'embed') ?? fp.tokenRows.find((t) => t.role === 'lm_head');
  if (!rows) return undefined;
  const builder = new SimHashBuilder(SKETCH_BITS.anchor);
  for (let r = 0; r < rows.tokens.length; r++) {
    const unit = centeredUnit(rows.values.subarray(r * rows.cols, (r + 1) * rows.cols), false);
    if (!unit) continue;
    const base = hashString32(rows.tokens[r]!, SEEDS.anchor);
    for (let c = 0; c < unit.length; c++) builder.add(elementKey(base, c), unit[c]!);
  }
  return builder.finish();
}

/**
 * Permutation-invariant profile: per norm vector, the standardized order statistics (both tails and
 * a few inner quantiles) minus their expectation under a normal. A residual-channel permutation
 * leaves it unchanged; it does not separate independent models of one recipe well, which is fine
 * for retrieval (the exact compare decides).
 */
function profileSketch(fp: Fingerprint): Uint8Array | undefined {
  const builder = new SimHashBuilder(SKETCH_BITS.profile);
  for (const v of normVectors(fp)) {
    const n = v.values.length;
    if (n < 2 * PROFILE_TAIL + PROFILE_INNER_QUANTILES) continue;
    const unit = centeredUnit(v.values, true);
    if (!unit) continue;
    const scale = Math.sqrt(n);
    const sorted = new Float64Array(n);
    for (let i = 0; i < n; i++) sorted[i] = unit[i]! * scale;
    sorted.sort();
    const positions: number[] = [];
    for (let i = 0; i < PROFILE_TAIL; i++) positions.push(i, n - 1 - i);
    for (let q = 1; q <= PROFILE_INNER_QUANTILES; q++) positions.push(Math.floor((q * n) / (PROFILE_INNER_QUANTILES + 1)));
    const base = hashString32(vectorName(v), SEEDS.profile);
    positions.forEach((position, k) => builder.add(elementKey(base, k), sorted[position]! - normalQuantile((position + 0.5) / n)));
  }
  return builder.finish();
}

// Acklam's coefficients (module constants: the quantile runs for every order statistic of every entry).
const QA = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239] as const;
const QB = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572] as const;
const QC = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783] as const;
const QD = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416] as const;

function quantileTail(q: number): number {
  return (((((QC[0] * q + QC[1]) * q + QC[2]) * q + QC[3]) * q + QC[4]) * q + QC[5]) / ((((QD[0] * q + QD[1]) * q + QD[2]) * q + QD[3]) * q + 1);
}

/** Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (p < 0.02425) return quantileTail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -quantileTail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((QA[0] * r + QA[1]) * r + QA[2]) * r + QA[3]) * r + QA[4]) * r + QA[5]) * q) / (((((QB[0] * r + QB[1]) * r + QB[2]) * r + QB[3]) * r + QB[4]) * r + 1);
}

export function computeWeightSketches(fp: Fingerprint): WeightSketches {
  const out: WeightSketches = {};
  const norm = normSketch(fp);
  const anchor = anchorSketch(fp);
  const profile = profileSketch(fp);
  if (norm) out.norm = norm;
  if (anchor) out.anchor = anchor;
  if (profile) out.profile = profile;
  return out;
}

/** A 53-bit integer key (exact in a JS number and in an SQLite INTEGER) from 32-bit words. */
function bandKey(words: readonly number[]): number {
  let h1 = 0x243f6a88;
  let h2 = 0x85a308d3;
  for (const w of words) {
    h1 = fmix32((h1 ^ w) + 0x9e3779b9);
    h2 = fmix32(Math.imul(h2 ^ w, 0x01000193) ^ h1);
  }
  return (h1 & 0x1fffff) * 0x100000000 + h2;
}

/**
 * LSH band keys of the weight sketches. The hidden size is part of every key: models of different
 * widths can never share index-aligned weights, so this is the blocking partition.
 */
export function weightBandKeys(sketches: WeightSketches, hiddenSize: number): number[] {
  const keys: number[] = [];
  SKETCH_KINDS.forEach((kind, kindIndex) => {
    const code = sketches[kind];
    if (!code) return;
    const bytesPerBand = BITS_PER_BAND / 8;
    for (let band = 0; band * bytesPerBand < code.length; band++) {
      let value = 0;
      for (let i = 0; i < bytesPerBand; i++) value |= code[band * bytesPerBand + i]! << (8 * i);
      keys.push(bandKey([SKETCH_VERSION, kindIndex, band, hiddenSize, value]));
    }
  });
  return keys;
}

/** LSH band keys of a vocabulary MinHash (bands of consecutive hash functions). */
export function vocabularyBandKeys(minhash: Uint32Array): number[] {
  const keys: number[] = [];
  for (let band = 0; band < VOCAB_BANDS && (band + 1) * VOCAB_ROWS_PER_BAND <= minhash.length; band++) {
    keys.push(bandKey([SKETCH_VERSION, 0xb0cab, band, ...minhash.subarray(band * VOCAB_ROWS_PER_BAND, (band + 1) * VOCAB_ROWS_PER_BAND)]));
  }
  return keys;
}

function popcount8(x: number): number {
  x = x - ((x >> 1) & 0x55);
  x = (x & 0x33) + ((x >> 2) & 0x33);
  return (x + (x >> 4)) & 0x0f;
}

export function agreeingBits(a: Uint8Array, b: Uint8Array): number {
  let differing = 0;
  for (let i = 0; i < a.length; i++) differing += popcount8(a[i]! ^ b[i]!);
  return a.length * 8 - differing;
}

export interface SketchEvidence {
  /** ln p of the best sketch agreement, Bonferroni over the kinds compared (0 when none compared). */
  logP: number;
  /** Per kind: bits that agree out of the code length. */
  agreement: Partial<Record<SketchKind, { agree: number; bits: number }>>;
}

/**
 * How surprising the sketch agreement is under "independent weights" (each bit agrees with
 * probability 1/2): the normal tail of Binomial(bits, 1/2). A retrieval score only, never a verdict:
 * the exact compare decides, and its p-value is the one reported.
 */
export function sketchEvidence(query: WeightSketches, candidate: WeightSketches): SketchEvidence {
  let best = 0;
  let compared = 0;
  const agreement: SketchEvidence['agreement'] = {};
  for (const kind of SKETCH_KINDS) {
    const a = query[kind];
    const b = candidate[kind];
    if (!a || !b || a.length !== b.length) continue;
    const bits = a.length * 8;
    const agree = agreeingBits(a, b);
    agreement[kind] = { agree, bits };
    best = Math.min(best, logNormalSf((2 * agree - bits) / Math.sqrt(bits)));
    compared++;
  }
  return { logP: compared ? Math.min(0, best + Math.log(compared)) : 0, agreement };
}

// ---- width-invariant retrieval sketch -------------------------------------------------------------

/** Anchors whose pairwise geometry the width-invariant sketch keeps (2,016 pairs). */
const GEOMETRY_ANCHORS = 64;
const GEOMETRY_BITS = 256;
const GEOMETRY_SEED = 0x67656f6d;

/**
 * SimHash of the anchor-token embedding geometry: the cosine of every pair among the first anchors (bottom-k by token
 * string, so two vocabularies that share strings share anchors), keyed by the pair's strings. Cosines between token rows
 * do not depend on the basis or the width of the residual stream, so a pruned, grown or rotated model keeps its parent's
 * code. Independent models on one tokenizer agree partly too (shared token structure): retrieval only, never evidence.
 */
export function geometrySketch(fp: Fingerprint): Uint8Array | undefined {
  const rows = fp.tokenRows.find((t) => t.role === 'embed') ?? fp.tokenRows.find((t) => t.role === 'lm_head');
  if (!rows) return undefined;
  const count = Math.min(GEOMETRY_ANCHORS, rows.tokens.length);
  const units: Array<Float64Array | undefined> = [];
  for (let r = 0; r < count; r++) units.push(centeredUnit(rows.values.subarray(r * rows.cols, (r + 1) * rows.cols), true));
  // Pair keys need a canonical order of the two strings, whatever order each fingerprint lists them in.
  const order = Array.from({ length: count }, (_, i) => i).sort((x, y) => (rows.tokens[x]! < rows.tokens[y]! ? -1 : rows.tokens[x]! > rows.tokens[y]! ? 1 : 0));
  const builder = new SimHashBuilder(GEOMETRY_BITS);
  // Center the cosines on their mean so a global offset (every pair similar) does not set all bits alike.
  const cosines: Array<{ key: number; value: number }> = [];
  for (let i = 0; i < count; i++) {
    for (let j = i + 1; j < count; j++) {
      const a = units[order[i]!];
      const b = units[order[j]!];
      if (!a || !b) continue;
      let dot = 0;
      for (let c = 0; c < a.length; c++) dot += a[c]! * b[c]!;
      cosines.push({ key: hashString32(`${rows.tokens[order[i]!]!}\u0000${rows.tokens[order[j]!]!}`, GEOMETRY_SEED), value: dot });
    }
  }
  const mean = cosines.reduce((s, c) => s + c.value, 0) / Math.max(1, cosines.length);
  for (const c of cosines) builder.add(c.key, c.value - mean);
  return builder.finish();
}

/** ln p of the agreement of two codes under independence (each bit agrees with probability 1/2), normal tail. */
export function codeAgreementLogP(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length || a.length === 0) return 0;
  const bits = a.length * 8;
  return logNormalSf((2 * agreeingBits(a, b) - bits) / Math.sqrt(bits));
}

/** Expected byte length of a stored code, for validating what a registry file holds. */
export function sketchBytes(kind: SketchKind): number {
  return SKETCH_BITS[kind] / 8;
}
