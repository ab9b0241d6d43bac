// Tests for maximum-score linear assignment: optimality against brute force, planted permutations, ties, negatives,
// forbidden pairs, and a full-size 1024×1024 run (checked for correctness of the result, never for wall time).

import { strict as assert } from 'node:assert';
import { maxScoreAssignment } from '../../../server/src/core/compare/assignment';
import { createPrng } from '../../../server/src/core/util/prng';

/** Best total over all injective row → column maps, by exhaustive search. */
function bruteForceBest(scores: ArrayLike<number>, rows: number, cols: number): number {
  const used = new Uint8Array(cols);
  let best = -Infinity;
  const search = (row: number, total: number): void => {
    if (row === rows) {
      best = Math.max(best, total);
      return;
    }
    for (let column = 0; column < cols; column++) {
      if (used[column] === 1) continue;
      used[column] = 1;
      search(row + 1, total + scores[row * cols + column]!);
      used[column] = 0;
    }
  };
  search(0, 0);
  return best;
}

/** Asserts the assignment is injective, in range, and that total is its actual score. */
function assertValidAssignment(scores: ArrayLike<number>, rows: number, cols: number, columnOfRow: Int32Array, total: number): void {
  assert.equal(columnOfRow.length, rows);
  const seen = new Set<number>();
  let recomputed = 0;
  for (let row = 0; row < rows; row++) {
    const column = columnOfRow[row]!;
    assert.ok(column >= 0 && column < cols, `row ${row} got column ${column}`);
    assert.ok(!seen.has(column), `column ${column} used twice`);
    seen.add(column);
    recomputed += scores[row * cols + column]!;
  }
  assert.ok(Math.abs(recomputed - total) < 1e-9 * Math.max(1, Math.abs(total)));
}

function randomScores(length: number, draw: () => number): Float64Array {
  return Float64Array.from({ length }, draw);
}

