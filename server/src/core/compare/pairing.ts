// Pairs the signals of two fingerprints that can be compared index by index: norm vectors by
// (role, layer, part), matrix rows by (role, layer) with equal shapes, token rows by shared anchor string.
import type { Fingerprint, MatrixRowsSignal, TokenRowsSignal, VectorSignal } from '../fingerprint/types';

export interface VectorPair {
  key: string;
  layerA?: number;
  a: VectorSignal;
  b: VectorSignal;
}

export interface MatrixPair {
  key: string;
  layerA?: number;
  a: MatrixRowsSignal;
  b: MatrixRowsSignal;
}

export interface TokenRowsPair {
  role: 'embed' | 'lm_head';
  cols: { a: number; b: number };
  tokens: string[];
  /** Row-major, one row per shared token, in the order of `tokens`. */
  a: Float32Array;
  b: Float32Array;
  dtype: { a: string; b: string };
}

/** Maps a layer of A to the layer of B it is compared with (identity, or a monotone alignment). */
export type LayerMap = Map<number, number>;

export function layerCount(fp: Fingerprint): number {
  let max = -1;
  for (const m of fp.matrices) if (m.layer !== undefined) max = Math.max(max, m.layer);
  for (const v of fp.vectors) if (v.layer !== undefined) max = Math.max(max, v.layer);
  return max + 1;
}

export function identityLayerMap(layers: number): LayerMap {
  return new Map(Array.from({ length: layers }, (_, i) => [i, i]));
}

const vectorKey = (v: VectorSignal, layer: number | undefined) => `${v.role}|${layer ?? ''}|${v.part}`;
const matrixKey = (m: MatrixRowsSignal, layer: number | undefined) => `${m.role}|${layer ?? ''}`;

function mapLayer(layer: number | undefined, layers: LayerMap): number | undefined | null {
  if (layer === undefined) return undefined;
  const mapped = layers.get(layer);
  return mapped === undefined ? null : mapped;
}

export function pairVectors(a: Fingerprint, b: Fingerprint, layers: LayerMap): VectorPair[] {
  const byKey = new Map(b.vectors.map((v) => [vectorKey(v, v.layer), v]));
  const out: VectorPair[] = [];
  for (const va of a.vectors) {
    const lb = mapLayer(va.layer, layers);
    if (lb === null) continue;
    const vb = byKey.get(vectorKey(va, lb));
    if (vb && vb.values.length === va.values.length) out.push({ key: vectorKey(va, va.layer), layerA: va.layer, a: va, b: vb });
  }
  return out;
}

/** Matrix rows pair only when shapes and sampled positions agree (then row i of A meets row i of B). */
export function pairMatrices(a: Fingerprint, b: Fingerprint, layers: LayerMap): MatrixPair[] {
  const byKey = new Map(b.matrices.map((m) => [matrixKey(m, m.layer), m]));
  const out: MatrixPair[] = [];
  for (const ma of a.matrices) {
    const lb = mapLayer(ma.layer, layers);
    if (lb === null) continue;
    const mb = byKey.get(matrixKey(ma, lb));
    if (!mb || mb.rows !== ma.rows || mb.cols !== ma.cols || mb.rowAxis !== ma.rowAxis || mb.colAxis !== ma.colAxis) continue;
    if (mb.rowIndices.length !== ma.rowIndices.length || mb.rowIndices.some((r, i) => r !== ma.rowIndices[i])) continue;
    out.push({ key: matrixKey(ma, ma.layer), layerA: ma.layer, a: ma, b: mb });
  }
  return out;
}

/** One output unit read in both models (same role, layer and row index); values along each model's residual axis. */
export interface OutputRowPair {
  role: 'v' | 'up';
  layer: number;
  row: number;
  a: Float32Array;
  b: Float32Array;
}

/**
 * Value-projection rows, and up-projection rows of gated MLPs, that both fingerprints read at the same row index of the
 * same layer, whatever the residual widths (the sampled positions are intersected). These are the output units whose
 * sign can be flipped without changing the function (with the matching o_proj / down_proj column).
 */
export function pairOutputRows(a: Fingerprint, b: Fingerprint, layers: LayerMap): OutputRowPair[] {
  const gated = (fp: Fingerprint, layer: number | undefined) => fp.matrices.some((m) => m.role === 'gate' && m.layer === layer);
  const byKey = new Map(b.matrices.map((m) => [matrixKey(m, m.layer), m]));
  const out: OutputRowPair[] = [];
  for (const ma of a.matrices) {
    if ((ma.role !== 'v' && ma.role !== 'up') || ma.colAxis !== 'residual' || ma.layer === undefined) continue;
    const lb = layers.get(ma.layer);
    if (lb === undefined) continue;
    const mb = byKey.get(matrixKey(ma, lb));
    if (!mb || mb.colAxis !== 'residual' || mb.rows !== ma.rows) continue;
    if (ma.role === 'up' && !(gated(a, ma.layer) && gated(b, lb))) continue;
    const rowOfB = new Map(mb.rowIndices.map((r, i) => [r, i]));
    ma.rowIndices.forEach((row, i) => {
      const j = rowOfB.get(row);
      if (j === undefined) return;
      out.push({ role: ma.role as 'v' | 'up', layer: ma.layer!, row, a: ma.values.subarray(i * ma.cols, (i + 1) * ma.cols), b: mb.values.subarray(j * mb.cols, (j + 1) * mb.cols) });
    });
  }
  return out;
}

/** Token rows of the same role for the anchor strings both fingerprints sampled (widths may differ). */
export function pairTokenRows(a: Fingerprint, b: Fingerprint): TokenRowsPair[] {
  const out: TokenRowsPair[] = [];
  for (const ta of a.tokenRows) {
    const tb = b.tokenRows.find((t) => t.role === ta.role);
    if (tb) out.push(pairRowsByToken(ta, tb));
  }
  return out;
}

export function pairRowsByToken(ta: TokenRowsSignal, tb: TokenRowsSignal): TokenRowsPair {
  const indexB = new Map(tb.tokens.map((t, i) => [t, i]));
  const tokens: string[] = [];
  const rowsA: number[] = [];
  const rowsB: number[] = [];
  ta.tokens.forEach((t, i) => {
    const j = indexB.get(t);
    if (j === undefined) return;
    tokens.push(t);
    rowsA.push(i);
    rowsB.push(j);
  });
  return {
    role: ta.role,
    cols: { a: ta.cols, b: tb.cols },
    tokens,
    a: gatherRows(ta.values, ta.cols, rowsA),
    b: gatherRows(tb.values, tb.cols, rowsB),
    dtype: { a: ta.dtype, b: tb.dtype },
  };
}

export function gatherRows(values: Float32Array, cols: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * cols);
  rows.forEach((r, i) => out.set(values.subarray(r * cols, (r + 1) * cols), i * cols));
  return out;
}

/** Hidden size of a fingerprint, from its architecture or its residual-axis signals. */
export function hiddenSize(fp: Fingerprint): number | undefined {
  const fromTokens = fp.tokenRows.find((t) => t.role === 'embed')?.cols;
  const fromVector = fp.vectors[0]?.values.length;
  return fp.architecture?.hiddenSize || fromTokens || fromVector;
}
