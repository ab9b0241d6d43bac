// Scan: which known models is this one related to? Retrieves candidates from the registry's index
// (identity, declared parents, LSH bands, small blocks), ranks them by sketch agreement, runs the
// exact compare on a shortlist only, and corrects the p-values for the number of candidates.
import { compareFingerprints, DEFAULT_THRESHOLD_LOG10P } from '../compare/compare';
import { hiddenSize } from '../compare/pairing';
import { holmAdjust } from '../compare/stats';
import { RELATED_VERDICTS, VERDICT_STRENGTH, type Comparison, type DeclaredCheck, type Verdict } from '../compare/types';
import { minhashJaccard } from '../fingerprint/sampling';
import type { Fingerprint } from '../fingerprint/types';
import { candidateQueryOf } from './keys';
import { codeAgreementLogP, geometrySketch, sketchEvidence, type WeightSketches } from './sketches';
import type { AsyncRegistry, CandidateQuery, Registry, RegistryEntry, RetrievalLimits, RetrievalRoute, VocabularyCandidate, WeightCandidate } from './types';

export interface ScanOptions {
  /** Matches reported (default 5). */
  topK?: number;
  /** log10 of the corrected p-value below which lineage is declared (default -12, as compare). */
  thresholdLog10P?: number;
  /** At most this many candidates get the exact compare (default 32); the rest count in the correction with p = 1. */
  maxExactCompares?: number;
  /** LSH hits retrieved (default 256). */
  maxLshCandidates?: number;
  /** Rows read per LSH bucket (default 256). */
  maxRowsPerBand?: number;
  /** A (hidden size, vocabulary) block up to this size is compared whole (default 64). */
  maxBlockSize?: number;
  /** Candidates re-compared with residual-channel alignment when nothing related was found (default 4). */
  alignmentBudget?: number;
  /** Entries of the query's tokenizer at other hidden sizes considered for a cross-width compare (default 64). */
  maxWidthCandidates?: number;
}

export type TokenizerRelation = 'identical' | 'extends-known' | 'subset-of-known' | 'overlapping';

export interface TokenizerFamilyMatch {
  /** The vocabulary's label ("Llama 3"), when the registry has one. */
  family?: string;
  relation: TokenizerRelation;
  knownSize: number;
  jaccard: number;
  /** Share of the known vocabulary found in the scanned one (1 when the scanned model extends it). */
  containmentOfKnown: number;
  entryIds: string[];
}

export interface ScanMatch {
  id: string;
  verdict: Verdict;
  reason: string;
  /** Lineage p-value of the exact compare (log10), before the correction for the number of candidates. */
  log10P?: number;
  /** Holm-adjusted over every retrieved candidate (untested ones count with p = 1). */
  adjustedLog10P?: number;
  /** Retrieval score: log10 p of the SimHash agreement (ranking only, not evidence). */
  sketchLog10P: number;
  routes: RetrievalRoute[];
  direction?: { parent: 'known' | 'scanned'; reason: string };
  declared: DeclaredCheck;
  comparison: Comparison;
}

export interface ScanResult {
  schema: 'lineage-lens/scan';
  schemaVersion: 1;
  query: { name: string; format: string; hiddenSize?: number; architecture?: string; tokenizerSize?: number; hasWeights: boolean };
  registry: { location: string; entries: number };
  thresholdLog10P: number;
  candidatesRetrieved: number;
  candidatesCompared: number;
  correction: string;
  tokenizer: { family?: string; matches: TokenizerFamilyMatch[] };
  matches: ScanMatch[];
  /** A related known model was found (identical, same-weights, quantized, derived or merge after correction). */
  related: boolean;
  notes: string[];
}

