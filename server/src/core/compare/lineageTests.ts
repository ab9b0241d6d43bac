// The weight-lineage tests. Each one states its null ("B was initialized independently of A, so the
// network axis it permutes is exchangeable") and returns a certified log p-value (a concentration bound, never below 1/|group|).
import type { Fingerprint } from '../fingerprint/types';
import { maxScoreAssignment } from './assignment';
import { identityLayerMap, pairMatrices, pairVectors, type LayerMap, type MatrixPair, type OutputRowPair, type TokenRowsPair, type VectorPair } from './pairing';
import { fisherCombineLogP, logGamma, permutationSumTest, rademacherLogBound, rankTransformRows, signFlipFloorLogP, transpose } from './stats';

export interface AxisTest {
  family: 'residual' | 'neuron' | 'token' | 'aligned-residual' | 'width' | 'composed';
  /** ln of a certified upper bound on p under the test's null, never below floorLogP. */
  logP: number;
  /** ln of the smallest p this test can certify (1/n! for a permutation over n, 2^-k for k signs, combined accordingly). */
  floorLogP: number;
  /** Standardized statistic (T − E T)/sd under the null, reported beside p. */
  z: number;
  /** The observed statistic, in words ("T = 12.3, z = 9.1"). */
  statistic: string;
  rows: number;
  /** Size of the permuted axis. */
  n: number;
  testable: boolean;
  detail: string;
}

/** A signed permutation of B's residual channels into A's order: B channel perm[i] (times sign[i]) is A channel i. */
export interface ResidualAlignment {
  perm: Int32Array;
  sign: Float32Array;
  meanAbsCorrelation: number;
  anchors: number;
}

/** Rows along the residual axis: each row is one vector over all d residual channels, from A and from B. */
interface ResidualRows {
  a: Float64Array;
  b: Float64Array;
  rows: number;
  layerOfRow: number[];
}

const LN10 = Math.log(10);
/**
 * The exact null variance costs O(rows^2 * channels); a fixed, data-independent subset of rows keeps
 * a 7B comparison to about a second and is still a valid test (and z grows with sqrt(rows * channels)).
 */
const MAX_JOINT_ROWS = 384;
const MAX_LAYER_ROWS = 48;

function collectResidualRows(
  d: number,
  vectors: readonly VectorPair[],
  matrices: readonly MatrixPair[],
  tokens: readonly TokenRowsPair[],
  alignment?: ResidualAlignment,
): ResidualRows {
  const rowsA: Float32Array[] = [];
  const rowsB: Float32Array[] = [];
  const layerOfRow: number[] = [];
  const push = (ra: Float32Array, rb: Float32Array, layer: number | undefined, signed: boolean) => {
    rowsA.push(ra);
    rowsB.push(alignment ? alignRow(rb, alignment, signed) : rb);
    layerOfRow.push(layer ?? -1);
  };
  for (const v of vectors) if (v.a.values.length === d) push(v.a.values, v.b.values, v.layerA, false);
  for (const m of matrices) {
    if (m.a.colAxis !== 'residual' || m.a.cols !== d) continue;
    for (let r = 0; r < m.a.rowIndices.length; r++) push(m.a.values.subarray(r * d, (r + 1) * d), m.b.values.subarray(r * d, (r + 1) * d), m.layerA, true);
  }
  for (const t of tokens) {
    if (t.cols.a !== d || t.cols.b !== d) continue;
    for (let r = 0; r < t.tokens.length; r++) push(t.a.subarray(r * d, (r + 1) * d), t.b.subarray(r * d, (r + 1) * d), undefined, true);
  }
  const a = new Float64Array(rowsA.length * d);
  const b = new Float64Array(rowsB.length * d);
  rowsA.forEach((r, i) => a.set(r, i * d));
  rowsB.forEach((r, i) => b.set(r, i * d));
  return { a, b, rows: rowsA.length, layerOfRow };
}

function alignRow(row: Float32Array, alignment: ResidualAlignment, signed: boolean): Float32Array {
  const out = new Float32Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[alignment.perm[i]!]! * (signed ? alignment.sign[i]! : 1);
  return out;
}

