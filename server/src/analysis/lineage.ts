// Decides what is known about a model's ancestry: checks each declared base against the model's
// fingerprint and asks the oracle for known relatives, all comparisons running in workers.
import { RELATED_VERDICTS, VERDICT_STRENGTH, type Verdict } from '../core/compare/types';
import { errorMessage } from '../core/errors';
import { parseModelReference } from '../core/model/reference';
import type { InspectOutput } from './jobs';
import type { LineageOracle } from './oracles/oracle';
import type { DeclaredBaseCheck, LineageAssessment, LineageMatch } from '../protocol';
import type { RegistryOracle } from './oracles/registryOracle';
import { isCancellation } from '../core/util/cancellation';
import type { AnalysisEngine } from './engine';
import type { RemoteFingerprints } from './remoteFingerprints';
import { formatBytes, shortCommit } from '../protocol';
import { knownBaseShape, shapeContradiction, type SubjectShape } from './baseArchitectures';

export interface DeclaredClaim {
  baseModel: string;
  source: string;
  /** The card's base_model_relation ('finetune', 'quantized', 'adapter', ...); none means fine-tune. */
  relation?: string;
}

export interface LineageContext {
  engine: AnalysisEngine;
  oracle: LineageOracle;
  /** Declared bases that are not on this machine are checked against their registry entry. */
  registry?: RegistryOracle;
  /** Declared bases on no disk and not in the registry are read from the Hub (lineage.hub.remoteFingerprint). */
  remote?: RemoteFingerprints;
  workspaceFolders: string[];
  signal?: AbortSignal;
}

export const PENDING_LINEAGE: LineageAssessment = { status: 'pending', matches: [], declared: [], candidatesCompared: 0 };
export const NOT_APPLICABLE_LINEAGE: LineageAssessment = { status: 'not-applicable', matches: [], declared: [], candidatesCompared: 0 };

/** Strongest verdict first, then the smallest p-value; on a tie a confirmed declared base comes first. */
export function sortMatches(matches: LineageMatch[], preferredRepoIds: ReadonlySet<string> = new Set()): LineageMatch[] {
  const preferred = (m: LineageMatch): number => (preferredRepoIds.has(m.repoId.toLowerCase()) ? 0 : 1);
  return [...matches].sort((a, b) => VERDICT_STRENGTH[b.verdict] - VERDICT_STRENGTH[a.verdict] || (a.log10P ?? 0) - (b.log10P ?? 0) || preferred(a) - preferred(b));
}

/**
 * Assesses a model: `claims` are checked in addition to what its own files declare (a card's
 * `base_model` in the editor may differ from the saved one). `subjectRepoId` is excluded from scans.
 */
