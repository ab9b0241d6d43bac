// Closed-form null distributions for lineage tests (permutation sums, Mantel/QAP, hypergeometric overlap, random cosines).
// Every p-value is a natural log (logP, p = exp(logP)), so evidence far below 1e-300 stays representable and comparable.

/** Row-major dense matrix data; statistics accumulate in float64 whatever the storage type. */
export type Matrix = Float64Array | Float32Array;

const LN_2 = Math.LN2;
const LN_10 = Math.LN10;
const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const MACHINE_EPSILON = 2.220446049250313e-16;
const LENTZ_TINY = 1e-300;

// ---------------------------------------------------------------------------------------------------------------------
// Elementary helpers

/** ln(k!) for k = 0..170 from the running product (exact up to 22!, then correctly rounded products, ~1e-16 relative). */
const LOG_FACTORIALS: Float64Array = (() => {
  const table = new Float64Array(171);
  let factorial = 1;
  for (let k = 0; k < 171; k++) {
    if (k > 0) factorial *= k;
    table[k] = Math.log(factorial);
  }
  return table;
})();

/**
 * ln|Γ(x)|. Stirling's series with Bernoulli terms up to x^-13 for x >= 10 (error < 1e-16 relative), the recurrence
 * Γ(x) = Γ(x+k)/(x(x+1)...(x+k-1)) below that, and Euler's reflection for x < 0.5. Poles (0, -1, -2, ...) give +Infinity.
 */
export function logGamma(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return Infinity;
  // Exact factorials for small integers, so ln Γ(1) = ln Γ(2) = 0 exactly and log-binomials of small counts are exact.
  if (Number.isInteger(x) && x >= 1 && x <= LOG_FACTORIALS.length) return LOG_FACTORIALS[x - 1]!;
  if (x < 0.5) {
    if (Number.isInteger(x)) return Infinity;
    // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
    return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  }
  let shifted = x;
  let logProduct = 0;
  if (shifted < 10) {
    let product = 1;
    while (shifted < 10) {
      product *= shifted;
      shifted += 1;
    }
    logProduct = Math.log(product);
  }
  const inverse = 1 / shifted;
  const inverseSquared = inverse * inverse;
  // Stirling series coefficients B_{2k} / (2k(2k−1)) for k = 1..7 (Abramowitz & Stegun 6.1.40), Horner in 1/x².
  const series =
    inverse *
    (1 / 12 +
      inverseSquared *
        (-1 / 360 +
          inverseSquared *
            (1 / 1260 +
              inverseSquared *
                (-1 / 1680 + inverseSquared * (1 / 1188 + inverseSquared * (-691 / 360360 + inverseSquared * (1 / 156)))))));
  return (shifted - 0.5) * Math.log(shifted) - shifted + LOG_SQRT_2PI + series - logProduct;
}

/** ln Σ exp(v_i), shifted by the maximum so nothing overflows or underflows; an empty list gives −Infinity. */
export function logSumExp(values: ArrayLike<number>): number {
  let maximum = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (Number.isNaN(value)) return NaN;
    if (value > maximum) maximum = value;
  }
  if (maximum === -Infinity || maximum === Infinity) return maximum;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(values[i]! - maximum);
  return maximum + Math.log(sum);
}

/** ln(1 − e^{logQ}) for logQ <= 0, choosing log1p or expm1 by Mächler's (2012) cutoff ln 2 to avoid cancellation. */
function logOneMinusExp(logQ: number): number {
  if (logQ > -LN_2) return Math.log(-Math.expm1(logQ));
  return Math.log1p(-Math.exp(logQ));
}

/** Base-10 logarithm of p from its natural log. */
export function log10P(logP: number): number {
  return logP / LN_10;
}

/** ln(n!) for a non-negative integer n (exact table to 170, Stirling beyond). */
export function logFactorial(n: number): number {
  return logGamma(n + 1);
}

/**
 * The certified floor of a permutation test over n exchangeable units: no p-value it reports can be below 1/n!,
 * the probability of the single most extreme of the n! equally likely arrangements. Natural log.
 */
export function permutationFloorLogP(n: number): number {
  return n >= 1 ? -logFactorial(n) : 0;
}

/** The certified floor of a sign-flip test over k independent fair signs: 2^−k. Natural log. */
export function signFlipFloorLogP(k: number): number {
  return -k * LN_2;
}

export { formatPValue } from '../util/pValueText';

// ---------------------------------------------------------------------------------------------------------------------
// Tail bounds that hold at any sample size (the normal approximation does not: far out it is off by orders of magnitude)

/** Cantelli's one-sided Chebyshev inequality: P(X − E X >= z·sd) <= 1/(1 + z²) for z > 0. Natural log. */
export function cantelliLogBound(z: number): number {
  return z > 0 ? -Math.log1p(z * z) : 0;
}