const DEFAULTS = { topK: 5, maxExactCompares: 32, maxLshCandidates: 256, maxRowsPerBand: 256, maxBlockSize: 64, alignmentBudget: 4, maxWidthCandidates: 64 };
/** Vocabularies below this Jaccard and containment are not reported as a tokenizer match. */
const TOKENIZER_MATCH_MIN = 0.5;
const LN10 = Math.LN10;
/** LSH-only candidates need at least this much sketch agreement (log10 p under independent weights, before the correction for the number retrieved) to be compared. */
const MIN_LSH_SKETCH_LOG10P = -2;
/**
 * LSH-only candidates whose only notable agreement is the permutation-invariant profile sketch get at
 * most this many exact compares (strongest first). Independent models of one recipe agree on the
 * profile well beyond chance (it summarises sorted gains, which a shared recipe shapes alike), so
 * without a budget every scan of an unrelated model would compare the whole shortlist; a permuted
 * relative, the one the profile exists to catch, agrees on it more than any of them and ranks first.
 */
const PROFILE_ONLY_BUDGET = 4;
/** Shortlisted fingerprints fetched per registry request (top-k related plus one usually ends the compares). */
const FETCH_BATCH = 6;
/** Verdicts that rest on a lineage p-value (and so can be demoted by the multiple-testing correction). */
const P_VALUE_VERDICTS: ReadonlySet<Verdict> = new Set<Verdict>(['derived', 'merge']);

/** What the scan asks of the registry; the scan itself is written once, for both kinds of registry. */
type RegistryAsk =
  | { op: 'vocabularies'; minhash: Uint32Array; tokensHash: string | undefined }
  | { op: 'weights'; query: CandidateQuery; limits: RetrievalLimits }
  | { op: 'get'; id: string }
  | { op: 'getMany'; ids: string[] }
  | { op: 'widths'; ids: string[] }
  | { op: 'count' };

function answer(registry: Registry, ask: RegistryAsk): unknown {
  switch (ask.op) {
    case 'vocabularies': return registry.retrieveVocabularies(ask.minhash, ask.tokensHash);
    case 'weights': return registry.retrieveWeightCandidates(ask.query, ask.limits);
    case 'get': return registry.get(ask.id);
    case 'getMany': return registry.getMany(ask.ids);
    case 'widths': return registry.weightWidths(ask.ids);
    case 'count': return registry.entryCount();
  }
}

function answerAsync(registry: AsyncRegistry, ask: RegistryAsk): Promise<unknown> {
  switch (ask.op) {
    case 'vocabularies': return registry.retrieveVocabularies(ask.minhash, ask.tokensHash);
    case 'weights': return registry.retrieveWeightCandidates(ask.query, ask.limits);
    case 'get': return registry.get(ask.id);
    case 'getMany': return registry.getMany(ask.ids);
    case 'widths': return registry.weightWidths(ask.ids);
    case 'count': return registry.entryCount();
  }
}

export function scanRegistry(registry: Registry, query: Fingerprint, options: ScanOptions = {}): ScanResult {
  return registry.readSnapshot(() => {
    const steps = scanSteps(registry.location, query, options);
    for (let step = steps.next(); ; ) {
      if (step.done) return step.value;
      step = steps.next(answer(registry, step.value));
    }
  });
}

/** The same scan against a registry behind a network connection (PostgreSQL). */
export async function scanRegistryAsync(registry: AsyncRegistry, query: Fingerprint, options: ScanOptions = {}): Promise<ScanResult> {
  const steps = scanSteps(registry.location, query, options);
  for (let step = steps.next(); ; ) {
    if (step.done) return step.value;
    step = steps.next(await answerAsync(registry, step.value));
  }
}