/** Rank-transforms every row (robust to outlier channels), then the shared-column-permutation test. */
function rankedPermutationTest(a: Float64Array, b: Float64Array, rows: number, cols: number) {
  return permutationSumTest(rankTransformRows(a, rows, cols), rankTransformRows(b, rows, cols), rows, cols);
}

function subsetRows(rows: ResidualRows, keep: (layer: number) => boolean, d: number): ResidualRows {
  return subsetRowsByIndex(rows, (i) => keep(rows.layerOfRow[i]!), d);
}

function subsetRowsByIndex(rows: ResidualRows, keep: (rowIndex: number) => boolean, d: number): ResidualRows {
  const idx = rows.layerOfRow.map((_, i) => (keep(i) ? i : -1)).filter((i) => i >= 0);
  const a = new Float64Array(idx.length * d);
  const b = new Float64Array(idx.length * d);
  idx.forEach((r, i) => {
    a.set(rows.a.subarray(r * d, (r + 1) * d), i * d);
    b.set(rows.b.subarray(r * d, (r + 1) * d), i * d);
  });
  return { a, b, rows: idx.length, layerOfRow: idx.map((i) => rows.layerOfRow[i]!) };
}

/** At most `max` rows, evenly spaced over all signals so every layer and signal kind stays represented. */
function evenlySpacedRows(rows: ResidualRows, max: number, d: number): ResidualRows {
  if (rows.rows <= max) return rows;
  const keep = new Set(Array.from({ length: max }, (_, i) => Math.floor((i * rows.rows) / max)));
  return subsetRowsByIndex(rows, (i) => keep.has(i), d);
}

/**
 * Residual-axis test: norm gains, token rows and matrix rows read along the residual stream, all
 * sharing ONE permutation of B's residual channels under the null (so they form one joint statistic).
 */
export function residualAxisTest(
  d: number,
  vectors: readonly VectorPair[],
  matrices: readonly MatrixPair[],
  tokens: readonly TokenRowsPair[],
  alignment?: ResidualAlignment,
): { joint: AxisTest; perLayer: Map<number, AxisTest> } {
  const rows = collectResidualRows(d, vectors, matrices, tokens, alignment);
  const family = alignment ? 'aligned-residual' : 'residual';
  const jointRows = evenlySpacedRows(rows, MAX_JOINT_ROWS, d);
  const joint = toAxisTest(family, rankedPermutationTest(jointRows.a, jointRows.b, jointRows.rows, d), `${jointRows.rows} rows x ${d} residual channels`);
  const perLayer = new Map<number, AxisTest>();
  for (const layer of new Set(rows.layerOfRow)) {
    if (layer < 0) continue;
    const sub = evenlySpacedRows(subsetRows(rows, (l) => l === layer, d), MAX_LAYER_ROWS, d);
    perLayer.set(layer, toAxisTest(family, rankedPermutationTest(sub.a, sub.b, sub.rows, d), `layer ${layer}: ${sub.rows} rows`));
  }
  return { joint, perLayer };
}

/**
 * Neuron-axis test per layer: rows indexed by residual channel whose columns are MLP neurons (`down`);
 * under the null each layer's neurons are exchangeable independently, so layer p-values combine by Fisher.
 */
export function neuronAxisTest(matrices: readonly MatrixPair[]): AxisTest {
  const logPs: number[] = [];
  const floors: number[] = [];
  const zs: number[] = [];
  let rows = 0;
  let n = 0;
  for (const m of matrices) {
    if (m.a.colAxis !== 'neuron') continue;
    const k = m.a.rowIndices.length;
    const t = rankedPermutationTest(Float64Array.from(m.a.values), Float64Array.from(m.b.values), k, m.a.cols);
    if (!t.testable) continue;
    logPs.push(t.logP);
    floors.push(t.floorLogP);
    zs.push(t.z);
    rows += k;
    n = m.a.cols;
  }
  if (logPs.length === 0) return notTestable('neuron', 'no MLP output rows with matching shapes');
  // Fisher is monotone in every p, so certified per-layer bounds give a certified combination, floored by the floors'.
  const floorLogP = fisherCombineLogP(floors);
  const logP = Math.max(floorLogP, fisherCombineLogP(logPs));
  const chiSquare = -2 * logPs.reduce((s, x) => s + x, 0);
  const medianZ = [...zs].sort((x, y) => x - y)[Math.floor(zs.length / 2)]!;
  return {
    family: 'neuron', logP, floorLogP, z: 0, statistic: `Fisher χ² = ${chiSquare.toFixed(1)} on ${2 * logPs.length} df (median layer z = ${medianZ.toFixed(1)})`,
    rows, n, testable: true, detail: `${logPs.length} layer(s), ${rows} rows over ${n} neurons, Fisher-combined`,
  };
}