/**
 * Chatterjee (2007, "Stein's method for concentration inequalities", Prop. 1.1): for X = Σ_i a_{i,π(i)} with
 * a_ij ∈ [0, 1] and π uniform, P(|X − E X| >= t) <= 2 exp(−t² / (4 E X + 2t)). Natural log of the bound on the upper
 * tail, given t > 0 and E X, both in the [0, 1] scale.
 */
export function chatterjeeLogBound(t: number, meanInUnitScale: number): number {
  if (!(t > 0)) return 0;
  return Math.min(0, LN_2 - (t * t) / (4 * Math.max(0, meanInUnitScale) + 2 * t));
}

/**
 * Hoeffding's inequality for a Rademacher sum: P(Σ_r s_r c_r >= t) <= exp(−t² / (2 Σ c_r²)) with independent fair signs
 * s_r. Natural log.
 */
export function rademacherLogBound(t: number, sumSquares: number): number {
  if (!(t > 0) || !(sumSquares > 0)) return 0;
  return -(t * t) / (2 * sumSquares);
}

// ---------------------------------------------------------------------------------------------------------------------
// Normal tail

/** erf(x) for 0 <= x <= 2 by the all-positive series erf x = (2x/√π) e^{−x²} Σ (2x²)^k / (2k+1)!! (A&S 7.1.6). */
function erfSeries(x: number): number {
  const twiceSquare = 2 * x * x;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 200; k++) {
    term *= twiceSquare / (2 * k + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return ((2 * x) / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

/**
 * ln erfc(x) for x >= 0. Below 2 from 1 − erf (at most 2.3 digits lost). From 2 up, Laplace's continued fraction
 * erfc x = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) (A&S 7.1.14) evaluated by modified Lentz; it is kept
 * in log form so x = 1e4 (erfc ~ e^{−1e8}) is fine.
 */
function logErfc(x: number): number {
  if (x < 2) return Math.log1p(-erfSeries(x));
  let value = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 5000; k++) {
    const a = k / 2;
    d = x + a * d;
    if (Math.abs(d) < LENTZ_TINY) d = LENTZ_TINY;
    c = x + a / c;
    if (Math.abs(c) < LENTZ_TINY) c = LENTZ_TINY;
    d = 1 / d;
    const delta = c * d;
    value *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -x * x - LOG_SQRT_PI - Math.log(value);
}

/** ln P(Z > z) for a standard normal Z: relative accuracy ~1e-14 in p for z in [−40, 1e4] and beyond. */
export function logNormalSf(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z === Infinity) return -Infinity;
  if (z === -Infinity) return 0;
  const x = Math.abs(z) / Math.SQRT2;
  const logUpperTailOfAbs = -LN_2 + logErfc(x); // ln P(Z > |z|) = ln(erfc(|z|/√2)/2)
  return z >= 0 ? logUpperTailOfAbs : logOneMinusExp(logUpperTailOfAbs);
}

// ---------------------------------------------------------------------------------------------------------------------
// Permutation sum test (Hoeffding 1951 combinatorial CLT)

/** Result of a permutation test with a normal approximation to its exact permutation moments. */
export interface PermutationTestResult {
  /** Observed statistic. */
  statistic: number;
  /** Exact mean of the statistic over the permutation null. */
  nullMean: number;
  /** Exact variance of the statistic over the permutation null. */
  nullVariance: number;
  /** (statistic − nullMean) / sqrt(nullVariance); 0 when not testable. */
  z: number;
  /**
   * ln of the one-sided upper-tail p-value: a true upper bound on the permutation probability (the smaller of Cantelli's
   * and Chatterjee's inequalities), never below the floor; 0 (p = 1) when not testable.
   */
  logP: number;
  /** ln of the normal approximation to the same tail: for ranking and display only, it is not a certified bound. */
  normalLogP: number;
  /** ln of the smallest p-value the test can certify (1/n! for a permutation of n units). */
  floorLogP: number;
  /** Size of the permuted axis. */
  n: number;
  /** False when the permuted axis is too short, the null variance vanishes, or the inputs are not finite. */
  testable: boolean;
}

/** Result of permutationSumTest; rows is the number of rows sharing the one column permutation. */
export interface PermutationSumTestResult extends PermutationTestResult {
  rows: number;
}

function checkMatrix(name: string, matrix: Matrix, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new RangeError(`${name}: rows and cols must be non-negative integers, got ${rows}×${cols}`);
  }
  if (matrix.length !== rows * cols) {
    throw new RangeError(`${name}: expected ${rows}×${cols} = ${rows * cols} values, got ${matrix.length}`);
  }
}

/** Copy of a row-major matrix with each row's mean over the columns subtracted, plus the row sums. */
function centerRows(matrix: Matrix, rows: number, cols: number): { centered: Float64Array; rowSums: Float64Array } {
  const centered = new Float64Array(rows * cols);
  const rowSums = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const offset = r * cols;
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += matrix[offset + j]!;
    const mean = sum / cols;
    for (let j = 0; j < cols; j++) centered[offset + j] = matrix[offset + j]! - mean;
    rowSums[r] = sum;
  }
  return { centered, rowSums };
}

