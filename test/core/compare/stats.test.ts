// Tests for the closed-form null distributions: reference values (mpmath, 40 digits), exhaustive and Monte Carlo checks
// of the exact permutation moments, and calibration of the p-values on data generated under the null.

import { strict as assert } from 'node:assert';
import {
  permutationFloorLogP,
  rademacherLogBound,
  signFlipFloorLogP,
  bonferroniLogP,
  fisherCombineLogP,
  formatPValue,
  holmAdjust,
  hypergeometricLogSf,
  log10P,
  logBetaCosineSf,
  logGamma,
  logMaxOfIndependentSf,
  logNormalSf,
  logSumExp,
  mantelTest,
  permutationSumTest,
  rankTransformRows,
  transpose,
} from '../../../server/src/core/compare/stats';
import { createPrng, type Prng } from '../../../server/src/core/util/prng';

function assertClose(actual: number, expected: number, tolerance: number, label = ''): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${label} expected ${expected}, got ${actual} (tolerance ${tolerance})`);
}

function assertRelativelyClose(actual: number, expected: number, relativeTolerance: number, label = ''): void {
  assertClose(actual, expected, relativeTolerance * Math.abs(expected), label);
}

function gaussianMatrix(prng: Prng, length: number, mean = 0, sd = 1): Float64Array {
  return Float64Array.from({ length }, () => mean + sd * prng.gaussian());
}

function studentT3(prng: Prng): number {
  const chiSquare3 = prng.gaussian() ** 2 + prng.gaussian() ** 2 + prng.gaussian() ** 2;
  return prng.gaussian() / Math.sqrt(chiSquare3 / 3);
}

/** Calls visit with every permutation of 0..n−1 (Heap's algorithm); the array is reused between calls. */
function forEachPermutation(n: number, visit: (permutation: Int32Array) => void): void {
  const permutation = Int32Array.from({ length: n }, (_, i) => i);
  const counters = new Int32Array(n);
  visit(permutation);
  let i = 1;
  while (i < n) {
    if (counters[i]! < i) {
      const j = i % 2 === 0 ? 0 : counters[i]!;
      const held = permutation[j]!;
      permutation[j] = permutation[i]!;
      permutation[i] = held;
      visit(permutation);
      counters[i]! += 1;
      i = 1;
    } else {
      counters[i] = 0;
      i++;
    }
  }
}

/** T(π) = Σ_r Σ_j x[r,j]·y[r,π(j)]. */
function permutedSum(x: Float64Array, y: Float64Array, rows: number, cols: number, permutation: ArrayLike<number>): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) total += x[r * cols + j]! * y[r * cols + permutation[j]!]!;
  }
  return total;
}

/** Γ(π) = Σ_{i≠j} a_ij·b_{π(i)π(j)}. */
function permutedMantel(a: Float64Array, b: Float64Array, n: number, permutation: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) if (i !== j) total += a[i * n + j]! * b[permutation[i]! * n + permutation[j]!]!;
  }
  return total;
}

function momentsOf(values: ArrayLike<number>): { mean: number; variance: number } {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i]!;
  mean /= values.length;
  let variance = 0;
  for (let i = 0; i < values.length; i++) variance += (values[i]! - mean) ** 2;
  return { mean, variance: variance / values.length };
}

function randomSymmetric(prng: Prng, n: number, mean: number): Float64Array {
  const matrix = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const value = mean + prng.gaussian() + (i === j ? 100 : 0); // the diagonal must not matter
      matrix[i * n + j] = value;
      matrix[j * n + i] = value;
    }
  }
  return matrix;
}

describe('stats', () => {
  describe('logNormalSf', () => {
    it('matches high-precision reference values', () => {
      assertClose(logNormalSf(0), Math.log(0.5), 1e-15, 'z=0');
      assertRelativelyClose(logNormalSf(5), Math.log(2.866515718791939e-7), 1e-14, 'z=5');
      // mpmath: log(erfc(z/√2)/2) at 40 digits.
      const references: Array<[number, number]> = [
        [-10, -7.6198530241605260704e-24],
        [-3, -0.0013508099647481937988],
        [1, -1.8410216450092635058],
        [2, -3.7831843336820319488],
        [2.8, -5.9696520466752079283],
        [2.83, -6.0630034254651945831],
        [3, -6.6077262215103495433],
        [8, -35.013437159914549896],
        [20, -203.91715537109726394],
        [40, -804.60844201375378817],
        [1000, -500007.8266948121843098062],
        [10000, -50000010.12927891518085523],
      ];
      for (const [z, expected] of references) assertRelativelyClose(logNormalSf(z), expected, 1e-13, `z=${z}`);
    });

    it('is ~0 for very negative z, monotone, and handles infinities', () => {
      const atMinus40 = logNormalSf(-40);
      assert.ok(atMinus40 <= 0 && atMinus40 > -1e-300);
      let previous = 0.1;
      for (let z = -40; z <= 60; z += 0.01) {
        const value = logNormalSf(z);
        assert.ok(value <= previous, `not monotone at z=${z}`);
        previous = value;
      }
      assert.equal(logNormalSf(Infinity), -Infinity);
      assert.equal(logNormalSf(-Infinity), 0);
      assert.ok(Number.isNaN(logNormalSf(NaN)));
    });
  });

  describe('helpers', () => {
    it('logGamma: exact integers, half-integers, reflection, poles', () => {
      assert.equal(logGamma(1), 0);
      assert.equal(logGamma(2), 0);
      assertClose(logGamma(100), 359.1342053695754, 1e-12);
      assertClose(logGamma(0.5), 0.5 * Math.log(Math.PI), 4e-15);
      assertClose(logGamma(1.5), 0.5 * Math.log(Math.PI) - Math.LN2, 4e-15);
      assertClose(logGamma(-0.5), Math.log(2 * Math.sqrt(Math.PI)), 1e-14);
      assertClose(logGamma(1e6), 1e6 * Math.log(1e6) - 1e6 - 0.5 * Math.log(1e6) + 0.5 * Math.log(2 * Math.PI) + 1 / 12e6, 1e-8);
      // Γ(x+1) = xΓ(x) across the switch to Stirling at 10.
      for (const x of [0.3, 4.7, 9.5, 9.99, 12.25]) assertClose(logGamma(x + 1) - logGamma(x), Math.log(x), 1e-13, `x=${x}`);
      assert.equal(logGamma(0), Infinity);
      assert.equal(logGamma(-3), Infinity);
    });

    it('logSumExp is stable', () => {
      assertClose(logSumExp([0, Math.log(2), Math.log(3)]), Math.log(6), 1e-15);
      assertClose(logSumExp([1000, 1000]), 1000 + Math.LN2, 1e-12);
      assertClose(logSumExp([-1000, -1000]), -1000 + Math.LN2, 1e-12);
      assert.equal(logSumExp([-Infinity, -Infinity]), -Infinity);
      assert.equal(logSumExp([]), -Infinity);
    });

    it('formatPValue and log10P', () => {
      assert.equal(formatPValue(Math.log(0.031)), 'p = 0.031');
      assert.equal(formatPValue(Math.log(0.5)), 'p = 0.5');
      assert.equal(formatPValue(Math.log(0.0012)), 'p = 0.0012');
      assert.equal(formatPValue(Math.log(3.2e-5)), 'p = 3.2e-5');
      assert.equal(formatPValue(Math.log(9.96e-6)), 'p = 1.0e-5');
      assert.equal(formatPValue(Math.log(2.5e-300)), 'p = 2.5e-300');
      // Every p is an upper bound, so far below 1e-300 only the (rounded-up) order of magnitude is printed.
      assert.equal(formatPValue(-1234.4 * Math.LN10), 'p < 1e-1234');
      assert.equal(formatPValue(logNormalSf(1000)), 'p < 1e-217150');
      // At a test's floor (1/n!, 2^-k) the certified statement is "p ≤ floor".
      assert.equal(formatPValue(permutationFloorLogP(64), permutationFloorLogP(64)), "p ≤ 7.9e-90 (the test's floor)");
      assert.equal(formatPValue(permutationFloorLogP(256), permutationFloorLogP(256)), "p ≤ 1e-506 (the test's floor)");
      assert.equal(formatPValue(Math.log(1e-20), permutationFloorLogP(64)), 'p = 1.0e-20');
      assert.equal(formatPValue(0), 'p = 1');
      assert.equal(formatPValue(-Infinity), 'p = 0');
      assertClose(log10P(Math.log(1e-5)), -5, 1e-12);
      assertClose(log10P(-1e6), -1e6 / Math.LN10, 1e-6);
    });
  });

  describe('permutationSumTest', () => {
    it('is exact for at most 8 units: identical rows give exactly 1/n!', () => {
      const prng = createPrng('exact-small');
      for (const cols of [3, 5, 8]) {
        const x = gaussianMatrix(prng, 20 * cols);
        const result = permutationSumTest(x, x, 20, cols);
        assertClose(result.logP, result.floorLogP, 1e-9, `n = ${cols}`);
      }
    });

    it('has exactly the mean and variance of the full permutation distribution', () => {
      // Both internal routes: Gram matrices (rows <= cols) and rows of the double-centered M (rows > cols).
      for (const [rows, cols] of [
        [3, 6],
        [9, 5],
        [1, 7],
      ] as const) {
        const prng = createPrng(`exhaustive-${rows}x${cols}`);
        const x = gaussianMatrix(prng, rows * cols, 2, 1);
        const y = gaussianMatrix(prng, rows * cols, -1, 3);
        const values: number[] = [];
        forEachPermutation(cols, (permutation) => values.push(permutedSum(x, y, rows, cols, permutation)));
        const exact = momentsOf(values);
        const result = permutationSumTest(x, y, rows, cols);
        assert.ok(result.testable);
        assertRelativelyClose(result.nullMean, exact.mean, 1e-12, 'mean');
        assertRelativelyClose(result.nullVariance, exact.variance, 1e-10, 'variance');
        assertClose(result.statistic, permutedSum(x, y, rows, cols, Int32Array.from({ length: cols }, (_, i) => i)), 1e-10);
      }
    });

    it('matches Monte Carlo moments over 20,000 random permutations', () => {
      for (const [rows, cols] of [
        [6, 40],
        [50, 12],
      ] as const) {
        const prng = createPrng(`monte-carlo-${rows}x${cols}`);
        const x = gaussianMatrix(prng, rows * cols, 0.5, 1);
        const y = Float64Array.from({ length: rows * cols }, () => studentT3(prng) + 0.2);
        const permutation = Int32Array.from({ length: cols }, (_, i) => i);
        const values = new Float64Array(20000);
        for (let t = 0; t < values.length; t++) values[t] = permutedSum(x, y, rows, cols, prng.shuffle(permutation));
        const simulated = momentsOf(values);
        const result = permutationSumTest(x, y, rows, cols);
        const sd = Math.sqrt(result.nullVariance);
        // Standard error of the simulated mean is sd/√20000 = 0.007 sd; of the variance about 1%.
        assertClose(simulated.mean, result.nullMean, 0.03 * sd, `mean ${rows}x${cols}`);
        assertRelativelyClose(simulated.variance, result.nullVariance, 0.05, `variance ${rows}x${cols}`);
      }
    });

    const calibrationCases: Array<{ name: string; draw: (prng: Prng) => number; ranks: boolean }> = [
      { name: 'Gaussian', draw: (prng) => prng.gaussian(), ranks: false },
      { name: 'Gaussian with offsets', draw: (prng) => 3 + 2 * prng.gaussian(), ranks: false },
      { name: 'Student-t(3), rank-transformed', draw: studentT3, ranks: true },
    ];
    for (const { name, draw, ranks } of calibrationCases) {
      it(`is calibrated under the null: ${name}, 2,000 trials`, () => {
        const prng = createPrng(`calibration-${name}`);
        const rows = 16;
        const cols = 64;
        const trials = 2000;
        let below05 = 0;
        let below01 = 0;
        for (let t = 0; t < trials; t++) {
          let x: Float64Array = Float64Array.from({ length: rows * cols }, () => draw(prng));
          let y: Float64Array = Float64Array.from({ length: rows * cols }, () => draw(prng));
          if (ranks) {
            x = rankTransformRows(x, rows, cols);
            y = rankTransformRows(y, rows, cols);
          }
          const { logP, testable } = permutationSumTest(x, y, rows, cols);
          assert.ok(testable);
          if (logP < Math.log(0.05)) below05++;
          if (logP < Math.log(0.01)) below01++;
        }
        // logP is a certified bound, so it may only be conservative: at most the nominal rate plus ~3 binomial standard
        // errors (0.0049 at 5%, 0.0022 at 1%).
        assert.ok(below05 / trials <= 0.05 + 0.015, `${name}: P(p<0.05) = ${below05 / trials}`);
        assert.ok(below01 / trials <= 0.01 + 0.007, `${name}: P(p<0.01) = ${below01 / trials}`);
      });
    }

    it('needs ranks or a certified bound when one coordinate is massive', () => {
      // One column of x and one of y are 30× larger (massive-activation dims) at independent random positions. When the
      // permutation happens to line them up (probability 1/cols) the raw normal approximation reports p < 1e-6;
      // ranks bound every coordinate's influence, and the certified bound (which sees the largest entries) never
      // claims the far tail.
      const prng = createPrng('massive-coordinate');
      const rows = 16;
      const cols = 64;
      const trials = 2000;
      let rawFarTail = 0;
      let rawBoundFarTail = 0;
      let rankedFarTail = 0;
      for (let t = 0; t < trials; t++) {
        const x = gaussianMatrix(prng, rows * cols);
        const y = gaussianMatrix(prng, rows * cols);
        const massiveX = prng.nextInt(cols);
        const massiveY = prng.nextInt(cols);
        for (let r = 0; r < rows; r++) {
          x[r * cols + massiveX]! *= 30;
          y[r * cols + massiveY]! *= 30;
        }
        const raw = permutationSumTest(x, y, rows, cols);
        if (raw.normalLogP < Math.log(1e-6)) rawFarTail++;
        if (raw.logP < Math.log(1e-4)) rawBoundFarTail++;
        const ranked = permutationSumTest(rankTransformRows(x, rows, cols), rankTransformRows(y, rows, cols), rows, cols);
        if (ranked.logP < Math.log(1e-4)) rankedFarTail++;
      }
      assert.ok(rawFarTail >= 5, `raw normal-approximation far-tail count ${rawFarTail} (expected about ${trials / cols})`);
      assert.ok(rawBoundFarTail <= 2, `raw certified bound below 1e-4: ${rawBoundFarTail} (expected 0.2)`);
      assert.ok(rankedFarTail <= 2, `ranked count below 1e-4: ${rankedFarTail} (expected 0.2)`);
    });

    it('has power against shared weights', () => {
      const prng = createPrng('power');
      const rows = 16;
      const cols = 64;
      const x = gaussianMatrix(prng, rows * cols);
      const y = Float64Array.from(x, (value) => value + prng.gaussian()); // correlation 0.71
      const result = permutationSumTest(x, y, rows, cols);
      assert.ok(result.testable);
      assert.ok(result.z > 15, `z = ${result.z}`);
      // The normal approximation claims ~1e-50; the certified bound is far more modest with 64 columns.
      assert.ok(result.normalLogP < Math.log(1e-50), formatPValue(result.normalLogP));
      assert.ok(result.logP < Math.log(1e-4) && result.logP > result.normalLogP, formatPValue(result.logP));
      const independent = permutationSumTest(x, gaussianMatrix(prng, rows * cols), rows, cols);
      assert.ok(independent.logP > Math.log(1e-4));
    });

    it('is not testable with fewer than 3 columns or a constant permuted axis', () => {
      const prng = createPrng('untestable');
      const two = permutationSumTest(gaussianMatrix(prng, 20), gaussianMatrix(prng, 20), 10, 2);
      assert.equal(two.testable, false);
      assert.equal(two.logP, 0);
      assert.equal(two.n, 2);
      const constantRows = new Float64Array(4 * 8).fill(1.5);
      const flat = permutationSumTest(gaussianMatrix(prng, 32), constantRows, 4, 8);
      assert.equal(flat.testable, false);
      assert.equal(flat.logP, 0);
      // x lives in row 0 only, y in row 1 only: T(π) is constant although neither matrix is.
      const x = new Float64Array(2 * 5);
      const y = new Float64Array(2 * 5);
      for (let j = 0; j < 5; j++) {
        x[j] = prng.gaussian();
        y[5 + j] = prng.gaussian();
      }
      assert.equal(permutationSumTest(x, y, 2, 5).testable, false);
      assert.throws(() => permutationSumTest(new Float64Array(6), new Float64Array(5), 2, 3), RangeError);
    });

    it('accepts Float32Array input', () => {
      const prng = createPrng('float32');
      const x64 = gaussianMatrix(prng, 8 * 32);
      const y64 = gaussianMatrix(prng, 8 * 32);
      const result64 = permutationSumTest(x64, y64, 8, 32);
      const result32 = permutationSumTest(Float32Array.from(x64), Float32Array.from(y64), 8, 32);
      assertClose(result32.z, result64.z, 1e-4);
    });
  });

  describe('transpose and rankTransformRows', () => {
    it('transposes row-major matrices and keeps the element type', () => {
      const matrix = Float64Array.from([1, 2, 3, 4, 5, 6]);
      assert.deepEqual([...transpose(matrix, 2, 3)], [1, 4, 2, 5, 3, 6]);
      const prng = createPrng('transpose');
      const large = Float32Array.from({ length: 70 * 45 }, () => prng.gaussian());
      const transposed = transpose(large, 70, 45);
      assert.ok(transposed instanceof Float32Array);
      assert.equal(transposed[7 * 70 + 33], large[33 * 45 + 7]);
      assert.deepEqual(transpose(transposed, 45, 70), large);
    });

    it('replaces rows by centered ranks with ties averaged', () => {
      // Row 0: 3,1,2,5 → ranks 3,1,2,4; row 1: 5,1,7,0 → ranks 3,2,4,1; both centered by (4+1)/2.
      const ranked = rankTransformRows(Float64Array.from([3, 1, 2, 5, 5, 1, 7, 0]), 2, 4);
      assert.deepEqual([...ranked], [0.5, -1.5, -0.5, 1.5, 0.5, -0.5, 1.5, -1.5]);
      assert.throws(() => rankTransformRows(Float64Array.from([1, NaN, 2]), 1, 3), RangeError);
      const ties = rankTransformRows(Float64Array.from([5, 5, 1, 7]), 1, 4);
      assert.deepEqual([...ties], [0, 0, -1.5, 1.5]);
    });
  });

  describe('certified bounds and floors (issue 14)', () => {
    it('the bound is never below the exact permutation p-value (all 9! arrangements enumerated)', () => {
      // 9 columns: above the exact-enumeration limit (8), so logP is the concentration bound itself.
      const prng = createPrng('bound-exhaustive');
      const cols = 9;
      for (const [rows, shared] of [
        [3, 0],
        [5, 0.5],
        [8, 0.9],
        [2, 1],
        [12, 1],
      ] as const) {
        for (let trial = 0; trial < 2; trial++) {
          const x = gaussianMatrix(prng, rows * cols);
          const y = Float64Array.from(x, (value) => shared * value + Math.sqrt(1 - shared * shared) * prng.gaussian());
          const result = permutationSumTest(x, y, rows, cols);
          if (!result.testable) continue;
          let atLeast = 0;
          let total = 0;
          forEachPermutation(cols, (permutation) => {
            total++;
            if (permutedSum(x, y, rows, cols, permutation) >= result.statistic - 1e-9) atLeast++;
          });
          const exactLogP = Math.log(atLeast / total);
          assert.ok(result.logP >= exactLogP - 1e-12, `rows ${rows}, shared ${shared}: bound ${result.logP} < exact ${exactLogP}`);
          assert.ok(result.logP >= result.floorLogP);
          assertClose(result.floorLogP, -Math.log(362880), 1e-12);
        }
      }
    });

    it('Cantelli on the exact moments bounds Monte Carlo tail frequencies (n = 40)', () => {
      const prng = createPrng('bound-monte-carlo');
      const rows = 6;
      const cols = 40;
      const x = gaussianMatrix(prng, rows * cols);
      const y = gaussianMatrix(prng, rows * cols);
      const permutation = Int32Array.from({ length: cols }, (_, i) => i);
      const values = Float64Array.from({ length: 20000 }, () => permutedSum(x, y, rows, cols, prng.shuffle(permutation)));
      const base = permutationSumTest(x, y, rows, cols);
      const sd = Math.sqrt(base.nullVariance);
      for (const z of [1, 2, 3]) {
        // Cantelli from the exact moments bounds the simulated permutation tail at every distance from the mean.
        const threshold = base.nullMean + z * sd;
        const frequency = values.filter((v) => v >= threshold).length / values.length;
        const bound = Math.exp(Math.min(-Math.log1p(z * z), 0));
        assert.ok(frequency <= bound + 0.005, `z ${z}: tail ${frequency} above Cantelli ${bound}`);
      }
    });

    it('floors: 1/n! for permutations, 2^-k for sign flips, Fisher of the floors for per-layer combinations', () => {
      assertClose(permutationFloorLogP(64) / Math.LN10, -89.1, 0.05);
      assertClose(permutationFloorLogP(256) / Math.LN10, -506.9, 0.05);
      assertClose(signFlipFloorLogP(128) / Math.LN10, -128 * Math.log10(2), 1e-9);
      // Identical rows: the bound is as strong as it gets, yet never below 1/n!.
      const prng = createPrng('floor');
      for (const cols of [3, 4, 5, 6]) {
        const x = gaussianMatrix(prng, 200 * cols);
        const result = permutationSumTest(x, x, 200, cols);
        assert.ok(result.logP >= permutationFloorLogP(cols) - 1e-12, `n = ${cols}: ${result.logP}`);
      }
      // Fisher over five layers of 172 neurons (the example): five per-layer floors of 1/172! ≈ 1e-311 combine
      // to a floor of 1e-1543.8 (χ² on 10 df at 2·5·ln 172!).
      const fiveLayerFloor = fisherCombineLogP(Array.from({ length: 5 }, () => permutationFloorLogP(172)));
      assertClose(fiveLayerFloor / Math.LN10, -1543.8, 0.05);
    });

    it('Rademacher (sign-flip) bound is never below the exact tail (all 2^12 sign patterns)', () => {
      const prng = createPrng('rademacher');
      for (let trial = 0; trial < 20; trial++) {
        const c = Float64Array.from({ length: 12 }, () => prng.gaussian() + trial / 10);
        const observed = c.reduce((s, v) => s + v, 0);
        const sumSquares = c.reduce((s, v) => s + v * v, 0);
        let atLeast = 0;
        for (let mask = 0; mask < 4096; mask++) {
          let t = 0;
          for (let i = 0; i < 12; i++) t += (mask >> i) & 1 ? -c[i]! : c[i]!;
          if (t >= observed - 1e-12) atLeast++;
        }
        assert.ok(rademacherLogBound(observed, sumSquares) >= Math.log(atLeast / 4096) - 1e-12);
      }
    });
  });

  describe('mantelTest', () => {
    it('has exactly the mean and variance of the full permutation distribution (n = 7)', () => {
      const prng = createPrng('mantel-exhaustive');
      const n = 7;
      const a = randomSymmetric(prng, n, 1.5);
      const b = randomSymmetric(prng, n, -0.7);
      const values: number[] = [];
      forEachPermutation(n, (permutation) => values.push(permutedMantel(a, b, n, permutation)));
      const exact = momentsOf(values);
      const result = mantelTest(a, b, n);
      assert.ok(result.testable);
      assertRelativelyClose(result.nullMean, exact.mean, 1e-12, 'mean');
      assertRelativelyClose(result.nullVariance, exact.variance, 1e-10, 'variance');
      assertClose(result.statistic, values[0]!, 1e-10);
    });

    it('matches Monte Carlo moments over 20,000 random permutations (n = 20)', () => {
      const prng = createPrng('mantel-monte-carlo');
      const n = 20;
      const a = randomSymmetric(prng, n, 0.3);
      // A distance-like b: |p_i − p_j| for random points, so row sums vary (the S3 term matters).
      const points = Float64Array.from({ length: n }, () => prng.gaussian());
      const b = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) b[i * n + j] = Math.abs(points[i]! - points[j]!);
      const permutation = Int32Array.from({ length: n }, (_, i) => i);
      const values = new Float64Array(20000);
      for (let t = 0; t < values.length; t++) values[t] = permutedMantel(a, b, n, prng.shuffle(permutation));
      const simulated = momentsOf(values);
      const result = mantelTest(a, b, n);
      assertClose(simulated.mean, result.nullMean, 0.03 * Math.sqrt(result.nullVariance), 'mean');
      assertRelativelyClose(simulated.variance, result.nullVariance, 0.05, 'variance');
    });

    it('uses only the symmetric part, detects shared structure, and needs n >= 4', () => {
      const prng = createPrng('mantel-power');
      const n = 30;
      const a = randomSymmetric(prng, n, 0);
      const b = Float64Array.from(a, (value) => value + 0.5 * prng.gaussian());
      const related = mantelTest(a, b, n);
      assert.ok(related.testable && related.normalLogP < Math.log(1e-20), formatPValue(related.normalLogP));
      // Cantelli from the exact moments is the certified tail: 1/(1 + z²).
      assertClose(related.logP, -Math.log1p(related.z * related.z), 1e-9);
      const asymmetric = Float64Array.from(b);
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          asymmetric[i * n + j]! += 1;
          asymmetric[j * n + i]! -= 1;
        }
      }
      assertClose(mantelTest(a, asymmetric, n).z, related.z, 1e-9);
      assert.equal(mantelTest(new Float64Array(9), new Float64Array(9), 3).testable, false);
      assert.equal(mantelTest(a, new Float64Array(n * n).fill(2), n).testable, false);
    });
  });

  describe('hypergeometricLogSf', () => {
    it('equals brute-force sums on every small case', () => {
      const choose = (n: number, k: number): number => {
        if (k < 0 || k > n) return 0;
        let value = 1;
        for (let i = 1; i <= k; i++) value = (value * (n - k + i)) / i;
        return value;
      };
      let cases = 0;
      for (let population = 0; population <= 14; population++) {
        for (let successes = 0; successes <= population; successes++) {
          for (let draws = 0; draws <= population; draws++) {
            for (let observed = -1; observed <= Math.min(successes, draws) + 1; observed++) {
              let tail = 0;
              for (let i = Math.max(observed, 0); i <= draws; i++) tail += choose(successes, i) * choose(population - successes, draws - i);
              const expected = tail / choose(population, draws);
              const actual = Math.exp(hypergeometricLogSf(population, successes, draws, observed));
              assertRelativelyClose(actual, expected, 1e-12, `H(${population},${successes},${draws}) >= ${observed}`);
              cases++;
            }
          }
        }
      }
      assert.ok(cases > 1000);
    });

    it('matches high-precision values for large populations', () => {
      assertClose(hypergeometricLogSf(4096, 64, 64, 10), -17.229686636555562669, 1e-9);
      assertClose(hypergeometricLogSf(4096, 64, 64, 64), -326.67408433848066381, 1e-9);
      assertClose(hypergeometricLogSf(1000000, 1000, 1000, 50), -151.85351838248757699, 1e-8);
    });

    it('handles edges and rejects bad arguments', () => {
      assert.equal(hypergeometricLogSf(10, 3, 4, 0), 0);
      assert.equal(hypergeometricLogSf(10, 8, 8, 6), 0); // at least 6 successes are forced
      assert.equal(hypergeometricLogSf(10, 3, 4, 4), -Infinity);
      assert.equal(hypergeometricLogSf(0, 0, 0, 0), 0);
      assert.throws(() => hypergeometricLogSf(10, 11, 2, 1), RangeError);
      assert.throws(() => hypergeometricLogSf(10, 3, 2, 1.5), RangeError);
    });
  });

  describe('combining p-values', () => {
    it('Fisher matches chi-square tails', () => {
      // One p-value: χ²(2) tail at −2 ln p is p itself.
      assertClose(fisherCombineLogP([Math.log(0.037)]), Math.log(0.037), 1e-14);
      // χ²(4) upper 5% point is 9.4877290367811568; χ²(10) upper 1% point is 23.209251158954360 (mpmath).
      assertClose(fisherCombineLogP([-9.4877290367811568 / 4, -9.4877290367811568 / 4]), Math.log(0.05), 1e-12);
      assertClose(fisherCombineLogP(new Array(5).fill(-23.20925115895436 / 10)), Math.log(0.01), 1e-12);
      assertClose(fisherCombineLogP([Math.log(0.01), Math.log(0.2)]), -4.2385002252846140689, 1e-13);
      assertRelativelyClose(fisherCombineLogP(new Array(100).fill(-10)), -675.1623043733717975, 1e-13);
      assert.equal(fisherCombineLogP([0, 0, 0]), 0);
      assert.equal(fisherCombineLogP([]), 0);
      assert.equal(fisherCombineLogP([-1, -Infinity]), -Infinity);
    });

    it('Fisher is calibrated for independent uniform p-values', () => {
      const prng = createPrng('fisher-calibration');
      let below05 = 0;
      const trials = 4000;
      for (let t = 0; t < trials; t++) {
        const logPs = Array.from({ length: 8 }, () => Math.log(1 - prng.nextFloat()));
        if (fisherCombineLogP(logPs) < Math.log(0.05)) below05++;
      }
      assert.ok(Math.abs(below05 / trials - 0.05) < 0.014, `P(p<0.05) = ${below05 / trials}`);
    });

    it('Bonferroni and Holm', () => {
      assertClose(bonferroniLogP([Math.log(0.01), Math.log(0.2), Math.log(0.5)]), Math.log(0.03), 1e-14);
      assert.equal(bonferroniLogP([Math.log(0.6), Math.log(0.9)]), 0);
      assert.equal(bonferroniLogP([]), 0);
      const adjusted = holmAdjust([0.01, 0.04, 0.03, 0.5].map(Math.log));
      [0.04, 0.09, 0.09, 0.5].forEach((expected, i) => assertClose(Math.exp(adjusted[i]!), expected, 1e-14, `Holm ${i}`));
      assert.equal(holmAdjust([]).length, 0);
    });
  });

  describe('random directions', () => {
    it('logBetaCosineSf matches closed forms in 2 and 3 dimensions', () => {
      for (const c of [-0.9, -0.3, 0, 0.2, 0.7, 0.999]) {
        assertClose(logBetaCosineSf(c, 2), Math.log(Math.acos(c) / Math.PI), 1e-12, `dim 2, c=${c}`);
        assertClose(logBetaCosineSf(c, 3), Math.log((1 - c) / 2), 1e-12, `dim 3, c=${c}`); // Archimedes
      }
      assert.equal(logBetaCosineSf(1, 8), -Infinity);
      assert.equal(logBetaCosineSf(-1, 8), 0);
      assertClose(logBetaCosineSf(0, 4096), Math.log(0.5), 1e-14);
    });

    it('logBetaCosineSf matches Monte Carlo on random unit vectors in dim 8', () => {
      const prng = createPrng('cosines-dim8');
      const dim = 8;
      const samples = 100000;
      const thresholds = [-0.3, 0, 0.2, 0.5, 0.8];
      const exceed = new Float64Array(thresholds.length);
      const u = new Float64Array(dim);
      const v = new Float64Array(dim);
      for (let s = 0; s < samples; s++) {
        let dot = 0;
        let uu = 0;
        let vv = 0;
        for (let k = 0; k < dim; k++) {
          u[k] = prng.gaussian();
          v[k] = prng.gaussian();
          dot += u[k]! * v[k]!;
          uu += u[k]! * u[k]!;
          vv += v[k]! * v[k]!;
        }
        const cosine = dot / Math.sqrt(uu * vv);
        thresholds.forEach((c, i) => {
          if (cosine > c) exceed[i]! += 1;
        });
      }
      thresholds.forEach((c, i) => {
        const p = Math.exp(logBetaCosineSf(c, dim));
        const standardError = Math.sqrt((p * (1 - p)) / samples);
        assertClose(exceed[i]! / samples, p, 4.5 * standardError + 1e-5, `c=${c}`);
      });
    });

    it('logBetaCosineSf matches high-precision values in dim 4096', () => {
      assertRelativelyClose(logBetaCosineSf(0.5, 4096), -593.41438765411892926, 1e-13);
      assertRelativelyClose(logBetaCosineSf(0.9, 4096), -3405.3196032784698062, 1e-13);
      assertRelativelyClose(logBetaCosineSf(0.05, 4096), -7.2878907978772998468, 1e-12);
    });

    it('logMaxOfIndependentSf', () => {
      assert.equal(logMaxOfIndependentSf(Math.log(0.3), 1), Math.log(0.3));
      assertClose(logMaxOfIndependentSf(Math.log(0.5), 2), Math.log(0.75), 1e-15);
      assertClose(logMaxOfIndependentSf(Math.log(1e-3), 1000), Math.log(1 - (1 - 1e-3) ** 1000), 1e-12);
      assertClose(logMaxOfIndependentSf(-1000, 1e6), -1000 + Math.log(1e6), 1e-9);
      assertClose(logMaxOfIndependentSf(Math.log(1e-20), 10), Math.log(1e-19), 1e-12);
      assertClose(logMaxOfIndependentSf(Math.log(0.9), 50), Math.log1p(-(0.1 ** 50)), 1e-15);
      assert.equal(logMaxOfIndependentSf(0, 5), 0);
      assert.throws(() => logMaxOfIndependentSf(-1, 0), RangeError);
    });
  });
});