export async function assessLineage(subject: InspectOutput, subjectRepoId: string | undefined, claims: DeclaredClaim[], context: LineageContext): Promise<LineageAssessment> {
  const allClaims = dedupeClaims([...claims, ...subject.facts.declaredBases.map((d) => ({ baseModel: d.baseModel, source: d.source, ...(d.relation === undefined ? {} : { relation: d.relation }) }))]);
  if (!subject.fingerprint) {
    const detail = `not fingerprinted: ${subject.facts.fingerprintError ?? 'no weights were read'}`;
    const unfingerprinted = allClaims.map((c): DeclaredBaseCheck => checkShape(subject, c) ?? { baseModel: c.baseModel, source: c.source, status: 'unverifiable', detail });
    return { status: unfingerprinted.some((d) => d.status === 'contradicted') ? 'contradicted' : 'unverified', matches: [], declared: unfingerprinted, candidatesCompared: 0 };
  }
  const declared = await Promise.all(allClaims.map((claim) => checkDeclaredBase(subject, claim, context)));
  let scanned: LineageMatch[] = [];
  let tokenizerFamily: string | undefined;
  try {
    const scan = await context.oracle.scan(subject.fingerprint, { signal: context.signal, excludeRepoIds: subjectRepoId === undefined ? [] : [subjectRepoId] });
    scanned = scan.matches;
    tokenizerFamily = scan.tokenizerFamily;
  } catch (err) {
    if (isCancellation(err)) throw err;
  }
  const candidatesCompared = (await context.oracle.size?.().catch(() => 0)) ?? 0;
  const byRepo = new Map<string, LineageMatch>();
  for (const match of scanned) byRepo.set(match.repoId.toLowerCase(), match);
  for (const check of declared) {
    if (check.status !== 'confirmed' || check.verdict === undefined || byRepo.has(check.baseModel.toLowerCase())) continue;
    // A confirmed claim names the parent: the weights agree that the two are related.
    const match: LineageMatch = { repoId: check.baseModel, verdict: check.verdict, reason: check.detail, source: 'declared', relation: 'parent' };
    if (check.log10P !== undefined) match.log10P = check.log10P;
    byRepo.set(check.baseModel.toLowerCase(), match);
  }
  const confirmed = new Set(declared.filter((d) => d.status === 'confirmed').map((d) => d.baseModel.toLowerCase()));
  const matches = sortMatches([...byRepo.values()], confirmed);
  const status = declared.some((d) => d.status === 'contradicted') ? 'contradicted' : matches.length > 0 ? 'verified' : 'unverified';
  const assessment: LineageAssessment = { status, matches, declared, candidatesCompared: candidatesCompared + declared.length };
  if (tokenizerFamily !== undefined) assessment.tokenizerFamily = tokenizerFamily;
  return assessment;
}

function judgeClaim(claim: DeclaredClaim, verdict: Verdict, log10P: number | undefined, detail: string): DeclaredBaseCheck {
  const check: DeclaredBaseCheck = { baseModel: claim.baseModel, source: claim.source, status: 'unverifiable', verdict, detail };
  if (log10P !== undefined) check.log10P = log10P;
  if (RELATED_VERDICTS.has(verdict)) check.status = 'confirmed';
  else if (verdict === 'unrelated' || verdict === 'same-family') check.status = 'contradicted';
  return check;
}

/** The registry's stored fingerprint of the declared base stands in for its files. */
async function checkAgainstRegistry(subject: InspectOutput, claim: DeclaredClaim, context: LineageContext): Promise<DeclaredBaseCheck | undefined> {
  if (!context.registry || !subject.fingerprint) return undefined;
  const known = await context.registry.compareWith(subject.fingerprint, claim.baseModel, context.signal);
  if (!known.entry) return undefined;
  const revision = known.entry.revision ? ` at ${known.entry.revision.slice(0, 12)}` : '';
  if (known.verdict === undefined) return { baseModel: claim.baseModel, source: claim.source, status: 'unverifiable', detail: known.reason ?? `${known.entry.id} has no weight fingerprint in the registry` };
  return judgeClaim(claim, known.verdict, known.log10P, `checked against the registry's fingerprint of ${known.entry.id}${revision}: ${known.reason ?? known.verdict}`);
}

/** The declared base read from the Hub by range requests; undefined when remote fingerprints are off. */
async function checkAgainstRemote(subject: InspectOutput, claim: DeclaredClaim, repoId: string, revision: string | undefined, context: LineageContext): Promise<DeclaredBaseCheck | undefined> {
  if (!context.remote || !subject.fingerprint) return undefined;
  const read = await context.remote.inspect(repoId, revision, context.signal);
  if (!read) return undefined;
  const base = { baseModel: claim.baseModel, source: claim.source };
  if (!read.inspection?.fingerprint) {
    const why = read.remote.problem ?? read.inspection?.facts.fingerprintError ?? 'no weights were read';
    return { ...base, status: 'unverifiable', detail: `${claim.baseModel} is on no disk and could not be read from the Hub: ${why}` };
  }
  const comparison = await context.engine.compare(subject, read.inspection, context.signal);
  const at = read.remote.commit === undefined ? '' : ` at ${shortCommit(read.remote.commit)}`;
  const cost = read.remote.fromInspectionCache ? 'fingerprinted in an earlier session' : `${formatBytes(read.remote.bytesTransferred)} in ${read.remote.requests} requests`;
  return judgeClaim(claim, comparison.verdict, comparison.lineageLog10P, `checked against ${claim.baseModel}${at} read from the Hub (${cost}): ${comparison.reason}`);
}