/**
 * Σ_{i,k} d_ik² for d = x̃ᵀỹ (cols×cols), the double-centered M = xᵀy. Picks the cheaper exact route:
 * Gram matrices Σ_{r,s} (x̃_r·x̃_s)(ỹ_r·ỹ_s) in O(rows²·cols) when rows <= cols, else the rows of d one at a time in
 * O(rows·cols²). Neither stores an n×n or rows×rows matrix.
 */
function sumSquaredDoubleCentered(xCentered: Float64Array, yCentered: Float64Array, rows: number, cols: number): number {
  let total = 0;
  if (rows <= cols) {
    for (let r = 0; r < rows; r++) {
      const rOffset = r * cols;
      for (let s = 0; s <= r; s++) {
        const sOffset = s * cols;
        let gramX = 0;
        let gramY = 0;
        for (let j = 0; j < cols; j++) {
          gramX += xCentered[rOffset + j]! * xCentered[sOffset + j]!;
          gramY += yCentered[rOffset + j]! * yCentered[sOffset + j]!;
        }
        total += (s === r ? 1 : 2) * gramX * gramY;
      }
    }
    return total;
  }
  const dRow = new Float64Array(cols);
  for (let i = 0; i < cols; i++) {
    dRow.fill(0);
    for (let r = 0; r < rows; r++) {
      const weight = xCentered[r * cols + i]!;
      if (weight === 0) continue;
      const offset = r * cols;
      for (let k = 0; k < cols; k++) dRow[k]! += weight * yCentered[offset + k]!;
    }
    for (let k = 0; k < cols; k++) total += dRow[k]! * dRow[k]!;
  }
  return total;
}

/**
 * Index-aligned sum test. x and y are row-major rows×cols; T = Σ_r Σ_j x[r,j]·y[r,j]. Null: one uniformly random
 * permutation π of the column axis applied to every row of y (B's units exchangeable w.r.t. A's). With M = xᵀy,
 * T(π) = Σ_j M[j,π(j)], whose exact permutation mean is Σ M / n and exact variance Σ d² / (n−1), d the double-centered M
 * (Hoeffding 1951, combinatorial CLT). logP is a certified bound: min(Cantelli, Chatterjee 2007) floored at 1/n!, or
 * the exact permutation p-value by enumeration when n <= 8;
 * z and normalLogP are the normal approximation, reported beside it. Transpose to permute rows.
 */
export function permutationSumTest(x: Matrix, y: Matrix, rows: number, cols: number): PermutationSumTestResult {
  checkMatrix('permutationSumTest x', x, rows, cols);
  checkMatrix('permutationSumTest y', y, rows, cols);
  const n = cols;
  const floorLogP = permutationFloorLogP(n);
  let statistic = 0;
  for (let i = 0; i < x.length; i++) statistic += x[i]! * y[i]!;
  const untestable = (nullMean: number, nullVariance: number): PermutationSumTestResult =>
    ({ statistic, nullMean, nullVariance, z: 0, logP: 0, normalLogP: 0, floorLogP, n, rows, testable: false });
  if (rows === 0 || n === 0) return untestable(0, 0);
  const { centered: xCentered, rowSums: xRowSums } = centerRows(x, rows, cols);
  const { centered: yCentered, rowSums: yRowSums } = centerRows(y, rows, cols);
  let nullMean = 0;
  let centeredStatistic = 0; // T − E = Σ_r x̃_r·ỹ_r exactly; computed directly to avoid cancelling two large sums
  let xEnergy = 0;
  let yEnergy = 0;
  for (let r = 0; r < rows; r++) nullMean += (xRowSums[r]! * yRowSums[r]!) / n;
  for (let i = 0; i < xCentered.length; i++) {
    centeredStatistic += xCentered[i]! * yCentered[i]!;
    xEnergy += xCentered[i]! * xCentered[i]!;
    yEnergy += yCentered[i]! * yCentered[i]!;
  }
  const nullVariance = n >= 2 ? sumSquaredDoubleCentered(xCentered, yCentered, rows, cols) / (n - 1) : 0;
  // Cauchy–Schwarz: Σ d² <= ‖x̃‖²‖ỹ‖²; rounding error in Σ d² is ~1e-16·rows of that bound, so 1e-10 separates
  // a genuinely constant T(π) from a tiny but real variance.
  const varianceBound = n >= 2 ? (xEnergy * yEnergy) / (n - 1) : 0;
  const testable =
    n >= 3 && Number.isFinite(statistic) && Number.isFinite(nullVariance) && nullVariance > 1e-10 * varianceBound && nullVariance > 0;
  if (!testable) return untestable(nullMean, nullVariance);
  const z = centeredStatistic / Math.sqrt(nullVariance);
  // T(π) − E = Σ_j d[j, π(j)] =: f with d the double-centered M (rows and columns sum to 0). Two certified tails from
  // Chatterjee's exchangeable pair (π, π∘(I J)), I, J uniform: Prop. 1.1 on d rescaled to [0, 1], and Thm 1.5 with
  // Δ(π) = (1/4n) Σ_ij (d_iπi + d_jπj − d_iπj − d_jπi)² = (1/4n)(2nΣ_i d_iπi² + 2f² + 2S + 2 tr(E²)) (cross terms vanish
  // because d is double-centered; E_ij = d_iπj), so Δ <= R/2 + F²/(2n) + S/n with S = Σ d², R >= Σ_i d_iπi² and F >= |f|
  // for every π (row or column maxima of d).
  const sumSquares = nullVariance * (n - 1);
  const { min, max, maxSquares, maxAbsSum } = doubleCenteredExtremes(xCentered, yCentered, rows, cols);
  const range = max - min;
  const chatterjee = range > 0 ? chatterjeeLogBound(centeredStatistic / range, (-min * n) / range) : 0;
  const exchangeablePairs = exchangeablePairsLogBound(centeredStatistic, maxSquares / 2 + (maxAbsSum * maxAbsSum) / (2 * n) + sumSquares / n);
  let logP = Math.max(floorLogP, Math.min(cantelliLogBound(z), chatterjee, exchangeablePairs));
  // Few units: the exact permutation p-value by enumeration (at most 8! = 40,320 arrangements).
  if (n <= EXACT_ENUMERATION_MAX_UNITS) logP = Math.log(exactPermutationTail(doubleCentered(xCentered, yCentered, rows, cols), n, centeredStatistic));
  return { statistic, nullMean, nullVariance, z, logP, normalLogP: logNormalSf(z), floorLogP, n, rows, testable };
}