/**
 * Token-axis test: does coordinate j of A's anchor rows track coordinate j of B's across tokens better
 * than under a random re-pairing of tokens? Used for narrow models (few residual channels), where the
 * residual permutation null has too few states; valid when neither model's rows carry shared token structure.
 */
export function tokenAxisTest(pair: TokenRowsPair): AxisTest {
  const d = pair.cols.a;
  const k = pair.tokens.length;
  if (d !== pair.cols.b || k < 8) return notTestable('token', 'too few shared anchor tokens or different widths');
  const a = transpose(Float64Array.from(pair.a), k, d);
  const b = transpose(Float64Array.from(pair.b), k, d);
  return toAxisTest('token', rankedPermutationTest(a, b, d, k), `${d} channel(s) x ${k} shared anchor tokens`);
}

/** Correlation of every A column with every B column over the shared anchor tokens (rows = A columns). */
function columnCorrelations(pair: TokenRowsPair): { corr: Float64Array; da: number; db: number } {
  const k = pair.tokens.length;
  const da = pair.cols.a;
  const db = pair.cols.b;
  const standardize = (values: Float32Array, cols: number) => {
    const out = new Float64Array(cols * k);
    for (let c = 0; c < cols; c++) {
      let mean = 0;
      for (let t = 0; t < k; t++) mean += values[t * cols + c]!;
      mean /= k;
      let ss = 0;
      for (let t = 0; t < k; t++) {
        const v = values[t * cols + c]! - mean;
        out[c * k + t] = v;
        ss += v * v;
      }
      const norm = ss > 0 ? 1 / Math.sqrt(ss) : 0;
      for (let t = 0; t < k; t++) out[c * k + t] = out[c * k + t]! * norm;
    }
    return out;
  };
  const sa = standardize(pair.a, da);
  const sb = standardize(pair.b, db);
  const corr = new Float64Array(da * db);
  for (let i = 0; i < da; i++) {
    for (let j = 0; j < db; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += sa[i * k + t]! * sb[j * k + t]!;
      corr[i * db + j] = s;
    }
  }
  return { corr, da, db };
}

/** Signed permutation of residual channels recovered by linear assignment on |corr| of embedding columns. */
export function alignResidualChannels(pair: TokenRowsPair): ResidualAlignment | undefined {
  const d = pair.cols.a;
  if (d !== pair.cols.b || pair.tokens.length < 16 || d < 4) return undefined;
  const { corr } = columnCorrelations(pair);
  const score = new Float64Array(d * d);
  for (let i = 0; i < score.length; i++) score[i] = Math.abs(corr[i]!);
  const { columnOfRow } = maxScoreAssignment(score, d, d);
  const sign = new Float32Array(d);
  let total = 0;
  for (let i = 0; i < d; i++) {
    const c = corr[i * d + columnOfRow[i]!]!;
    sign[i] = c < 0 ? -1 : 1;
    total += Math.abs(c);
  }
  return { perm: columnOfRow, sign, meanAbsCorrelation: total / d, anchors: pair.tokens.length };
}

/**
 * Residual channels of the narrower model mapped into the wider one (pruned or grown hidden size): a linear assignment on
 * |correlation| of embedding columns over the shared anchor tokens, with the sign of each matched correlation. This is
 * only a selection: its similarity is never a test statistic (independent models trained on one tokenizer share token
 * structure, so their columns correlate at 0.4 to 0.8 without any lineage).
 */
