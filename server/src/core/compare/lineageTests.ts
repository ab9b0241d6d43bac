// The weight-lineage tests. Each one states its null ("B was initialized independently of A, so the
// network axis it permutes is exchangeable") and returns a closed-form log p-value (Hoeffding CLT).
import type { Fingerprint } from '../fingerprint/types';
import { maxScoreAssignment } from './assignment';
import { identityLayerMap, pairMatrices, pairVectors, type LayerMap, type MatrixPair, type TokenRowsPair, type VectorPair } from './pairing';
import { fisherCombineLogP, logBetaCosineSf, logGamma, logMaxOfIndependentSf, logSumExp, permutationSumTest, rankTransformRows, transpose } from './stats';

export interface AxisTest {
  family: 'residual' | 'neuron' | 'token' | 'aligned-residual' | 'width';
  logP: number;
  z: number;
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
  let rows = 0;
  let n = 0;
  for (const m of matrices) {
    if (m.a.colAxis !== 'neuron') continue;
    const k = m.a.rowIndices.length;
    const t = rankedPermutationTest(Float64Array.from(m.a.values), Float64Array.from(m.b.values), k, m.a.cols);
    if (!t.testable) continue;
    logPs.push(t.logP);
    rows += k;
    n = m.a.cols;
  }
  if (logPs.length === 0) return notTestable('neuron', 'no MLP output rows with matching shapes');
  const logP = fisherCombineLogP(logPs);
  return { family: 'neuron', logP, z: 0, rows, n, testable: true, detail: `${logPs.length} layer(s), ${rows} rows over ${n} neurons, Fisher-combined` };
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
 * Width mismatch (pruned or grown hidden size): does each channel of the narrower model match some
 * channel of the wider one far beyond chance? Null per channel: correlations of independent random
 * directions in (k-1) dimensions, maximized over the wider model's channels; the count of matched
 * channels is then binomial.
 */
export function widthMismatchTest(pair: TokenRowsPair): AxisTest {
  const k = pair.tokens.length;
  if (k < 16) return notTestable('width', 'too few shared anchor tokens');
  const { corr, da, db } = columnCorrelations(pair);
  const narrowIsA = da <= db;
  const narrow = narrowIsA ? da : db;
  const wide = narrowIsA ? db : da;
  const perChannelAlpha = 1e-6;
  let matched = 0;
  for (let i = 0; i < narrow; i++) {
    let best = 0;
    for (let j = 0; j < wide; j++) {
      const c = Math.abs(narrowIsA ? corr[i * db + j]! : corr[j * db + i]!);
      if (c > best) best = c;
    }
    const logP = logMaxOfIndependentSf(Math.min(0, Math.log(2) + logBetaCosineSf(best, k - 1)), wide);
    if (logP < Math.log(perChannelAlpha)) matched++;
  }
  const logP = binomialLogSf(narrow, perChannelAlpha, matched);
  return {
    family: 'width',
    logP,
    z: 0,
    rows: k,
    n: narrow,
    testable: true,
    detail: `${matched} of ${narrow} channels of the narrower model match a channel of the wider one (per-channel p < 1e-6)`,
  };
}

/** ln P(X >= observed) for X ~ Binomial(n, p). */
export function binomialLogSf(n: number, p: number, observed: number): number {
  if (observed <= 0) return 0;
  if (observed > n) return -Infinity;
  const terms: number[] = [];
  for (let k = observed; k <= n; k++) {
    terms.push(logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1) + k * Math.log(p) + (n - k) * Math.log1p(-p));
  }
  return Math.min(0, logSumExp(terms));
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

function toAxisTest(family: AxisTest['family'], t: { logP: number; z: number; rows: number; n: number; testable: boolean }, detail: string): AxisTest {
  return { family, logP: t.testable ? t.logP : 0, z: t.testable ? t.z : 0, rows: t.rows, n: t.n, testable: t.testable, detail };
}

function notTestable(family: AxisTest['family'], detail: string): AxisTest {
  return { family, logP: 0, z: 0, rows: 0, n: 0, testable: false, detail };
}

export function log10FromLn(logP: number): number {
  return logP / LN10;
}