const EXACT_ENUMERATION_MAX_UNITS = 8;

/** d = x̃ᵀỹ as a dense cols×cols matrix (only for small cols). */
function doubleCentered(xCentered: Float64Array, yCentered: Float64Array, rows: number, cols: number): Float64Array {
  const d = new Float64Array(cols * cols);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < cols; i++) {
      const weight = xCentered[r * cols + i]!;
      for (let k = 0; k < cols; k++) d[i * cols + k]! += weight * yCentered[r * cols + k]!;
    }
  }
  return d;
}

/** Fraction of the n! permutations π with Σ_i d[i, π(i)] >= observed (Heap's algorithm; ties count, with a tolerance). */
function exactPermutationTail(d: Float64Array, n: number, observed: number): number {
  const permutation = Int32Array.from({ length: n }, (_, i) => i);
  const counters = new Int32Array(n);
  let scale = 0;
  for (let i = 0; i < d.length; i++) scale = Math.max(scale, Math.abs(d[i]!));
  const tolerance = 1e-9 * scale * n;
  const sum = () => {
    let total = 0;
    for (let i = 0; i < n; i++) total += d[i * n + permutation[i]!]!;
    return total;
  };
  let atLeast = sum() >= observed - tolerance ? 1 : 0;
  let total = 1;
  for (let i = 1; i < n; ) {
    if (counters[i]! < i) {
      const j = i % 2 === 0 ? 0 : counters[i]!;
      [permutation[j], permutation[i]] = [permutation[i]!, permutation[j]!];
      total++;
      if (sum() >= observed - tolerance) atLeast++;
      counters[i]!++;
      i = 1;
    } else {
      counters[i] = 0;
      i++;
    }
  }
  return atLeast / total;
}

/**
 * Chatterjee (2007, Thm 1.5) with B = 0: when Δ(X) <= C for the exchangeable pair, P(f(X) >= t) <= exp(−t²/(2C)).
 * Natural log.
 */
export function exchangeablePairsLogBound(t: number, c: number): number {
  if (!(t > 0) || !(c > 0)) return 0;
  return -(t * t) / (2 * c);
}

/** Above this many multiply-adds the entries of d are bounded by Cauchy–Schwarz instead of computed. */
const EXACT_RANGE_MAX_WORK = 64e6;

/**
 * Extremes of d = x̃ᵀỹ (cols×cols, the double-centered M) that bound every permutation's sum: the smallest and largest
 * entry, maxSquares >= Σ_i d_iπ(i)² and maxAbsSum >= |Σ_i d_iπ(i)| for all π (the smaller of the row-wise and column-wise
 * sums of maxima). Exact when rows·cols² is affordable, else from |d_ik| <= ‖x̃ column i‖·‖ỹ column k‖ (Cauchy–Schwarz),
 * looser values that keep the bounds valid.
 */