function* scanSteps(location: string, query: Fingerprint, options: ScanOptions): Generator<RegistryAsk, ScanResult, unknown> {
  const settings = { ...DEFAULTS, ...options };
  const threshold = options.thresholdLog10P ?? DEFAULT_THRESHOLD_LOG10P;
  const notes: string[] = [];
  const candidateQuery = candidateQueryOf(query);
  const tokenizer = query.tokenizer
    ? tokenizerMatches((yield { op: 'vocabularies', minhash: query.tokenizer.minhash, tokensHash: query.tokenizer.tokensHash }) as VocabularyCandidate[], query)
    : [];

  const sameWidth = (yield { op: 'weights', query: candidateQuery, limits: { maxLshCandidates: settings.maxLshCandidates, maxRowsPerBand: settings.maxRowsPerBand, maxBlockSize: settings.maxBlockSize } }) as WeightCandidate[];
  // The index blocks by hidden size; a pruned or grown relative is reached through the tokenizer instead.
  const otherWidths = yield* widthCandidates(query, tokenizer, new Set(sameWidth.map((c) => c.id)), settings.maxWidthCandidates, notes);
  const candidates = [...sameWidth, ...otherWidths.map((w) => w.candidate)];
  const decoded = new Map(otherWidths.map((w) => [w.candidate.id, w.known]));
  const nativeQuery: WeightSketches = { ...candidateQuery.sketches };
  delete nativeQuery.profile;
  const ranked = [
    ...sameWidth.map((c) => ({ candidate: c, sketch: sketchEvidence(candidateQuery.sketches, c.sketches), nativeLogP: sketchEvidence(nativeQuery, c.sketches).logP })),
    ...otherWidths.map((w) => ({ candidate: w.candidate, sketch: { logP: w.sketchLogP }, nativeLogP: w.sketchLogP })),
  ].sort((x, y) => priority(x.candidate) - priority(y.candidate) || x.sketch.logP - y.sketch.logP || y.candidate.bandHits - x.candidate.bandHits || compareIds(x.candidate.id, y.candidate.id));
  // Exact compares run in rank order and stop once top-k related matches are in hand: a derivative of
  // a popular base has dozens of related siblings, and the base ranks first by sketch agreement.
  // An LSH-only hit whose sketches agree no better than chance is not worth decoding.
  // The shortlist in rank order (which candidates are worth decoding does not depend on compare results).
  // The gate is Bonferroni over the retrieved candidates: among 256 LSH hits, a few agree at p = 0.01 by chance.
  const gateLog10P = MIN_LSH_SKETCH_LOG10P - Math.log10(Math.max(1, sameWidth.length));
  const shortlist: typeof ranked = [];
  let profileOnlyBudget = PROFILE_ONLY_BUDGET;
  for (const entry of ranked) {
    if (shortlist.length >= settings.maxExactCompares) break;
    const onlyLsh = entry.candidate.routes.every((r) => r === 'lsh');
    if (onlyLsh && entry.sketch.logP / LN10 > gateLog10P) continue;
    if (onlyLsh && entry.nativeLogP / LN10 > gateLog10P) {
      if (profileOnlyBudget <= 0) continue;
      profileOnlyBudget--;
    }
    shortlist.push(entry);
  }
  const compared: Array<{ candidate: WeightCandidate; sketchLogP: number; known: Fingerprint; comparison: Comparison }> = [];
  let relatedSoFar = 0;
  // Fingerprints are fetched a few at a time (one round trip each batch): enough for the usual early stop.
  const fetched = new Map<string, RegistryEntry>();
  for (let i = 0; i < shortlist.length && relatedSoFar < settings.topK; i++) {
    const { candidate, sketch } = shortlist[i]!;
    let known = decoded.get(candidate.id);
    if (!known) {
      if (!fetched.has(candidate.id)) {
        const batch = shortlist.slice(i, i + FETCH_BATCH).map((c) => c.candidate.id).filter((id) => !decoded.has(id));
        for (const [id, entry] of (yield { op: 'getMany', ids: batch }) as Map<string, RegistryEntry>) fetched.set(id, entry);
      }
      known = fetched.get(candidate.id)?.fingerprint;
    }
    if (!known) throw new Error(`registry entry ${candidate.id} vanished during the scan`);
    const comparison = compareFingerprints(known, query, { thresholdLog10P: threshold, alignResidual: false });
    if (RELATED_VERDICTS.has(comparison.verdict)) relatedSoFar++;
    compared.push({ candidate, sketchLogP: sketch.logP, known, comparison });
  }
  if (ranked.length > compared.length) notes.push(`${ranked.length} candidates retrieved, ${compared.length} compared exactly (strongest sketch agreement first); the rest count with p = 1 in the correction`);
  // Alignment costs O(d^2) per pair, so only a few same-width candidates get it, and only when the direct tests found nothing.
  if (!compared.some((c) => RELATED_VERDICTS.has(c.comparison.verdict))) {
    const width = hiddenSize(query);
    let budget = settings.alignmentBudget;
    for (const entry of compared) {
      if (budget <= 0) break;
      if (width === undefined || entry.candidate.hiddenSize !== width) continue;
      budget--;
      const aligned = compareFingerprints(entry.known, query, { thresholdLog10P: threshold });
      if ((aligned.lineageLog10P ?? 0) < (entry.comparison.lineageLog10P ?? 0) || RELATED_VERDICTS.has(aligned.verdict)) entry.comparison = aligned;
    }
  }

  // Holm over every retrieved candidate: a shortlist chosen by sketches that share data with the exact
  // tests would inflate a correction over the shortlist alone; untested candidates enter with p = 1.
  const logPs = new Float64Array(candidates.length);
  compared.forEach((c, i) => (logPs[i] = (c.comparison.lineageLog10P ?? 0) * LN10));
  const adjusted = holmAdjust(logPs);
  const matches = compared.map((c, i) => toMatch(c.candidate, c.sketchLogP, c.comparison, adjusted[i]! / LN10, candidates.length, threshold));
  matches.sort(compareMatches);

  const hasWeights = candidateQuery.hiddenSize !== undefined && Object.keys(candidateQuery.sketches).length > 0;
  if (!hasWeights) notes.push('the scanned model has no comparable weight signals: only its tokenizer family can be reported, never weight lineage');
  const related = matches.some((m) => RELATED_VERDICTS.has(m.verdict));
  return {
    schema: 'lineage-lens/scan',
    schemaVersion: 1,
    query: {
      name: query.model.name,
      format: query.model.format,
      hiddenSize: candidateQuery.hiddenSize,
      architecture: query.architecture?.family,
      tokenizerSize: query.tokenizer?.size,
      hasWeights,
    },
    registry: { location, entries: (yield { op: 'count' }) as number },
    thresholdLog10P: threshold,
    candidatesRetrieved: candidates.length,
    candidatesCompared: compared.length,
    correction: `Holm over ${candidates.length} retrieved candidate(s)`,
    tokenizer: { family: tokenizer.find((t) => t.family)?.family, matches: tokenizer },
    matches: matches.slice(0, settings.topK),
    related,
    notes,
  };
}