describe('maxScoreAssignment', () => {
  it('equals brute force on random 6×6 and 4×7 matrices', () => {
    const prng = createPrng('assignment-brute-force');
    for (const [rows, cols] of [
      [6, 6],
      [4, 7],
      [5, 8],
      [1, 5],
      [3, 3],
    ] as const) {
      for (let trial = 0; trial < 40; trial++) {
        const scores = randomScores(rows * cols, () => prng.gaussian() * 10);
        const { columnOfRow, total } = maxScoreAssignment(scores, rows, cols);
        assertValidAssignment(scores, rows, cols, columnOfRow, total);
        const best = bruteForceBest(scores, rows, cols);
        assert.ok(Math.abs(total - best) < 1e-9, `${rows}×${cols} trial ${trial}: ${total} vs ${best}`);
      }
    }
  });

  it('handles ties and all-negative scores', () => {
    const prng = createPrng('assignment-ties');
    for (let trial = 0; trial < 60; trial++) {
      const rows = 2 + prng.nextInt(4);
      const cols = rows + prng.nextInt(3);
      // Integer scores in {−3..0} make many optimal assignments; all entries negative.
      const scores = randomScores(rows * cols, () => -prng.nextInt(4) - (trial % 2 === 0 ? 0 : 0.5));
      const { columnOfRow, total } = maxScoreAssignment(scores, rows, cols);
      assertValidAssignment(scores, rows, cols, columnOfRow, total);
      assert.ok(Math.abs(total - bruteForceBest(scores, rows, cols)) < 1e-9);
    }
    const constant = new Float64Array(5 * 9).fill(-2);
    const constantResult = maxScoreAssignment(constant, 5, 9);
    assertValidAssignment(constant, 5, 9, constantResult.columnOfRow, constantResult.total);
    assert.equal(constantResult.total, -10);
  });

  it('is deterministic', () => {
    const prng = createPrng('assignment-deterministic');
    const scores = randomScores(30 * 40, () => prng.nextInt(3));
    const first = maxScoreAssignment(scores, 30, 40);
    const second = maxScoreAssignment(scores, 30, 40);
    assert.deepEqual(first.columnOfRow, second.columnOfRow);
  });

  it('recovers a planted permutation in a noisy 300×300 matrix', () => {
    const prng = createPrng('assignment-planted');
    const size = 300;
    const planted = prng.shuffle(Int32Array.from({ length: size }, (_, i) => i));
    const scores = randomScores(size * size, () => prng.gaussian());
    for (let row = 0; row < size; row++) scores[row * size + planted[row]!]! += 5;
    const { columnOfRow, total } = maxScoreAssignment(scores, size, size);
    assertValidAssignment(scores, size, size, columnOfRow, total);
    assert.deepEqual(columnOfRow, planted);
  });

  it('recovers a planted partial matching in a rectangular Float32 matrix', () => {
    const prng = createPrng('assignment-rectangular');
    const rows = 120;
    const cols = 200;
    const planted = prng.sampleWithoutReplacement(cols, rows);
    prng.shuffle(planted);
    const scores = Float32Array.from({ length: rows * cols }, () => Math.abs(prng.gaussian()) * 0.1);
    for (let row = 0; row < rows; row++) scores[row * cols + planted[row]!] = 0.9 + 0.05 * prng.gaussian();
    const { columnOfRow } = maxScoreAssignment(scores, rows, cols);
    assert.deepEqual([...columnOfRow], planted);
  });

  it('runs on a full 1024×1024 matrix and leaves no improving 2-swap', () => {
    // Brute force is impossible at this size; an optimal assignment admits no improving exchange of two rows' columns
    // (a necessary condition), checked on 20,000 random pairs.
    const prng = createPrng('assignment-1024');
    const size = 1024;
    const scores = randomScores(size * size, () => prng.gaussian());
    const { columnOfRow, total } = maxScoreAssignment(scores, size, size);
    assertValidAssignment(scores, size, size, columnOfRow, total);
    for (let check = 0; check < 20000; check++) {
      const a = prng.nextInt(size);
      const b = prng.nextInt(size);
      const current = scores[a * size + columnOfRow[a]!]! + scores[b * size + columnOfRow[b]!]!;
      const swapped = scores[a * size + columnOfRow[b]!]! + scores[b * size + columnOfRow[a]!]!;
      assert.ok(swapped <= current + 1e-9, `swapping rows ${a} and ${b} improves the total`);
    }
    // Random-assignment baseline: the optimum of n×n standard normals grows like n·sqrt(2 ln n) ≈ 3.7 per row.
    assert.ok(total / size > 2.5, `mean matched score ${total / size}`);
  });

  it('respects forbidden pairs and rejects invalid input', () => {
    const forbidden = -Infinity;
    // Row 1 can only take column 0, which pushes row 0 to its worse column 2.
    const scores = Float64Array.from([5, forbidden, 1, 4, forbidden, forbidden]);
    const { columnOfRow, total } = maxScoreAssignment(scores, 2, 3);
    assert.deepEqual([...columnOfRow], [2, 0]);
    assert.equal(total, 5);
    assert.throws(() => maxScoreAssignment(Float64Array.from([forbidden, forbidden, 1, 2]), 2, 2), RangeError);
    assert.throws(() => maxScoreAssignment(new Float64Array(6), 3, 2), RangeError);
    assert.throws(() => maxScoreAssignment(new Float64Array(5), 2, 3), RangeError);
    assert.throws(() => maxScoreAssignment(Float64Array.from([1, NaN]), 1, 2), RangeError);
    assert.throws(() => maxScoreAssignment(Float64Array.from([1, Infinity]), 1, 2), RangeError);
    const empty = maxScoreAssignment(new Float64Array(0), 0, 4);
    assert.equal(empty.columnOfRow.length, 0);
    assert.equal(empty.total, 0);
  });
});