function doubleCenteredExtremes(
  xCentered: Float64Array,
  yCentered: Float64Array,
  rows: number,
  cols: number,
): { min: number; max: number; maxSquares: number; maxAbsSum: number } {
  if (rows * cols * cols <= EXACT_RANGE_MAX_WORK) {
    let min = Infinity;
    let max = -Infinity;
    let rowSquares = 0;
    let rowPositive = 0;
    let rowNegative = 0;
    const columnSquare = new Float64Array(cols);
    const columnMax = new Float64Array(cols).fill(-Infinity);
    const columnMin = new Float64Array(cols).fill(Infinity);
    const dRow = new Float64Array(cols);
    for (let i = 0; i < cols; i++) {
      dRow.fill(0);
      for (let r = 0; r < rows; r++) {
        const weight = xCentered[r * cols + i]!;
        if (weight === 0) continue;
        const offset = r * cols;
        for (let k = 0; k < cols; k++) dRow[k]! += weight * yCentered[offset + k]!;
      }
      let rowMax = -Infinity;
      let rowMin = Infinity;
      for (let k = 0; k < cols; k++) {
        const value = dRow[k]!;
        if (value < rowMin) rowMin = value;
        if (value > rowMax) rowMax = value;
        if (value * value > columnSquare[k]!) columnSquare[k] = value * value;
        if (value > columnMax[k]!) columnMax[k] = value;
        if (value < columnMin[k]!) columnMin[k] = value;
      }
      min = Math.min(min, rowMin);
      max = Math.max(max, rowMax);
      rowSquares += Math.max(rowMax * rowMax, rowMin * rowMin);
      rowPositive += rowMax;
      rowNegative += rowMin;
    }
    let columnSquares = 0;
    let columnPositive = 0;
    let columnNegative = 0;
    for (let k = 0; k < cols; k++) {
      columnSquares += columnSquare[k]!;
      columnPositive += columnMax[k]!;
      columnNegative += columnMin[k]!;
    }
    const maxAbsSum = Math.min(Math.max(rowPositive, -rowNegative), Math.max(columnPositive, -columnNegative));
    return { min, max, maxSquares: Math.min(rowSquares, columnSquares), maxAbsSum };
  }
  const columnNormSquares = (m: Float64Array) => {
    const squares = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) squares[j]! += m[r * cols + j]! * m[r * cols + j]!;
    return squares;
  };
  const xSquares = columnNormSquares(xCentered);
  const ySquares = columnNormSquares(yCentered);
  let yMax = 0;
  let xMax = 0;
  let xTotal = 0;
  let xNormSum = 0;
  for (let j = 0; j < cols; j++) {
    yMax = Math.max(yMax, ySquares[j]!);
    xMax = Math.max(xMax, xSquares[j]!);
    xTotal += xSquares[j]!;
    xNormSum += Math.sqrt(xSquares[j]!);
  }
  const bound = Math.sqrt(xMax * yMax);
  return { min: -bound, max: bound, maxSquares: xTotal * yMax, maxAbsSum: xNormSum * Math.sqrt(yMax) };
}

/** Row-major transpose: rows×cols in, cols×rows out, same element type. */
export function transpose(matrix: Float64Array, rows: number, cols: number): Float64Array;
export function transpose(matrix: Float32Array, rows: number, cols: number): Float32Array;
export function transpose(matrix: Matrix, rows: number, cols: number): Matrix;
export function transpose(matrix: Matrix, rows: number, cols: number): Matrix {
  checkMatrix('transpose', matrix, rows, cols);
  const out = matrix instanceof Float32Array ? new Float32Array(matrix.length) : new Float64Array(matrix.length);
  // 32×32 tiles keep both the reads and the writes within a few cache lines for large matrices.
  const tile = 32;
  for (let r0 = 0; r0 < rows; r0 += tile) {
    const rEnd = Math.min(rows, r0 + tile);
    for (let c0 = 0; c0 < cols; c0 += tile) {
      const cEnd = Math.min(cols, c0 + tile);
      for (let r = r0; r < rEnd; r++) {
        for (let c = c0; c < cEnd; c++) out[c * rows + r] = matrix[r * cols + c]!;
      }
    }
  }
  return out;
}

/**
 * Each row replaced by its centered ranks (1..cols, ties given their average rank, minus (cols+1)/2). A permutation test
 * on ranks keeps the same exact null but its normal approximation no longer hinges on a few outlier coordinates
 * (heavy-tailed weights, massive activations). NaN has no rank and is rejected.
 */