/**
 * Weight entries that share the query's vocabulary (identical, extended or contained) at another hidden size, ranked
 * by agreement of the width-invariant anchor-geometry sketch (computed from the decoded fingerprints: it is not in the
 * index yet, so at most `limit` entries are decoded, taken in id order).
 */
function* widthCandidates(
  query: Fingerprint,
  tokenizer: TokenizerFamilyMatch[],
  retrieved: ReadonlySet<string>,
  limit: number,
  notes: string[],
): Generator<RegistryAsk, Array<{ candidate: WeightCandidate; known: Fingerprint; sketchLogP: number }>, unknown> {
  const width = hiddenSize(query);
  const code = geometrySketch(query);
  if (width === undefined || !code || limit <= 0) return [];
  const ids = [...new Set(tokenizer.filter((t) => t.relation !== 'overlapping').flatMap((t) => t.entryIds))].filter((id) => !retrieved.has(id)).sort(compareIds);
  if (ids.length > limit) notes.push(`${ids.length} entries share the tokenizer; the first ${limit} were considered at other widths`);
  const considered = ids.slice(0, limit);
  // Only entries at another width are decoded: the index knows every entry's width, one query for all.
  const widths = considered.length ? ((yield { op: 'widths', ids: considered }) as Map<string, number>) : new Map<string, number>();
  const out: Array<{ candidate: WeightCandidate; known: Fingerprint; sketchLogP: number }> = [];
  for (const id of considered) {
    const knownWidth = widths.get(id);
    if (knownWidth === undefined || knownWidth === width) continue;
    const entry = (yield { op: 'get', id }) as RegistryEntry | undefined;
    if (!entry || entry.meta.kind !== 'weights') continue;
    const otherWidth = hiddenSize(entry.fingerprint);
    const otherCode = otherWidth !== undefined && otherWidth !== width ? geometrySketch(entry.fingerprint) : undefined;
    if (!otherCode) continue;
    out.push({ candidate: { id, hiddenSize: otherWidth, sketches: {}, routes: ['width'], bandHits: 0 }, known: entry.fingerprint, sketchLogP: codeAgreementLogP(code, otherCode) });
  }
  return out;
}