/**
 * The offline check of last resort: the shipped shape of a well-known base against the model's own
 * dimensions. Only a refutation is reported; a matching shape proves no lineage.
 */
function checkShape(subject: InspectOutput, claim: DeclaredClaim): DeclaredBaseCheck | undefined {
  const base = knownBaseShape(claim.baseModel);
  if (!base) return undefined;
  const architecture = subject.facts.architecture;
  const shape: SubjectShape = {};
  if (architecture?.hiddenSize !== undefined) shape.hiddenSize = architecture.hiddenSize;
  if (architecture?.layers !== undefined) shape.layers = architecture.layers;
  if (architecture?.vocabSize !== undefined) shape.vocabSize = architecture.vocabSize;
  // An adapter folder's own parameters are not the model's: only weights of a full model are counted.
  if (subject.facts.parameterCount !== undefined && subject.facts.parameterCount > 0) shape.parameterCount = subject.facts.parameterCount;
  const refutation = shapeContradiction(shape, base, claim.relation);
  if (refutation === undefined) return undefined;
  return { baseModel: claim.baseModel, source: claim.source, status: 'contradicted', byShape: true, detail: `${refutation} (its published shape; its weights are not on this machine)` };
}

function dedupeClaims(claims: DeclaredClaim[]): DeclaredClaim[] {
  const seen = new Set<string>();
  return claims.filter((c) => {
    const key = c.baseModel.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Resolves the declared base locally and compares fingerprints; a base that is not at hand is unverifiable. */
async function checkDeclaredBase(subject: InspectOutput, claim: DeclaredClaim, context: LineageContext): Promise<DeclaredBaseCheck> {
  const base = { baseModel: claim.baseModel, source: claim.source };
  const reference = parseModelReference(claim.baseModel);
  if (!reference || reference.kind !== 'hub') return { ...base, status: 'unverifiable', detail: `${claim.baseModel} is not a Hub model id` };
  try {
    const [resolution] = await context.engine.resolve([{ id: claim.baseModel, reference, kind: 'base-model-claim' }], context.workspaceFolders, context.signal);
    if (!resolution || (resolution.kind !== 'hf-cache' && resolution.kind !== 'workspace')) {
      const registered = await checkAgainstRegistry(subject, claim, context);
      if (registered && registered.status !== 'unverifiable') return registered;
      const remote = await checkAgainstRemote(subject, claim, reference.repoId, reference.revision, context);
      if (remote && remote.status !== 'unverifiable') return remote;
      return checkShape(subject, claim) ?? registered ?? remote ?? { ...base, status: 'unverifiable', detail: `${claim.baseModel} is neither available locally nor in the registry, so the claim cannot be checked offline` };
    }
    const inspected = await context.engine.inspect(resolution, context.signal);
    if (!inspected.fingerprint) return { ...base, status: 'unverifiable', detail: `${claim.baseModel} could not be fingerprinted: ${inspected.facts.fingerprintError ?? 'no weights'}` };
    const comparison = await context.engine.compare(subject, inspected, context.signal);
    return judgeClaim(claim, comparison.verdict, comparison.lineageLog10P, comparison.reason);
  } catch (err) {
    if (isCancellation(err)) throw err;
    return { ...base, status: 'unverifiable', detail: `checking ${claim.baseModel} failed: ${errorMessage(err)}` };
  }
}