export function rankTransformRows(matrix: Matrix, rows: number, cols: number): Float64Array {
  checkMatrix('rankTransformRows', matrix, rows, cols);
  const ranked = new Float64Array(rows * cols);
  const order = new Uint32Array(cols);
  const center = (cols + 1) / 2;
  for (let r = 0; r < rows; r++) {
    const offset = r * cols;
    for (let j = 0; j < cols; j++) {
      if (Number.isNaN(matrix[offset + j]!)) throw new RangeError(`rankTransformRows: NaN at row ${r}, column ${j}`);
      order[j] = j;
    }
    order.sort((a, b) => matrix[offset + a]! - matrix[offset + b]! || a - b);
    let start = 0;
    while (start < cols) {
      const value = matrix[offset + order[start]!]!;
      let end = start + 1;
      while (end < cols && matrix[offset + order[end]!]! === value) end++;
      // Positions start..end−1 hold ranks start+1..end; their average is (start + end + 1)/2.
      const averageRank = (start + end + 1) / 2 - center;
      for (let t = start; t < end; t++) ranked[offset + order[t]!] = averageRank;
      start = end;
    }
  }
  return ranked;
}

// ---------------------------------------------------------------------------------------------------------------------
// Mantel test (Mantel 1967; Hubert & Schultz 1976 quadratic assignment moments)

/** Symmetrized off-diagonal moments of a centered matrix: S2 = Σ_{i≠j} a_ij², S3 = Σ_i (Σ_{j≠i} a_ij)². */
interface OffDiagonalMoments {
  sum: number;
  sumSquares: number;
  sumRowSumsSquared: number;
}

function offDiagonalMoments(matrix: Matrix, n: number): OffDiagonalMoments {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) if (i !== j) sum += matrix[i * n + j]!;
  }
  const mean = sum / (n * (n - 1));
  let sumSquares = 0;
  let sumRowSumsSquared = 0;
  for (let i = 0; i < n; i++) {
    let rowSum = 0;
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const value = (matrix[i * n + j]! + matrix[j * n + i]!) / 2 - mean;
      rowSum += value;
      sumSquares += value * value;
    }
    sumRowSumsSquared += rowSum * rowSum;
  }
  return { sum, sumSquares, sumRowSumsSquared };
}

/**
 * Mantel test for two n×n row-major matrices: Γ = Σ_{i≠j} a_ij·b_ij; null: one random permutation applied to both the
 * rows and the columns of b. Only the symmetric parts (a+aᵀ)/2, (b+bᵀ)/2 enter (Γ is unchanged for symmetric inputs).
 * Exact moments: E = S1a·S1b / (n(n−1)); after centering the off-diagonal entries (S1 = 0, which leaves Var unchanged),
 * Var = 2·S2a·S2b/n₂ + 4(S3a−S2a)(S3b−S2b)/n₃ + (2S2a−4S3a)(2S2b−4S3b)/n₄ with n_k the falling factorial n(n−1)···
 * (pairs sharing both, one, or no index; cf. Mantel 1967, Hubert 1987 "Assignment Methods in Combinatorial Data
 * Analysis"). Needs n >= 4. logP is Cantelli's bound from those exact moments (conservative, always valid);
 * normalLogP is the normal approximation, for ranking only.
 */
export function mantelTest(a: Matrix, b: Matrix, n: number): PermutationTestResult {
  checkMatrix('mantelTest a', a, n, n);
  checkMatrix('mantelTest b', b, n, n);
  let statistic = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      statistic += ((a[i * n + j]! + a[j * n + i]!) / 2) * ((b[i * n + j]! + b[j * n + i]!) / 2);
    }
  }
  const floorLogP = permutationFloorLogP(n);
  if (n < 4) return { statistic, nullMean: 0, nullVariance: 0, z: 0, logP: 0, normalLogP: 0, floorLogP, n, testable: false };
  const momentsA = offDiagonalMoments(a, n);
  const momentsB = offDiagonalMoments(b, n);
  const pairs = n * (n - 1);
  const triples = pairs * (n - 2);
  const quadruples = triples * (n - 3);
  const nullMean = (momentsA.sum * momentsB.sum) / pairs;
  const sharedBoth = (2 * momentsA.sumSquares * momentsB.sumSquares) / pairs;
  const sharedOne =
    (4 * (momentsA.sumRowSumsSquared - momentsA.sumSquares) * (momentsB.sumRowSumsSquared - momentsB.sumSquares)) / triples;
  const sharedNone =
    ((2 * momentsA.sumSquares - 4 * momentsA.sumRowSumsSquared) * (2 * momentsB.sumSquares - 4 * momentsB.sumRowSumsSquared)) /
    quadruples;
  const nullVariance = sharedBoth + sharedOne + sharedNone;
  const varianceBound = momentsA.sumSquares * momentsB.sumSquares;
  const testable =
    Number.isFinite(statistic) && Number.isFinite(nullVariance) && nullVariance > 0 && nullVariance > 1e-12 * varianceBound;
  if (!testable) return { statistic, nullMean, nullVariance, z: 0, logP: 0, normalLogP: 0, floorLogP, n, testable };
  const z = (statistic - nullMean) / Math.sqrt(nullVariance);
  // A quadratic assignment statistic has no Chatterjee-type bound here: Cantelli (exact moments) is the certified tail.
  return { statistic, nullMean, nullVariance, z, logP: Math.max(floorLogP, cantelliLogBound(z)), normalLogP: logNormalSf(z), floorLogP, n, testable };
}

