// Alignment that composes: the residual rotation recovered from anchor-token embeddings (orthogonal Procrustes), then
// MLP neurons (on gate rows) and attention kv-heads (on key rows) re-matched per layer in the recovered basis, then ONE
// test on held-out rows (up and value rows) under their sign-flip symmetry, which none of the selections can see.
import type { Fingerprint, MatrixRowsSignal } from '../fingerprint/types';
import { maxScoreAssignment } from './assignment';
import type { AxisTest } from './lineageTests';
import type { LayerMap, TokenRowsPair } from './pairing';
import { rademacherLogBound, signFlipFloorLogP } from './stats';
import { appendAll } from '../util/arrays';

/** Procrustes costs O(d³) per Newton step; wider models keep the signed-permutation alignment only. */
export const MAX_ROTATION_WIDTH = 256;
const MAX_NEWTON_STEPS = 40;

/**
 * The orthogonal polar factor U Vᵀ of a square matrix (M = U Σ Vᵀ) by Higham's scaled Newton iteration
 * X ← ½(ζX + ζ⁻¹X⁻ᵀ), ζ = (‖X⁻¹‖_F / ‖X‖_F)^½; undefined when M is singular (too few anchors for the width).
 */
export function polarFactor(m: Float64Array, d: number): Float64Array | undefined {
  let x = Float64Array.from(m);
  for (let step = 0; step < MAX_NEWTON_STEPS; step++) {
    const inverse = invert(x, d);
    if (!inverse) return undefined;
    const zeta = Math.sqrt(frobenius(inverse) / frobenius(x));
    const next = new Float64Array(d * d);
    let change = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        const value = 0.5 * (zeta * x[i * d + j]! + inverse[j * d + i]! / zeta);
        change += (value - x[i * d + j]!) ** 2;
        next[i * d + j] = value;
      }
    }
    x = next;
    // Quadratic convergence: a step this small leaves an error far below what the cosines downstream resolve.
    if (Math.sqrt(change) < 1e-7 * Math.sqrt(d)) break;
  }
  return x;
}

function frobenius(m: Float64Array): number {
  let s = 0;
  for (const v of m) s += v * v;
  return Math.sqrt(s);
}

/** Gauss–Jordan inverse with partial pivoting; undefined when a pivot vanishes relative to the matrix scale. */
function invert(m: Float64Array, d: number): Float64Array | undefined {
  const a = Float64Array.from(m);
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) inv[i * d + i] = 1;
  const scale = frobenius(m) / Math.sqrt(d);
  for (let col = 0; col < d; col++) {
    let pivot = col;
    for (let r = col + 1; r < d; r++) if (Math.abs(a[r * d + col]!) > Math.abs(a[pivot * d + col]!)) pivot = r;
    const p = a[pivot * d + col]!;
    if (!(Math.abs(p) > 1e-12 * scale)) return undefined;
    if (pivot !== col) {
      for (let j = 0; j < d; j++) {
        [a[col * d + j], a[pivot * d + j]] = [a[pivot * d + j]!, a[col * d + j]!];
        [inv[col * d + j], inv[pivot * d + j]] = [inv[pivot * d + j]!, inv[col * d + j]!];
      }
    }
    for (let j = 0; j < d; j++) {
      a[col * d + j]! /= p;
      inv[col * d + j]! /= p;
    }
    for (let r = 0; r < d; r++) {
      if (r === col) continue;
      const f = a[r * d + col]!;
      if (f === 0) continue;
      for (let j = 0; j < d; j++) {
        a[r * d + j]! -= f * a[col * d + j]!;
        inv[r * d + j]! -= f * inv[col * d + j]!;
      }
    }
  }
  return inv;
}

/**
 * Q with E_B ≈ E_A·Q over the shared anchor rows (Q = polar(E_AᵀE_B)); a row w of B along its residual axis is
 * w·Qᵀ in A's basis. Undefined when the widths differ, the model is too wide, or the anchors do not span the width.
 */
export function recoverResidualRotation(pair: TokenRowsPair): Float64Array | undefined {
  const d = pair.cols.a;
  const k = pair.tokens.length;
  if (d !== pair.cols.b || d > MAX_ROTATION_WIDTH || k < d || d < 2) return undefined;
  const m = new Float64Array(d * d);
  for (let t = 0; t < k; t++) {
    for (let i = 0; i < d; i++) {
      const ai = pair.a[t * d + i]!;
      if (ai === 0) continue;
      for (let j = 0; j < d; j++) m[i * d + j]! += ai * pair.b[t * d + j]!;
    }
  }
  return polarFactor(m, d);
}

/** B's row in A's residual basis: (w·Qᵀ)_i = Σ_j Q_ij w_j. */
function rotateRow(row: Float32Array, q: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += q[i * d + j]! * row[j]!;
    out[i] = s;
  }
  return out;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

interface RowsOf {
  byIndex: Map<number, Float32Array>;
}

function rowsOf(m: MatrixRowsSignal): RowsOf {
  const byIndex = new Map<number, Float32Array>();
  m.rowIndices.forEach((r, i) => byIndex.set(r, m.values.subarray(i * m.cols, (i + 1) * m.cols)));
  return { byIndex };
}

function findMatrix(fp: Fingerprint, role: string, layer: number, d: number): MatrixRowsSignal | undefined {
  return fp.matrices.find((m) => m.role === role && m.layer === layer && m.colAxis === 'residual' && m.cols === d);
}

/**
 * Matches the units of A (rows of `selectRole`) to B's by linear assignment on cos in the recovered basis, then returns
 * cos of the `testRole` rows of each matched pair. `unitOf`/`offsetsOf` group rows into units (a neuron is one row, a
 * kv-head is headDim rows compared offset by offset).
 */