/** Identity and declared-parent candidates are compared first, whatever their sketches say. */
function priority(c: WeightCandidate): number {
  if (c.routes.includes('identity')) return 0;
  if (c.routes.includes('declared')) return 1;
  return 2;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Strongest verdict first, then smallest corrected p-value, then id: never insertion order. */
export function compareMatches(a: ScanMatch, b: ScanMatch): number {
  return VERDICT_STRENGTH[b.verdict] - VERDICT_STRENGTH[a.verdict] || (a.adjustedLog10P ?? 0) - (b.adjustedLog10P ?? 0) || compareIds(a.id, b.id);
}

function toMatch(candidate: WeightCandidate, sketchLogP: number, comparison: Comparison, adjustedLog10P: number, tested: number, threshold: number): ScanMatch {
  let verdict = comparison.verdict;
  let reason = comparison.reason;
  const raw = comparison.lineageLog10P;
  if (P_VALUE_VERDICTS.has(verdict) && adjustedLog10P >= threshold) {
    const sharesFamily = Boolean(comparison.a.architecture && comparison.a.architecture === comparison.b.architecture) || ['identical', 'a-extends-b', 'b-extends-a', 'common-ancestor'].includes(comparison.tokenizer?.relation ?? '');
    verdict = sharesFamily ? 'same-family' : 'unrelated';
    reason = `${comparison.verdict} at p ~ 1e${Math.round(raw ?? 0)}, but not after the correction for ${tested} candidates (p ~ 1e${Math.round(adjustedLog10P)} >= 1e${threshold})`;
  }
  const related = RELATED_VERDICTS.has(verdict);
  const match: ScanMatch = {
    id: candidate.id,
    verdict,
    reason,
    sketchLog10P: sketchLogP / LN10,
    routes: candidate.routes,
    declared: comparison.declared,
    comparison,
  };
  if (raw !== undefined) {
    match.log10P = raw;
    match.adjustedLog10P = adjustedLog10P;
  }
  if (related && comparison.direction) match.direction = { parent: comparison.direction.parent === 'a' ? 'known' : 'scanned', reason: comparison.direction.reason };
  return match;
}

/** Known vocabularies the scanned tokenizer equals, extends, is part of, or overlaps strongly; best first. */
function tokenizerMatches(vocabularies: VocabularyCandidate[], query: Fingerprint): TokenizerFamilyMatch[] {
  const t = query.tokenizer!;
  const out: TokenizerFamilyMatch[] = [];
  for (const v of vocabularies) {
    const identical = v.tokensHash === t.tokensHash;
    const jaccard = identical ? 1 : minhashJaccard(t.minhash, v.minhash);
    // |A n B| from Jaccard and sizes: J = i / (|A| + |B| - i).
    const intersection = (jaccard * (t.size + v.size)) / (1 + jaccard);
    const containmentOfKnown = identical ? 1 : Math.min(1, intersection / Math.max(1, v.size));
    const containmentOfQuery = identical ? 1 : Math.min(1, intersection / Math.max(1, t.size));
    let relation: TokenizerRelation;
    if (identical) relation = 'identical';
    else if (containmentOfKnown >= 0.95 && t.size > v.size) relation = 'extends-known';
    else if (containmentOfQuery >= 0.95 && t.size < v.size) relation = 'subset-of-known';
    else if (jaccard >= TOKENIZER_MATCH_MIN) relation = 'overlapping';
    else continue;
    const match: TokenizerFamilyMatch = { relation, knownSize: v.size, jaccard, containmentOfKnown, entryIds: v.entryIds };
    if (v.family) match.family = v.family;
    out.push(match);
  }
  const rank: Record<TokenizerRelation, number> = { identical: 0, 'extends-known': 1, 'subset-of-known': 2, overlapping: 3 };
  return out.sort((a, b) => rank[a.relation] - rank[b.relation] || b.jaccard - a.jaccard || compareIds(a.entryIds[0] ?? '', b.entryIds[0] ?? ''));
}