export interface WidthMap {
  /** True when A is the narrower model (then wideOfNarrow indexes B's channels). */
  narrowIsA: boolean;
  narrow: number;
  wide: number;
  wideOfNarrow: Int32Array;
  sign: Float32Array;
  meanAbsCorrelation: number;
  anchors: number;
}

export function matchChannelsAcrossWidths(pair: TokenRowsPair): WidthMap | undefined {
  if (pair.tokens.length < 16) return undefined;
  const { corr, da, db } = columnCorrelations(pair);
  const narrowIsA = da <= db;
  const narrow = narrowIsA ? da : db;
  const wide = narrowIsA ? db : da;
  if (narrow < 2) return undefined;
  const corrAt = (i: number, j: number) => (narrowIsA ? corr[i * db + j]! : corr[j * db + i]!);
  const score = new Float64Array(narrow * wide);
  for (let i = 0; i < narrow; i++) for (let j = 0; j < wide; j++) score[i * wide + j] = Math.abs(corrAt(i, j));
  const { columnOfRow } = maxScoreAssignment(score, narrow, wide);
  const sign = new Float32Array(narrow);
  let total = 0;
  for (let i = 0; i < narrow; i++) {
    const c = corrAt(i, columnOfRow[i]!);
    sign[i] = c < 0 ? -1 : 1;
    total += Math.abs(c);
  }
  return { narrowIsA, narrow, wide, wideOfNarrow: columnOfRow, sign, meanAbsCorrelation: total / narrow, anchors: pair.tokens.length };
}

/**
 * Sign-flip test on output units: value-projection rows (negating one, with the matching o_proj column) and
 * up-projection rows of gated MLPs (negating one, with its down_proj column) leave the network's function unchanged,
 * and under independent initialization (symmetric init, sign-equivariant training) each such sign of B is a fair coin,
 * independent of everything the residual map was selected from (the embeddings). Statistic: T = Σ_r s·cos(a_r, b_r)
 * with rows compared in the mapped residual basis; Hoeffding's inequality for Rademacher sums bounds its tail, and
 * 2^-k (k rows) is the floor. Selection (the map) and test (the rows) never share data, so the null holds for models
 * trained on the same data and tokenizer.
 */
export function signFlipRowTest(rows: readonly OutputRowPair[], map: WidthMap | undefined): AxisTest {
  const cosines: number[] = [];
  for (const r of rows) {
    const c = mappedCosine(r.a, r.b, map);
    if (c !== undefined) cosines.push(c);
  }
  const k = cosines.length;
  if (k < 8) return notTestable('width', `only ${k} value/up-projection row(s) shared at the same positions`);
  let total = 0;
  let sumSquares = 0;
  for (const c of cosines) {
    total += c;
    sumSquares += c * c;
  }
  const floorLogP = signFlipFloorLogP(k);
  const logP = Math.max(floorLogP, rademacherLogBound(total, sumSquares));
  const z = sumSquares > 0 ? total / Math.sqrt(sumSquares) : 0;
  const byRole = (role: string) => rows.filter((r) => r.role === role).length;
  return {
    family: 'width',
    logP,
    floorLogP,
    z,
    statistic: `T = Σ cos = ${total.toFixed(2)} over ${k} rows, z = ${z.toFixed(1)}`,
    rows: k,
    n: k,
    testable: true,
    detail: `${byRole('v')} value and ${byRole('up')} up-projection rows${map ? `, residual channels mapped by embedding columns over ${map.anchors} anchors (${map.narrow} of ${map.wide}, mean |corr| ${map.meanAbsCorrelation.toFixed(2)}, selection only)` : ''}`,
  };
}