function matchedTestCosines(
  a: Fingerprint,
  b: Fingerprint,
  layerA: number,
  layerB: number,
  q: Float64Array,
  d: number,
  selectRole: 'gate' | 'k',
  testRole: 'up' | 'v',
  unitSize: number,
): number[] {
  const selA = findMatrix(a, selectRole, layerA, d);
  const selB = findMatrix(b, selectRole, layerB, d);
  const testA = findMatrix(a, testRole, layerA, d);
  const testB = findMatrix(b, testRole, layerB, d);
  if (!selA || !selB || !testA || !testB || selA.rows !== selB.rows || testA.rows !== testB.rows) return [];
  const units = Math.floor(selA.rows / unitSize);
  if (units < 1) return [];
  const rowsA = rowsOf(selA).byIndex;
  const rowsB = new Map([...rowsOf(selB).byIndex].map(([r, row]) => [r, rotateRow(row, q, d)]));
  // Only units with sampled rows take part (a 7B layer has 11,008 neurons of which 64 are read).
  const sampledUnits = (rows: Map<number, unknown>) => [...new Set([...rows.keys()].map((r) => Math.floor(r / unitSize)))].filter((u) => u < units).sort((x, y) => x - y);
  const unitsA = sampledUnits(rowsA);
  const unitsB = sampledUnits(rowsB);
  const aIsRows = unitsA.length <= unitsB.length;
  const [rowUnits, colUnits] = aIsRows ? [unitsA, unitsB] : [unitsB, unitsA];
  if (rowUnits.length === 0) return [];
  const score = new Float64Array(rowUnits.length * colUnits.length);
  rowUnits.forEach((ru, i) => {
    colUnits.forEach((cu, j) => {
      const [u, v] = aIsRows ? [ru, cu] : [cu, ru];
      let total = 0;
      let count = 0;
      for (let t = 0; t < unitSize; t++) {
        const ra = rowsA.get(u * unitSize + t);
        const rb = rowsB.get(v * unitSize + t);
        if (!ra || !rb) continue;
        total += cosine(ra, rb);
        count++;
      }
      score[i * colUnits.length + j] = count ? total / count : 0;
    });
  });
  const { columnOfRow } = maxScoreAssignment(score, rowUnits.length, colUnits.length);
  const matched: Array<[number, number]> = rowUnits.map((ru, i) => (aIsRows ? [ru, colUnits[columnOfRow[i]!]!] : [colUnits[columnOfRow[i]!]!, ru]));
  const testRowsA = rowsOf(testA).byIndex;
  const testRowsB = rowsOf(testB).byIndex;
  const cosines: number[] = [];
  for (const [u, v] of matched) {
    for (let t = 0; t < unitSize; t++) {
      const ra = testRowsA.get(u * unitSize + t);
      const rb = testRowsB.get(v * unitSize + t);
      if (ra && rb) cosines.push(cosine(ra, rotateRow(rb, q, d)));
    }
  }
  return cosines;
}

/**
 * The composed alignment test. Null: B was initialized independently of A, so each up row of a gated MLP (with its
 * down column) and each value row (with its o column) has a fair random sign, independent of the embeddings, gate and
 * key rows used to choose the rotation and the matchings. T = Σ cos over the matched held-out rows; Hoeffding bound;
 * floor 2^-k.
 */
export function composedAlignmentTest(a: Fingerprint, b: Fingerprint, embed: TokenRowsPair, layers: LayerMap, d: number): { test: AxisTest; rotationFound: boolean } {
  const family = 'composed' as const;
  const q = recoverResidualRotation(embed);
  const notRun = (detail: string) => ({ test: { family, logP: 0, floorLogP: 0, z: 0, statistic: '', rows: 0, n: 0, testable: false, detail }, rotationFound: Boolean(q) });
  if (!q) return notRun(`no residual rotation recovered (needs equal widths up to ${MAX_ROTATION_WIDTH} and at least as many anchors as channels)`);
  const headDimA = a.architecture?.headDim;
  const headDim = headDimA && headDimA === b.architecture?.headDim ? headDimA : undefined;
  const gated = (fp: Fingerprint, layer: number) => fp.matrices.some((m) => m.role === 'gate' && m.layer === layer);
  const cosines: number[] = [];
  let upRows = 0;
  let valueRows = 0;
  for (const [la, lb] of layers) {
    if (gated(a, la) && gated(b, lb)) {
      const c = matchedTestCosines(a, b, la, lb, q, d, 'gate', 'up', 1);
      upRows += c.length;
      appendAll(cosines, c);
    }
    if (headDim) {
      const c = matchedTestCosines(a, b, la, lb, q, d, 'k', 'v', headDim);
      valueRows += c.length;
      appendAll(cosines, c);
    }
  }
  const k = cosines.length;
  if (k < 8) return notRun(`only ${k} matched up/value row(s) after alignment`);
  let total = 0;
  let sumSquares = 0;
  for (const c of cosines) {
    total += c;
    sumSquares += c * c;
  }
  const floorLogP = signFlipFloorLogP(k);
  const z = sumSquares > 0 ? total / Math.sqrt(sumSquares) : 0;
  return {
    rotationFound: true,
    test: {
      family,
      logP: Math.max(floorLogP, rademacherLogBound(total, sumSquares)),
      floorLogP,
      z,
      statistic: `T = Σ cos = ${total.toFixed(2)} over ${k} rows, z = ${z.toFixed(1)}`,
      rows: k,
      n: k,
      testable: true,
      detail: `rotation from ${embed.tokens.length} anchor embeddings (Procrustes), neurons matched on gate rows and kv-heads on key rows per layer; tested on ${upRows} up and ${valueRows} value rows`,
    },
  };
}