// ---------------------------------------------------------------------------------------------------------------------
// Hypergeometric overlap

function requireCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`hypergeometricLogSf: ${name} must be a non-negative integer, got ${value}`);
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/**
 * ln P(X >= observed) for X ~ Hypergeometric(population N, successes K, draws n): the overlap of a random n-subset with
 * a fixed K-subset (e.g. two top-m outlier-coordinate sets under the exchangeable null). Exact: the first term from
 * log-binomials, the rest by the term ratio (K−i)(n−i)/((i+1)(N−K−n+i+1)), summed in log space, stopping once terms past
 * the mode fall below 1e-20 of the running sum.
 */
export function hypergeometricLogSf(population: number, successes: number, draws: number, observed: number): number {
  requireCount('population', population);
  requireCount('successes', successes);
  requireCount('draws', draws);
  if (!Number.isInteger(observed)) throw new RangeError(`hypergeometricLogSf: observed must be an integer, got ${observed}`);
  if (successes > population || draws > population) {
    throw new RangeError(`hypergeometricLogSf: need successes, draws <= population (${successes}, ${draws}, ${population})`);
  }
  const lowest = Math.max(0, draws + successes - population);
  const highest = Math.min(draws, successes);
  if (observed <= lowest) return 0;
  if (observed > highest) return -Infinity;
  let logTerm =
    logChoose(successes, observed) + logChoose(population - successes, draws - observed) - logChoose(population, draws);
  let logSum = logTerm;
  for (let i = observed; i < highest; i++) {
    logTerm += Math.log(((successes - i) * (draws - i)) / ((i + 1) * (population - successes - draws + i + 1)));
    logSum = logSum >= logTerm ? logSum + Math.log1p(Math.exp(logTerm - logSum)) : logTerm + Math.log1p(Math.exp(logSum - logTerm));
    if (logTerm < logSum - 46) {
      // Past the mode the ratio only decreases, so the remaining tail is bounded by a geometric series of tiny terms.
      const nextRatio = ((successes - i - 1) * (draws - i - 1)) / ((i + 2) * (population - successes - draws + i + 2));
      if (nextRatio < 0.5) break;
    }
  }
  return Math.min(0, logSum);
}

// ---------------------------------------------------------------------------------------------------------------------
// Combining p-values

/**
 * Fisher's method: X = −2 Σ ln p_i ~ χ²(2L) under H0 when the L p-values are independent and uniform. For even degrees of
 * freedom the survival function is closed form, P(χ²_{2L} > t) = e^{−t/2} Σ_{i<L} (t/2)^i / i! (Poisson–χ² duality), used
 * here in log space. An empty list gives 0 (p = 1). Not valid for dependent components (e.g. one residual π shared by all
 * layers); use bonferroniLogP or a joint statistic there.
 */
export function fisherCombineLogP(logPs: ArrayLike<number>): number {
  const count = logPs.length;
  if (count === 0) return 0;
  let half = 0; // t/2 = −Σ ln p
  for (let i = 0; i < count; i++) {
    const logP = logPs[i]!;
    if (Number.isNaN(logP)) throw new RangeError('fisherCombineLogP: NaN log p-value');
    half -= Math.min(0, logP);
  }
  if (half === Infinity) return -Infinity;
  if (half === 0) return 0;
  const logHalf = Math.log(half);
  const logTerms = new Float64Array(count);
  for (let i = 0; i < count; i++) logTerms[i] = i * logHalf - logGamma(i + 1);
  return Math.min(0, -half + logSumExp(logTerms));
}

/** Bonferroni / min-p: ln min(1, m · min p). Valid under any dependence. An empty list gives 0. */
export function bonferroniLogP(logPs: ArrayLike<number>): number {
  if (logPs.length === 0) return 0;
  let minimum = Infinity;
  for (let i = 0; i < logPs.length; i++) {
    if (Number.isNaN(logPs[i]!)) throw new RangeError('bonferroniLogP: NaN log p-value');
    minimum = Math.min(minimum, logPs[i]!);
  }
  return Math.min(0, Math.log(logPs.length) + minimum);
}

/**
 * Holm (1979) step-down adjusted log p-values, returned in the input order: sorted ascending, p_(k) is adjusted to
 * max_{j<=k} min(1, (m−j)·p_(j)) (0-based j). Controls the family-wise error rate under any dependence.
 */
