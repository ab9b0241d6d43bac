// Maximum-score linear assignment for rectangular score matrices (each row gets a distinct column).
// Used to align residual channels / neurons of two models before an index-aligned lineage test.

/** An optimal assignment: columnOfRow[i] is the column given to row i; total = Σ_i score[i, columnOfRow[i]]. */
export interface Assignment {
  columnOfRow: Int32Array;
  total: number;
}

/**
 * Maximize Σ_i score[i, σ(i)] over injective σ: rows → columns, for a row-major rows×cols matrix with rows <= cols.
 * Shortest augmenting paths with dual potentials (Jonker & Volgenant 1987; the rectangular form of Crouse 2016,
 * "On implementing 2D rectangular assignment algorithms", as in SciPy's linear_sum_assignment), on costs −score:
 * one Dijkstra-like search per row over the not-yet-scanned columns, O(rows²·cols) worst case, all buffers allocated once.
 * −Infinity marks a forbidden pair; NaN and +Infinity are rejected; a row with no allowed free column throws.
 * Ties are resolved deterministically (the same input always gives the same assignment).
 */
export function maxScoreAssignment(scores: Float64Array | Float32Array, rows: number, cols: number): Assignment {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new RangeError(`maxScoreAssignment: rows and cols must be non-negative integers, got ${rows}×${cols}`);
  }
  if (rows > cols) throw new RangeError(`maxScoreAssignment: need rows <= cols (transpose first), got ${rows}×${cols}`);
  if (scores.length !== rows * cols) {
    throw new RangeError(`maxScoreAssignment: expected ${rows * cols} scores, got ${scores.length}`);
  }
  for (let index = 0; index < scores.length; index++) {
    const score = scores[index]!;
    if (Number.isNaN(score) || score === Infinity) {
      throw new RangeError(`maxScoreAssignment: score at row ${Math.floor(index / cols)}, column ${index % cols} is ${score}`);
    }
  }

  // Dual potentials for the minimization of cost = −score: reduced cost −score[i,j] − rowPotential[i] − columnPotential[j] >= 0.
  const rowPotential = new Float64Array(rows);
  const columnPotential = new Float64Array(cols);
  const shortestPathCost = new Float64Array(cols);
  const predecessorRow = new Int32Array(cols).fill(-1);
  const columnOfRow = new Int32Array(rows).fill(-1);
  const rowOfColumn = new Int32Array(cols).fill(-1);
  const rowScanned = new Uint8Array(rows);
  const columnScanned = new Uint8Array(cols);
  const unscannedColumns = new Int32Array(cols);

  for (let startRow = 0; startRow < rows; startRow++) {
    // Dijkstra from startRow over alternating paths until the nearest free column (the sink) is reached.
    let pathLength = 0;
    let unscannedCount = cols;
    // Reverse order so that, among equal distances, the search settles on free columns in a fixed order.
    for (let k = 0; k < cols; k++) unscannedColumns[k] = cols - k - 1;
    rowScanned.fill(0);
    columnScanned.fill(0);
    shortestPathCost.fill(Infinity);
    let sink = -1;
    let row = startRow;
    while (sink === -1) {
      rowScanned[row] = 1;
      const rowOffset = row * cols;
      const base = pathLength - rowPotential[row]!;
      let lowest = Infinity;
      let lowestPosition = -1;
      for (let position = 0; position < unscannedCount; position++) {
        const column = unscannedColumns[position]!;
        const reducedCost = base - scores[rowOffset + column]! - columnPotential[column]!;
        let distance = shortestPathCost[column]!;
        if (reducedCost < distance) {
          predecessorRow[column] = row;
          shortestPathCost[column] = reducedCost;
          distance = reducedCost;
        }
        // Prefer a free column among equally short ones: it ends the search one step earlier.
        if (distance < lowest || (distance === lowest && rowOfColumn[column] === -1)) {
          lowest = distance;
          lowestPosition = position;
        }
      }
      if (lowest === Infinity) {
        throw new RangeError(`maxScoreAssignment: row ${startRow} cannot be assigned (all remaining pairs are forbidden)`);
      }
      pathLength = lowest;
      const column = unscannedColumns[lowestPosition]!;
      columnScanned[column] = 1;
      unscannedCount -= 1;
      unscannedColumns[lowestPosition] = unscannedColumns[unscannedCount]!;
      if (rowOfColumn[column] === -1) sink = column;
      else row = rowOfColumn[column]!;
    }

    // Update the duals so every reduced cost stays >= 0 and the new matching edges have reduced cost 0.
    rowPotential[startRow]! += pathLength;
    for (let r = 0; r < rows; r++) {
      if (rowScanned[r] === 1 && r !== startRow) rowPotential[r]! += pathLength - shortestPathCost[columnOfRow[r]!]!;
    }
    for (let c = 0; c < cols; c++) {
      if (columnScanned[c] === 1) columnPotential[c]! -= pathLength - shortestPathCost[c]!;
    }

    // Flip the alternating path from the sink back to startRow.
    let column = sink;
    for (;;) {
      const pathRow = predecessorRow[column]!;
      rowOfColumn[column] = pathRow;
      const previousColumn = columnOfRow[pathRow]!;
      columnOfRow[pathRow] = column;
      if (pathRow === startRow) break;
      column = previousColumn;
    }
  }

  let total = 0;
  for (let r = 0; r < rows; r++) total += scores[r * cols + columnOfRow[r]!]!;
  return { columnOfRow, total };
}
