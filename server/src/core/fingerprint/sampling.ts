// Deterministic sampling: which rows of each matrix and which anchor tokens a fingerprint reads.
// Everything is a pure function of (tensor role, shape, plan seed) or of token strings, never of file layout.
import { createPrng } from '../util/prng';
import { fmix32, hashString32 } from '../util/hash';
import type { Role } from '../model/roles';
import type { Axis, SamplingPlan } from './types';

export function rowsToSample(rows: number, cols: number, plan: SamplingPlan): number {
  const wanted = Math.floor(plan.rowElementBudget / Math.max(1, cols));
  return Math.min(rows, Math.max(plan.minRowsPerMatrix, Math.min(plan.maxRowsPerMatrix, wanted)));
}

/**
 * Row positions to sample: the first `count` draws of a seeded forward Fisher–Yates shuffle of
 * 0..rows-1 (sparse, O(count)), so plans with different counts are nested and every layer of one
 * shape samples the same positions. Returned sorted ascending.
 */
export function sampleRowPositions(role: Role, rows: number, cols: number, count: number, plan: SamplingPlan): number[] {
  // Every layer of a model asks for the same few (role, shape) plans: computed once each, copied out.
  const seed = `${plan.seed}|rows|${role}|${rows}x${cols}`;
  const key = `${seed}|${count}`;
  let positions = recentRowPositions.get(key);
  if (!positions) {
    positions = drawRowPositions(seed, rows, count);
    if (recentRowPositions.size >= MAX_RECENT_ROW_POSITIONS) recentRowPositions.clear();
    recentRowPositions.set(key, positions);
  }
  return positions.slice();
}

const MAX_RECENT_ROW_POSITIONS = 256;
const recentRowPositions = new Map<string, readonly number[]>();

function drawRowPositions(seed: string, rows: number, count: number): number[] {
  const prng = createPrng(seed);
  const displaced = new Map<number, number>();
  const valueAt = (i: number) => displaced.get(i) ?? i;
  const picked: number[] = [];
  for (let i = 0; i < Math.min(count, rows); i++) {
    const j = i + prng.nextInt(rows - i);
    const vi = valueAt(i);
    const vj = valueAt(j);
    displaced.set(j, vi);
    displaced.set(i, vj);
    picked.push(vj);
  }
  return picked.sort((a, b) => a - b);
}

/** Network axes of a stored [rows, cols] matrix of a role (stored [out, in], or [in, out] when transposed). */
export function matrixAxes(role: Role, transposed: boolean): { rowAxis: Axis; colAxis: Axis } | undefined {
  let out: Axis;
  let inAxis: Axis;
  switch (role) {
    case 'q':
    case 'k':
    case 'v':
    case 'qkv':
      [out, inAxis] = ['head', 'residual'];
      break;
    case 'o':
      [out, inAxis] = ['residual', 'head'];
      break;
    case 'gate':
    case 'up':
    case 'gate_up':
      [out, inAxis] = ['neuron', 'residual'];
      break;
    case 'down':
      [out, inAxis] = ['residual', 'neuron'];
      break;
    default:
      return undefined;
  }
  return transposed ? { rowAxis: inAxis, colAxis: out } : { rowAxis: out, colAxis: inAxis };
}

/** Anchor-selection key of a normalized token string: bottom-k of this order is a min-hash sample. */
export function anchorKey(token: string, plan: SamplingPlan): number {
  return hashString32(token, seedHash(plan.seed));
}

/** The last seed hashed: a vocabulary's tens of thousands of keys all use the same one. */
let lastSeed: { seed: string; hash: number } | undefined;

function seedHash(seed: string): number {
  if (lastSeed?.seed !== seed) lastSeed = { seed, hash: hashString32(seed) };
  return lastSeed.hash;
}

/**
 * Picks anchor tokens: the `count` eligible ids whose normalized strings have the smallest keys.
 * Two vocabularies that share strings therefore share anchors, whatever their ids.
 */
export function chooseAnchorIds(tokens: readonly string[], eligible: (id: number) => boolean, count: number, plan: SamplingPlan): number[] {
  if (count <= 0) return [];
  // A token string counts once, at its first eligible id. Duplicates are rare, so they are removed
  // among the few candidates only (not with a set of the whole vocabulary) when that is exact.
  const fast = smallestKeyIds(tokens, eligible, count, plan, false);
  return fast.length >= count ? fast : smallestKeyIds(tokens, eligible, count, plan, true);
}

/**
 * The eligible non-empty ids of the `count` smallest (key, token) pairs, one id per token string.
 * Without `dedupeAll`, duplicates are only removed among the candidates at or below the count-th
 * smallest key counted with duplicates: exact whenever `count` distinct tokens remain (the caller
 * checks), since the distinct threshold can then be no higher.
 */
function smallestKeyIds(tokens: readonly string[], eligible: (id: number) => boolean, count: number, plan: SamplingPlan, dedupeAll: boolean): number[] {
  const ids: number[] = [];
  const keys: number[] = [];
  const seen = dedupeAll ? new Set<string>() : undefined;
  for (let id = 0; id < tokens.length; id++) {
    const t = tokens[id]!;
    if (t === '' || !eligible(id)) continue;
    if (seen) {
      if (seen.has(t)) continue;
      seen.add(t);
    }
    ids.push(id);
    keys.push(anchorKey(t, plan));
  }
  // Only the `count` smallest keys matter: find the count-th smallest with a numeric sort of the keys
  // alone, then order the few candidates at or below it (ties broken by the token string).
  const sortedKeys = Uint32Array.from(keys).sort();
  const threshold = sortedKeys[Math.min(count, sortedKeys.length) - 1] ?? 0;
  const candidates: Array<{ id: number; key: number; token: string }> = [];
  const candidateTokens = new Set<string>();
  for (let i = 0; i < ids.length; i++) {
    if (keys[i]! > threshold) continue;
    const token = tokens[ids[i]!]!;
    // Ids ascend, so the first id of a token is kept.
    if (candidateTokens.has(token)) continue;
    candidateTokens.add(token);
    candidates.push({ id: ids[i]!, key: keys[i]!, token });
  }
  candidates.sort((a, b) => a.key - b.key || (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
  // Fewer than `count` distinct candidates: duplicates may have hidden some, so the caller dedupes all.
  if (!dedupeAll && candidates.length < count) return [];
  return candidates.slice(0, count).map((c) => c.id);
}

/** MinHash sketch of a set of strings (Kirsch–Mitzenmacher double hashing for `size` functions). */
export function minhashSketch(items: Iterable<string>, size: number): Uint32Array {
  const sketch = new Uint32Array(size).fill(0xffffffff);
  for (const item of items) {
    const h1 = hashString32(item, 0x5bd1e995);
    const h2 = hashString32(item, 0x1b873593) | 1;
    for (let i = 0; i < size; i++) {
      const v = fmix32((h1 + Math.imul(i, h2)) >>> 0);
      if (v < sketch[i]!) sketch[i] = v;
    }
  }
  return sketch;
}

/** Estimated Jaccard similarity from two MinHash sketches of equal size. */
export function minhashJaccard(a: Uint32Array, b: Uint32Array): number {
  const n = Math.min(a.length, b.length);
  if (n === 0) return 0;
  let equal = 0;
  for (let i = 0; i < n; i++) if (a[i] === b[i]) equal++;
  return equal / n;
}