/** cos of the two rows over the narrower model's channels (each taken from its mapped wide channel, with its sign). */
function mappedCosine(a: Float32Array, b: Float32Array, map: WidthMap | undefined): number | undefined {
  let dot = 0;
  let na = 0;
  let nb = 0;
  if (!map) {
    if (a.length !== b.length) return undefined;
    for (let i = 0; i < a.length; i++) {
      dot += a[i]! * b[i]!;
      na += a[i]! * a[i]!;
      nb += b[i]! * b[i]!;
    }
  } else {
    const narrowRow = map.narrowIsA ? a : b;
    const wideRow = map.narrowIsA ? b : a;
    if (narrowRow.length !== map.narrow || wideRow.length !== map.wide) return undefined;
    for (let i = 0; i < map.narrow; i++) {
      const x = narrowRow[i]!;
      const y = wideRow[map.wideOfNarrow[i]!]! * map.sign[i]!;
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : undefined;
}

/**
 * Depth mismatch (a dropped or duplicated layer): per layer pair residual z-scores, then the monotone
 * injective map of the shallower model's layers into the deeper one's that maximizes the total z.
 * Returns the map and ln(number of maps considered), the Bonferroni price of choosing it.
 */
export function alignLayers(a: Fingerprint, b: Fingerprint, layersA: number, layersB: number, d: number): { map: LayerMap; logSearchSize: number } {
  if (layersA === layersB) return { map: identityLayerMap(layersA), logSearchSize: 0 };
  const z: number[][] = [];
  for (let i = 0; i < layersA; i++) {
    z.push([]);
    for (let j = 0; j < layersB; j++) {
      const single: LayerMap = new Map([[i, j]]);
      const vectors = pairVectors(a, b, single).filter((v) => v.layerA === i);
      const matrices = pairMatrices(a, b, single).filter((m) => m.layerA === i);
      const t = residualAxisTest(d, vectors, matrices, []).joint;
      z[i]!.push(t.testable ? t.z : 0);
    }
  }
  // Map the shallower side into the deeper side; transpose the score table when B is shallower.
  const aIsShallow = layersA < layersB;
  const shallow = aIsShallow ? layersA : layersB;
  const deep = aIsShallow ? layersB : layersA;
  const score = (s: number, t: number) => (aIsShallow ? z[s]![t]! : z[t]![s]!);
  // best[s][t]: best total mapping shallow layers 0..s-1 into deep layers 0..t-1.
  const best = Array.from({ length: shallow + 1 }, () => new Float64Array(deep + 1).fill(-Infinity));
  const took = Array.from({ length: shallow + 1 }, () => new Uint8Array(deep + 1));
  for (let t = 0; t <= deep; t++) best[0]![t] = 0;
  for (let s = 1; s <= shallow; s++) {
    for (let t = s; t <= deep; t++) {
      const skip = best[s]![t - 1]!;
      const take = best[s - 1]![t - 1]! + score(s - 1, t - 1);
      if (take >= skip) {
        best[s]![t] = take;
        took[s]![t] = 1;
      } else best[s]![t] = skip;
    }
  }
  const map: LayerMap = new Map();
  for (let s = shallow, t = deep; s > 0 && t > 0; ) {
    if (took[s]![t]) {
      const [la, lb] = aIsShallow ? [s - 1, t - 1] : [t - 1, s - 1];
      map.set(la, lb);
      s--;
      t--;
    } else t--;
  }
  const logSearchSize = logGamma(deep + 1) - logGamma(shallow + 1) - logGamma(deep - shallow + 1);
  return { map, logSearchSize };
}

function toAxisTest(
  family: AxisTest['family'],
  t: { logP: number; floorLogP: number; statistic: number; z: number; rows: number; n: number; testable: boolean },
  detail: string,
): AxisTest {
  return {
    family,
    logP: t.testable ? t.logP : 0,
    floorLogP: t.floorLogP,
    z: t.testable ? t.z : 0,
    statistic: t.testable ? `T = ${t.statistic.toPrecision(4)}, z = ${t.z.toFixed(1)}` : '',
    rows: t.rows,
    n: t.n,
    testable: t.testable,
    detail,
  };
}

function notTestable(family: AxisTest['family'], detail: string): AxisTest {
  return { family, logP: 0, floorLogP: 0, z: 0, statistic: '', rows: 0, n: 0, testable: false, detail };
}

export function log10FromLn(logP: number): number {
  return logP / LN10;
}