export function holmAdjust(logPs: ArrayLike<number>): Float64Array {
  const count = logPs.length;
  const adjusted = new Float64Array(count);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < count; i++) if (Number.isNaN(logPs[i]!)) throw new RangeError('holmAdjust: NaN log p-value');
  order.sort((i, j) => logPs[i]! - logPs[j]! || i - j);
  let runningMaximum = -Infinity;
  for (let rank = 0; rank < count; rank++) {
    const index = order[rank]!;
    const scaled = Math.min(0, Math.log(count - rank) + logPs[index]!);
    runningMaximum = Math.max(runningMaximum, scaled);
    adjusted[index] = runningMaximum;
  }
  return adjusted;
}

// ---------------------------------------------------------------------------------------------------------------------
// Random directions

/**
 * ln I_x(a, b), the regularized incomplete beta, with y = 1 − x passed separately to keep precision near x = 1.
 * Continued fraction (Numerical Recipes §6.4, modified Lentz) on the side where it converges fast, x < (a+1)/(a+b+2);
 * otherwise the complement 1 − I_y(b, a).
 */
function logRegularizedIncompleteBeta(x: number, y: number, a: number, b: number): number {
  if (x <= 0) return -Infinity;
  if (y <= 0) return 0;
  if (x < (a + 1) / (a + b + 2)) return logIncompleteBetaByContinuedFraction(x, y, a, b);
  return logOneMinusExp(logIncompleteBetaByContinuedFraction(y, x, b, a));
}

function logIncompleteBetaByContinuedFraction(x: number, y: number, a: number, b: number): number {
  const logPrefactor = a * Math.log(x) + b * Math.log(y) - (logGamma(a) + logGamma(b) - logGamma(a + b)) - Math.log(a);
  const sum = a + b;
  let c = 1;
  let d = 1 - (sum * x) / (a + 1);
  if (Math.abs(d) < LENTZ_TINY) d = LENTZ_TINY;
  d = 1 / d;
  let fraction = d;
  for (let m = 1; m < 100000; m++) {
    const twoM = 2 * m;
    let coefficient = (m * (b - m) * x) / ((a + twoM - 1) * (a + twoM));
    d = 1 + coefficient * d;
    if (Math.abs(d) < LENTZ_TINY) d = LENTZ_TINY;
    c = 1 + coefficient / c;
    if (Math.abs(c) < LENTZ_TINY) c = LENTZ_TINY;
    d = 1 / d;
    fraction *= d * c;
    coefficient = (-(a + m) * (sum + m) * x) / ((a + twoM) * (a + twoM + 1));
    d = 1 + coefficient * d;
    if (Math.abs(d) < LENTZ_TINY) d = LENTZ_TINY;
    c = 1 + coefficient / c;
    if (Math.abs(c) < LENTZ_TINY) c = LENTZ_TINY;
    d = 1 / d;
    const delta = d * c;
    fraction *= delta;
    if (Math.abs(delta - 1) < 4 * MACHINE_EPSILON) break;
  }
  return logPrefactor + Math.log(fraction);
}

/**
 * ln P(cos θ > c) for two independent uniformly random directions in R^dim (dim >= 2). cos θ is distributed as one
 * coordinate of a uniform point on the sphere, density ∝ (1−t²)^{(dim−3)/2}, so for c >= 0
 * P = ½·I_{1−c²}((dim−1)/2, ½) and for c < 0 P = 1 − P(cos θ > |c|) (symmetry).
 */
export function logBetaCosineSf(c: number, dim: number): number {
  if (!Number.isInteger(dim) || dim < 2) throw new RangeError(`logBetaCosineSf: dim must be an integer >= 2, got ${dim}`);
  if (Number.isNaN(c)) return NaN;
  if (c >= 1) return -Infinity;
  if (c <= -1) return 0;
  const magnitude = Math.abs(c);
  // 1 − c² as (1 − |c|)(1 + |c|) keeps full relative precision as |c| → 1.
  const logTail = -LN_2 + logRegularizedIncompleteBeta((1 - magnitude) * (1 + magnitude), magnitude * magnitude, (dim - 1) / 2, 0.5);
  return c >= 0 ? logTail : logOneMinusExp(logTail);
}

/**
 * ln P(max of m iid statistics exceeds s) given ln P(one exceeds s) = logP1: ln(1 − (1−p)^m), computed as
 * ln(−expm1(m·log1p(−p))), or ln m + logP1 when m·p < 1e-13 (the next term, −(m−1)p/2, is then below double precision).
 */
export function logMaxOfIndependentSf(logP1: number, m: number): number {
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`logMaxOfIndependentSf: m must be a positive integer, got ${m}`);
  if (Number.isNaN(logP1)) return NaN;
  if (logP1 >= 0) return 0;
  if (logP1 === -Infinity) return -Infinity;
  const logMP = Math.log(m) + logP1;
  if (logMP < -30) return logMP;
  const logAllBelow = m * Math.log1p(-Math.exp(logP1));
  return Math.min(0, logOneMinusExp(logAllBelow));
}
