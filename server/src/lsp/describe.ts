// Words and numbers shared by hovers, code lenses and diagnostics, so that every view says the
// same thing the same way (p-values, verdict phrases, commits, sizes).
import type { Verdict } from '../core/compare/types';
import { isPinnedRevision } from '../core/model/reference';
import type { LineageMatch, ReferenceStatus } from './protocol';

/** `p < 1e-111` for strong evidence (an upper bound readers can trust), `p = 0.03` otherwise. */
export function formatLog10P(log10P: number | undefined): string | undefined {
  if (log10P === undefined || Number.isNaN(log10P)) return undefined;
  if (log10P === Number.NEGATIVE_INFINITY) return 'p = 0';
  if (log10P < -3) return `p < 1e${Math.ceil(log10P)}`;
  return `p = ${Number((10 ** log10P).toPrecision(2))}`;
}

const VERDICT_PHRASES: Readonly<Record<Verdict, string>> = {
  identical: 'identical to',
  'same-weights': 'same weights as',
  quantized: 'quantized from',
  derived: 'derived from',
  merge: 'merged from',
  'same-family': 'same family as',
  unrelated: 'unrelated to',
  inconclusive: 'inconclusive against',
};

export function verdictPhrase(verdict: Verdict): string {
  return VERDICT_PHRASES[verdict];
}

/** "derived from org/base (p < 1e-40)". */
export function describeMatch(match: LineageMatch): string {
  const p = formatLog10P(match.log10P);
  return `${verdictPhrase(match.verdict)} ${match.repoId}${p ? ` (${p})` : ''}`;
}

export function shortCommit(commit: string): string {
  return commit.slice(0, 12);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Where the reference resolved, in a few words: "cache commit 1a2b3c4d5e6f", "workspace ./models/x". */
export function describeResolution(status: ReferenceStatus): string {
  const resolution = status.resolution;
  switch (resolution.kind) {
    case 'hf-cache':
      return `Hugging Face cache, commit ${resolution.commit ? shortCommit(resolution.commit) : '?'}`;
    case 'workspace':
      return `workspace ${resolution.path ?? ''}`.trim();
    case 'registry':
      return `registry only${resolution.commit ? `, fingerprinted at ${shortCommit(resolution.commit)}` : ''}`;
    case 'dynamic':
      return 'decided at run time';
    case 'not-a-model':
      return 'not a model';
    case 'unavailable':
      return 'not available locally';
  }
}

/** Weights that run code when loaded: every PyTorch pickle flavour. */
export function isPickleFormat(format: string): boolean {
  return format === 'pytorch-zip' || format === 'pytorch-legacy' || format === 'torchscript';
}

/**
 * The commit a pin quick fix may write: one whose bytes were checked, either the cached snapshot or
 * the revision the registry fingerprinted. Never a guess.
 */
export function pinCommitOf(status: ReferenceStatus): { commit: string; origin: 'cached' | 'registry' } | undefined {
  const { kind, commit } = status.resolution;
  if ((kind !== 'hf-cache' && kind !== 'registry') || !isPinnedRevision(commit)) return undefined;
  return { commit: commit!, origin: kind === 'hf-cache' ? 'cached' : 'registry' };
}
