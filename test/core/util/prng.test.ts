// Tests for the deterministic PRNG: golden outputs (any algorithm change must fail here), uniformity and sampling laws.
// Statistical checks use fixed seeds, so they are deterministic; tolerances are >= 4 standard errors.

import { strict as assert } from 'node:assert';
import { createPrng, createPrngFromState, hashSeed } from '../../../server/src/core/util/prng';

/** Pearson chi-square statistic of observed counts against equal expected counts. */
function chiSquareUniform(counts: ArrayLike<number>, total: number): number {
  const expected = total / counts.length;
  let statistic = 0;
  for (let i = 0; i < counts.length; i++) statistic += (counts[i]! - expected) ** 2 / expected;
  return statistic;
}

describe('prng', () => {
  describe('golden outputs', () => {
    it('matches the xoshiro128** reference C code from state {1, 2, 3, 4}', () => {
      // Produced by https://prng.di.unimi.it/xoshiro128starstar.c compiled with gcc.
      const prng = createPrngFromState(1, 2, 3, 4);
      const first = Array.from({ length: 8 }, () => prng.nextUint32());
      assert.deepEqual(first, [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
      for (let i = 0; i < 1000; i++) prng.nextUint32();
      assert.equal(prng.nextUint32(), 5814518);
      const highBits = createPrngFromState(0x80000000, 0xdeadbeef, 0xffffffff, 7);
      assert.deepEqual(
        Array.from({ length: 4 }, () => highBits.nextUint32()),
        [1162347276, 3132614827, 2416156356, 2399047891],
      );
    });

    it('hashes seeds to fixed values', () => {
      assert.equal(hashSeed('lineage-lens'), 3169458014);
      assert.equal(hashSeed(42), 68289958);
      assert.equal(hashSeed('42'), 1571830142);
      assert.equal(hashSeed('model', 3, 'layer', 7), 4201789933);
    });

    it('keeps seed parts apart', () => {
      assert.notEqual(hashSeed('a', 'bc'), hashSeed('ab', 'c'));
      assert.notEqual(hashSeed(42), hashSeed('42'));
      assert.notEqual(hashSeed(''), hashSeed());
      assert.equal(hashSeed(-0), hashSeed(0));
    });

    it('produces fixed streams from string and number seeds', () => {
      const fromString = createPrng('lineage-lens');
      assert.deepEqual(
        Array.from({ length: 5 }, () => fromString.nextUint32()),
        [1851776157, 487884579, 199061161, 1556096041, 3942108972],
      );
      const fromNumber = createPrng(42);
      assert.deepEqual(
        Array.from({ length: 5 }, () => fromNumber.nextUint32()),
        [3966478093, 1885565806, 1490747980, 817880177, 4120351622],
      );
    });

    it('produces fixed floats, integers, gaussians, shuffles and samples', () => {
      const floats = createPrng('floats');
      assert.deepEqual(
        Array.from({ length: 3 }, () => floats.nextFloat()),
        [0.5445891266766222, 0.8412603917235415, 0.6447732445582739],
      );
      const ints = createPrng('ints');
      assert.deepEqual(Array.from({ length: 8 }, () => ints.nextInt(1000)), [73, 155, 143, 863, 318, 825, 868, 104]);
      assert.equal(ints.nextInt(2 ** 40), 484498011995);
      const gaussians = createPrng('gauss');
      assert.deepEqual(
        Array.from({ length: 4 }, () => gaussians.gaussian()),
        [-2.877977823360993, -0.9588612259548445, 0.20546357916366348, -1.4014434626807821],
      );
      assert.deepEqual(createPrng('shuffle').shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), [2, 7, 8, 9, 5, 0, 6, 4, 1, 3]);
      assert.deepEqual(createPrng('sample').sampleWithoutReplacement(4096, 8), [579, 582, 1830, 2485, 2530, 3387, 3603, 4028]);
    });

    it('is reproducible and seed-sensitive', () => {
      const a = createPrng('seed');
      const b = createPrng('seed');
      const c = createPrng('seee');
      const streamA = Array.from({ length: 100 }, () => a.nextUint32());
      assert.deepEqual(Array.from({ length: 100 }, () => b.nextUint32()), streamA);
      const streamC = Array.from({ length: 100 }, () => c.nextUint32());
      assert.ok(streamC.filter((value, i) => value === streamA[i]).length < 2);
    });

    it('never starts from the all-zero state', () => {
      const prng = createPrngFromState(0, 0, 0, 0);
      const values = Array.from({ length: 4 }, () => prng.nextUint32());
      assert.ok(values.some((value) => value !== 0));
    });
  });

  describe('uniformity', () => {
    it('nextFloat is uniform on [0, 1) with 53-bit values', () => {
      const prng = createPrng('uniform-floats');
      const draws = 160000;
      const bins = new Float64Array(16);
      let sum = 0;
      let allOnGrid = true;
      for (let i = 0; i < draws; i++) {
        const value = prng.nextFloat();
        assert.ok(value >= 0 && value < 1);
        if (!Number.isInteger(value * 2 ** 53)) allOnGrid = false;
        bins[Math.floor(value * 16)]! += 1;
        sum += value;
      }
      assert.ok(allOnGrid);
      // Mean: standard error sqrt(1/12 / n) = 7.2e-4.
      assert.ok(Math.abs(sum / draws - 0.5) < 0.003, `mean ${sum / draws}`);
      // chi-square(15) 99.9% quantile is 37.70.
      assert.ok(chiSquareUniform(bins, draws) < 37.7);
    });

    it('nextInt has no modulo bias for ranges that do not divide 2^32', () => {
      // With plain `draw % max` for max = 3·2^30, values below 2^30 would be hit twice as often (probability 1/2, not 1/3).
      const prng = createPrng('modulo-bias');
      const max = 3 * 2 ** 30;
      const draws = 60000;
      let low = 0;
      for (let i = 0; i < draws; i++) {
        const value = prng.nextInt(max);
        assert.ok(Number.isInteger(value) && value >= 0 && value < max);
        if (value < 2 ** 30) low++;
      }
      // Standard error sqrt(1/3·2/3/n) = 0.0019.
      assert.ok(Math.abs(low / draws - 1 / 3) < 0.008, `low fraction ${low / draws}`);
    });

    it('nextInt is uniform on small ranges', () => {
      const prng = createPrng('small-ints');
      const counts = new Float64Array(7);
      const draws = 70000;
      for (let i = 0; i < draws; i++) counts[prng.nextInt(7)]! += 1;
      // chi-square(6) 99.9% quantile is 22.46.
      assert.ok(chiSquareUniform(counts, draws) < 22.46);
      assert.equal(prng.nextInt(1), 0);
    });

    it('nextInt covers ranges beyond 2^32', () => {
      const prng = createPrng('wide-ints');
      const max = 2 ** 40 + 3;
      let sum = 0;
      const draws = 20000;
      for (let i = 0; i < draws; i++) {
        const value = prng.nextInt(max);
        assert.ok(Number.isInteger(value) && value >= 0 && value < max);
        sum += value / max;
      }
      assert.ok(Math.abs(sum / draws - 0.5) < 0.01);
      const top = prng.nextInt(2 ** 53);
      assert.ok(Number.isInteger(top) && top >= 0 && top < 2 ** 53);
    });

    it('nextInt rejects invalid ranges', () => {
      const prng = createPrng('bad');
      assert.throws(() => prng.nextInt(0), RangeError);
      assert.throws(() => prng.nextInt(2.5), RangeError);
      assert.throws(() => prng.nextInt(2 ** 53 + 2), RangeError);
    });

    it('gaussian has mean 0, variance 1 and normal tails', () => {
      const prng = createPrng('normal');
      const draws = 100000;
      let sum = 0;
      let sumSquares = 0;
      let beyond196 = 0;
      for (let i = 0; i < draws; i++) {
        const value = prng.gaussian();
        sum += value;
        sumSquares += value * value;
        if (Math.abs(value) > 1.959963984540054) beyond196++;
      }
      const mean = sum / draws;
      assert.ok(Math.abs(mean) < 0.013, `mean ${mean}`); // 4 standard errors
      assert.ok(Math.abs(sumSquares / draws - 1) < 0.018, `variance ${sumSquares / draws}`); // sd of s² is sqrt(2/n)
      assert.ok(Math.abs(beyond196 / draws - 0.05) < 0.0028, `two-sided 5% tail ${beyond196 / draws}`);
    });
  });

  describe('shuffle', () => {
    it('permutes in place, also typed arrays', () => {
      const prng = createPrng('perm');
      const values = Float64Array.from({ length: 50 }, (_, i) => i);
      const returned = prng.shuffle(values);
      assert.equal(returned, values);
      assert.deepEqual([...values].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
      assert.notDeepEqual([...values], Array.from({ length: 50 }, (_, i) => i));
      assert.deepEqual(prng.shuffle([]), []);
      assert.deepEqual(prng.shuffle(['only']), ['only']);
    });

    it('puts each element in each position equally often', () => {
      const prng = createPrng('perm-uniform');
      const trials = 50000;
      const positionOfFirst = new Float64Array(10);
      const positionOfLast = new Float64Array(10);
      for (let t = 0; t < trials; t++) {
        const order = prng.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        positionOfFirst[order.indexOf(0)]! += 1;
        positionOfLast[order.indexOf(9)]! += 1;
      }
      // chi-square(9) 99.9% quantile is 27.88.
      assert.ok(chiSquareUniform(positionOfFirst, trials) < 27.88);
      assert.ok(chiSquareUniform(positionOfLast, trials) < 27.88);
    });
  });

  describe('sampleWithoutReplacement', () => {
    it('returns k distinct sorted indices in range', () => {
      const prng = createPrng('floyd');
      for (const [n, k] of [
        [10, 0],
        [10, 10],
        [1, 1],
        [4096, 256],
        [2 ** 40, 5],
      ] as const) {
        const sample = prng.sampleWithoutReplacement(n, k);
        assert.equal(sample.length, k);
        assert.equal(new Set(sample).size, k);
        for (let i = 0; i < k; i++) {
          assert.ok(Number.isInteger(sample[i]!) && sample[i]! >= 0 && sample[i]! < n);
          if (i > 0) assert.ok(sample[i]! > sample[i - 1]!);
        }
      }
      assert.deepEqual(prng.sampleWithoutReplacement(5, 5), [0, 1, 2, 3, 4]);
    });

    it('includes every index with probability k/n', () => {
      const prng = createPrng('floyd-uniform');
      const trials = 30000;
      const inclusions = new Float64Array(10);
      let pairZeroNine = 0;
      for (let t = 0; t < trials; t++) {
        const sample = prng.sampleWithoutReplacement(10, 3);
        for (const index of sample) inclusions[index]! += 1;
        if (sample.includes(0) && sample.includes(9)) pairZeroNine++;
      }
      for (let i = 0; i < 10; i++) {
        // Standard error sqrt(0.3·0.7/30000) = 0.0026.
        assert.ok(Math.abs(inclusions[i]! / trials - 0.3) < 0.011, `index ${i}: ${inclusions[i]! / trials}`);
      }
      // P(both 0 and 9) = C(8,1)/C(10,3) = 8/120 for a uniform 3-subset.
      assert.ok(Math.abs(pairZeroNine / trials - 8 / 120) < 0.006);
    });

    it('rejects k > n and non-integers', () => {
      const prng = createPrng('floyd-bad');
      assert.throws(() => prng.sampleWithoutReplacement(3, 4), RangeError);
      assert.throws(() => prng.sampleWithoutReplacement(3.5, 1), RangeError);
      assert.throws(() => prng.sampleWithoutReplacement(3, -1), RangeError);
    });
  });
});
