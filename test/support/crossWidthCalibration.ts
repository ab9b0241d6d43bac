// Null draws for the cross-width test, shared by its calibration test and `npm run evaluate`: pairs of independently
// trained embeddings of different widths (real shared token structure in the channel map) with freshly initialized
// bodies per draw, run through the same selection (matchChannelsAcrossWidths) and test (signFlipRowTest) as compare.
import { matchChannelsAcrossWidths, signFlipRowTest } from '../../server/src/core/compare/lineageTests';
import { pairOutputRows, pairTokenRows, type OutputRowPair } from '../../server/src/core/compare/pairing';
import type { Fingerprint } from '../../server/src/core/fingerprint/types';
import { createPrng, hashSeed } from '../../server/src/core/util/prng';

export interface NullDrawSummary {
  draws: number;
  /** Share of draws with p below 0.01, 0.001, 0.0001. */
  rates: [number, number, number];
  smallestLogP: number;
  /** Every draw's p-value was at or above its certified floor. */
  neverBelowFloor: boolean;
}

export function crossWidthNullDraws(pool: ReadonlyArray<{ hidden: number; fingerprint: Fingerprint }>, draws: number, seed: string): NullDrawSummary {
  const prng = createPrng(seed);
  const below = [0, 0, 0];
  const levels = [0.01, 0.001, 0.0001];
  let smallestLogP = 0;
  let neverBelowFloor = true;
  for (let draw = 0; draw < draws; draw++) {
    let i = 0;
    let j = 0;
    while (pool[i]!.hidden === pool[j]!.hidden) [i, j] = [prng.nextInt(pool.length), prng.nextInt(pool.length)];
    const fa = pool[i]!.fingerprint;
    const fb = pool[j]!.fingerprint;
    const map = matchChannelsAcrossWidths(pairTokenRows(fa, fb).find((p) => p.role === 'embed')!)!;
    const rows = pairOutputRows(fa, fb, new Map([[0, 0], [1, 1]])).map((r) => redrawBodies(r, seed, draw));
    const t = signFlipRowTest(rows, map);
    if (!t.testable || t.logP < t.floorLogP) neverBelowFloor = false;
    smallestLogP = Math.min(smallestLogP, t.logP);
    levels.forEach((level, k) => {
      if (t.logP < Math.log(level)) below[k]!++;
    });
  }
  return { draws, rates: below.map((c) => c / draws) as [number, number, number], smallestLogP, neverBelowFloor };
}

/** The same output unit with both models' rows redrawn N(0, 0.02²) from their own fresh seeds (independent bodies). */
function redrawBodies(row: OutputRowPair, seed: string, draw: number): OutputRowPair {
  const fresh = (length: number, side: string) => {
    const prng = createPrng(hashSeed(seed, 'body', draw, side, row.role, row.layer, row.row));
    return Float32Array.from({ length }, () => 0.02 * prng.gaussian());
  };
  return { ...row, a: fresh(row.a.length, 'a'), b: fresh(row.b.length, 'b') };
}
