// The words and numbers every view uses (language server hovers, lenses and diagnostics, the CLI, the
// VS Code client and the Compare view): p-values, sizes, verdict phrases, commits, Hub answers.
// Pure functions of protocol data; nothing here reads files or imports engine code.
import type { Verdict } from '../core/compare/types';
import { formatPValue } from '../core/util/pValueText';
import type { HubLookupProblem, HubProblem, HubRepoFacts, LineageMatch, PinCommit, ReferenceStanding, ReferenceStatus, RemoteReadFacts, StandingStatus } from './types';

/** A p-value given as log10, with its test's floor (log10) when known: the engine's one wording (core/util/pValueText.ts). */
export function formatLog10P(log10P: number | undefined, floorLog10P?: number): string | undefined {
  if (log10P === undefined) return undefined;
  return formatPValue(log10P * Math.LN10, floorLog10P === undefined ? undefined : floorLog10P * Math.LN10);
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
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
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

/** The Hub's answer about a reference, when it found the repository. */
export function hubRepoFactsOf(status: ReferenceStatus): HubRepoFacts | undefined {
  return status.hub !== undefined && !('problem' in status.hub) ? status.hub : undefined;
}

/** Why the Hub had no answer, when it had none. */
export function hubProblemOf(status: ReferenceStatus): HubLookupProblem | undefined {
  return status.hub !== undefined && 'problem' in status.hub ? status.hub : undefined;
}

/** "3 files: safetensors, onnx", "12 files, no weights". */
export function describeHubFiles(hub: HubRepoFacts): string {
  const count = `${hub.fileCount}${hub.filesTruncated ? '+' : ''} file${hub.fileCount === 1 ? '' : 's'}`;
  return hub.formats.length > 0 ? `${count}: ${hub.formats.join(', ')}` : `${count}, no weights`;
}

/** The Hub definitely has no such repository or revision: the reference cannot load as written. */
export function isHubMissing(problem: HubProblem): boolean {
  return problem === 'not-found' || problem === 'revision-not-found';
}

const HUB_PROBLEM_PHRASES: Readonly<Record<HubProblem, string>> = {
  'not-found': 'the Hub does not know this id (a typo, or a deleted or private repository)',
  'revision-not-found': 'the Hub has no such revision of it',
  gated: 'the repository is gated',
  unauthorized: 'the Hub refused access',
  offline: 'the Hub could not be reached',
  timeout: 'the Hub could not be reached',
  'http-error': 'the Hub could not be reached',
  'invalid-response': 'the Hub\'s answer could not be used',
  'invalid-id': 'the id cannot be looked up on the Hub',
  'invalid-endpoint': 'the Hub endpoint setting cannot be used',
};

/** "the Hub does not know this id (a typo, …)": the problem without the lookup's raw detail. */
export function hubProblemPhrase(problem: HubProblem): string {
  return HUB_PROBLEM_PHRASES[problem];
}

/** "the Hub could not be reached: org/m@main on https://huggingface.co: cannot connect (ENOTFOUND)". */
export function describeHubProblem(problem: HubLookupProblem): string {
  return `${HUB_PROBLEM_PHRASES[problem.problem]}: ${problem.detail}`;
}

/** Where a pin's commit comes from: "the cached commit", "the Hub's current commit of main". */
export function describePinOrigin(pin: PinCommit): string {
  switch (pin.origin) {
    case 'cached':
      return 'the cached commit';
    case 'registry':
      return 'the revision the registry fingerprinted';
    case 'hub':
      return `the Hub's current commit of ${pin.revisionAsked}`;
  }
}

/**
 * How a model on no disk was read from the Hub: "read from the Hub at 0123456789ab: 1.9 MiB in 14
 * requests", "… in an earlier session (nothing read now)", or why it was not read.
 */
export function describeRemoteRead(remote: RemoteReadFacts): string {
  const at = remote.commit === undefined ? '' : ` at ${shortCommit(remote.commit)}`;
  if (remote.fromInspectionCache) return `fingerprinted from the Hub${at} in an earlier session (nothing read now)`;
  const cost = `${formatBytes(remote.bytesTransferred)} in ${remote.requests} ${remote.requests === 1 ? 'request' : 'requests'}`;
  if (remote.problem !== undefined) return `not fingerprinted from the Hub${at} (${cost}): ${remote.problem}`;
  return `read from the Hub${at} by range requests: ${cost}`;
}

/** The word of each standing, as the lens, hover, Models view and Compare view print it. */
export const STANDING_WORDS: Readonly<Record<StandingStatus, string>> = {
  verified: 'verified',
  contradicted: 'contradicted',
  're-upload': 're-upload',
  risky: 'risky',
  unverified: 'unverified',
  pending: 'checking',
  'not-applicable': 'not checked',
};

/** Codicon of each standing (`$(name)` in lenses, ThemeIcon ids in the client): never a check mark unless verified. */
export const STANDING_CODICONS: Readonly<Record<StandingStatus, string>> = {
  verified: 'pass-filled',
  contradicted: 'error',
  're-upload': 'copy',
  risky: 'warning',
  unverified: 'question',
  pending: 'sync',
  'not-applicable': 'circle-slash',
};

/** "contradicted: declares X as its base, but its shape rules that out". */
export function describeStanding(standing: ReferenceStanding): string {
  return standing.status === 'verified' ? `verified: ${standing.summary}` : `${STANDING_WORDS[standing.status]}: ${standing.summary}`;
}
