// Turns one document into ReferenceStatus values: finds references, resolves them (one worker
// job), then inspects and assesses each distinct model and asks the Hub about the models that are
// not on this machine. Reports the resolved stage before the slow one.
import * as path from 'node:path';
import { isPinnedRevision } from '../core/model/reference';
import { errorMessage } from '../core/errors';
import { findReferences, documentKindOf, type ModelReferenceSite } from '../references';
import { CancelledError, isCancellation, throwIfAborted } from '../core/util/cancellation';
import type { InspectOutput } from './jobs';
import type { ResolveInput } from '../core/model/resolve';
import { readCardFrontMatter, type CardFrontMatter } from './cardBaseModel';
import { assessLineage, NOT_APPLICABLE_LINEAGE, PENDING_LINEAGE, sortMatches, type DeclaredClaim, type LineageContext } from './lineage';
import type { HubLookups } from './oracles/hubLookups';
import { pinCommitOf } from './referenceFacts';
import { withRemoteLineage } from './remoteFingerprints';
import { transformersPipelineDefault } from './pipelineDefaults';
import { findLookAlike, type LookAlike } from './lookAlike';
import type { WorkspaceReferenceIndex } from './workspaceReferenceIndex';
import { lockDriftOf, lockStore, type LockDrift } from './lockfile';
import { fingerprintDigest } from '../core/fingerprint/digest';
import type { RegistryEntryMeta } from '../core/registry';
import type { HubFacts, LineageAssessment, ModelFacts, ReferenceStatus, Resolution } from '../protocol';

export interface AnalyzedReference {
  site: ModelReferenceSite;
  status: ReferenceStatus;
  lookAlike?: LookAlike;
  /** How the reference differs from the workspace's lineage.lock.json (absent without a lock). */
  lockDrift?: LockDrift[];
}

/** A model card that names no base, in a folder whose model was fingerprinted and checked against known models. */
export interface UndeclaredCardBase {
  model: ModelFacts;
  lineage: LineageAssessment;
  frontMatter: CardFrontMatter;
}

export interface DocumentAnalysis {
  uri: string;
  version: number;
  /** False while fingerprints and lineage checks are still running. */
  complete: boolean;
  references: AnalyzedReference[];
  /** Set on a complete analysis of a README.md without base_model next to model weights. */
  undeclaredCardBase?: UndeclaredCardBase;
  startedAtMs: number;
}

export interface DocumentInput {
  uri: string;
  version: number;
  text: string;
  /** File system path when the document is a file; picks the finder and anchors relative paths. */
  fsPath?: string;
  /** The finders' answer for this text, when the caller has it already (a workspace check indexes ids first). */
  sites?: ModelReferenceSite[];
}

export interface AnalysisContext extends LineageContext {
  /** Called once references are resolved, before any fingerprinting. */
  onResolved?(analysis: DocumentAnalysis): void;
  onInspectProgress?(fraction: number, message: string): void;
  /** Return right after resolution (listing references without starting fingerprints). */
  stopAfterResolution?: boolean;
  /** Ids look-alike checks (LL008) compare against: the built-in list plus the registries' entries. */
  wellKnownIds?: readonly string[];
  /** The ids other documents of the workspace reference, which LL008 compares against too. */
  workspaceIndex?: WorkspaceReferenceIndex;
  /** Hub metadata of models not on this machine, in the slow stage; undefined: no lookups. */
  hub?: HubLookups;
}

/** A generated file can name hundreds of models: only the first few distinct ones are looked up. */
const MAX_HUB_LOOKUPS_PER_DOCUMENT = 64;

/** The static revision a site states: the `revision=` value, or the `@rev` / URL revision of the id. */
export function statedRevision(site: ModelReferenceSite): string | undefined {
  if (site.revision && !site.revision.dynamic) return site.revision.value;
  return site.reference?.kind === 'hub' ? site.reference.revision : undefined;
}

function isInspectable(site: ModelReferenceSite, resolution: Resolution): boolean {
  return site.kind !== 'dataset' && (resolution.kind === 'hf-cache' || resolution.kind === 'workspace') && resolution.contentIdentity !== undefined;
}

function resolveInputFor(site: ModelReferenceSite, documentFolder: string | undefined): ResolveInput {
  const input: ResolveInput = { id: site.id, kind: site.kind };
  if (site.reference) input.reference = site.reference;
  const revision = statedRevision(site);
  if (revision !== undefined) input.revision = revision;
  if (site.file !== undefined) input.file = site.file;
  if (site.quant !== undefined) input.quant = site.quant;
  if (site.flags.dynamic) input.dynamic = true;
  if (site.flags.implicitDefault) input.implicitDefault = true;
  if (documentFolder !== undefined) input.documentFolder = documentFolder;
  return input;
}

function initialStatus(uri: string, site: ModelReferenceSite, resolution: Resolution): ReferenceStatus {
  const revision = statedRevision(site);
  const status: ReferenceStatus = {
    uri,
    range: site.range,
    id: site.id,
    loader: site.loader,
    kind: site.kind,
    pinned: isPinnedRevision(revision),
    resolution,
    lineage: isInspectable(site, resolution) || site.kind === 'base-model-claim' || resolution.kind === 'registry' ? PENDING_LINEAGE : NOT_APPLICABLE_LINEAGE,
  };
  if (revision !== undefined) status.revision = revision;
  if (site.flags.trustRemoteCode) status.trustRemoteCode = true;
  return status;
}

/** Card and adapter-config documents describe the model in their own folder. */
function describesFolderModel(fileName: string): boolean {
  const kind = documentKindOf(fileName);
  return kind === 'card' || path.basename(fileName).toLowerCase() === 'adapter_config.json';
}

/** The Hub reads a repository's model card from README.md only. */
function isModelCard(fileName: string): boolean {
  return path.basename(fileName).toLowerCase() === 'readme.md';
}

/** The distinct Hub ids a document's references name, as written (what LL008 and the workspace index compare). */
export function hubIdsOf(sites: readonly ModelReferenceSite[]): string[] {
  return [...new Set(sites.flatMap((s) => (s.reference?.kind === 'hub' ? [s.reference.repoId] : [])))];
}

export async function analyzeDocument(document: DocumentInput, context: AnalysisContext): Promise<DocumentAnalysis> {
  const startedAtMs = Date.now();
  const fileName = document.fsPath ?? document.uri;
  const documentFolder = document.fsPath === undefined ? undefined : path.dirname(document.fsPath);
  const sites = document.sites ?? (await findReferences(document.text, fileName));
  throwIfAborted(context.signal);

  // One resolution per distinct input: generated files repeat the same few ids many times.
  const inputs: ResolveInput[] = [];
  const inputIndex = new Map<string, number>();
  const siteInput = sites.map((site) => {
    const input = resolveInputFor(site, documentFolder);
    const key = JSON.stringify(input);
    let index = inputIndex.get(key);
    if (index === undefined) {
      index = inputs.length;
      inputs.push(input);
      inputIndex.set(key, index);
    }
    return index;
  });
  const hasClaims = sites.some((s) => s.kind === 'base-model-claim');
  // A card without base_model still describes its folder's model: a verified base can be offered for it.
  const cardWithoutBase = !hasClaims && isModelCard(fileName);
  const claimantIndex = documentFolder !== undefined && ((hasClaims && describesFolderModel(fileName)) || cardWithoutBase) ? inputs.length : -1;
  if (claimantIndex >= 0) inputs.push({ id: '', kind: 'model', dynamic: true, requireWeights: true, documentFolder });

  const resolutions = await context.engine.resolve(inputs, context.workspaceFolders, context.signal);
  throwIfAborted(context.signal);
  await resolveThroughRegistry(inputs, resolutions, context);
  throwIfAborted(context.signal);
  // Generated files repeat the same few ids: one look-alike check per distinct id.
  const lookAlikes = new Map<string, LookAlike | undefined>();
  const documentIds = hubIdsOf(sites);
  const workspaceIds = context.workspaceIndex?.partnersOf(documentIds, document.uri) ?? [];
  const lookAlikeOf = (repoId: string): LookAlike | undefined => {
    if (!lookAlikes.has(repoId)) lookAlikes.set(repoId, findLookAlike(repoId, context.wellKnownIds, documentIds, workspaceIds));
    return lookAlikes.get(repoId);
  };
  const references: AnalyzedReference[] = sites.map((site, i) => {
    const resolution = resolutions[siteInput[i]!] ?? { kind: 'unavailable', detail: 'not resolved' };
    const analyzed: AnalyzedReference = { site, status: initialStatus(document.uri, site, resolution) };
    const lookAlike = site.reference?.kind === 'hub' ? lookAlikeOf(site.reference.repoId) : undefined;
    if (lookAlike) analyzed.lookAlike = lookAlike;
    return analyzed;
  });
  const analysis: DocumentAnalysis = { uri: document.uri, version: document.version, complete: false, references: withPins(references), startedAtMs };
  context.onResolved?.({ ...analysis, references: analysis.references.map((r) => ({ ...r })) });
  if (context.stopAfterResolution) return analysis;

  const claimantResolution = claimantIndex >= 0 ? resolutions[claimantIndex] : undefined;
  const claimant = claimantResolution?.kind === 'workspace' ? await inspectQuietly(claimantResolution, context) : undefined;
  const inspections = new Map<string, Promise<InspectOutput | Error>>();
  const inspectOnce = (resolution: Resolution): Promise<InspectOutput | Error> => {
    const key = resolution.contentIdentity!;
    let pending = inspections.get(key);
    if (!pending) {
      pending = inspectQuietly(resolution, context).then(withFingerprintDigest);
      inspections.set(key, pending);
    }
    return pending;
  };
  const assessments = new Map<string, Promise<LineageAssessment>>();
  const undeclaredCardBase = cardWithoutBase && claimant && !(claimant instanceof Error)
    ? assessEditedCard(claimant, [], context).then((lineage): UndeclaredCardBase => ({ model: claimant.facts, lineage, frontMatter: readCardFrontMatter(document.text) }))
    : undefined;

  // One lookup per distinct id and revision; the Hub matches ids case-insensitively.
  const hubLookups = new Map<string, Promise<HubFacts | undefined>>();
  const hubFactsOf = ({ site, status }: AnalyzedReference): Promise<HubFacts | undefined> => {
    const target = context.hub ? hubLookupTarget(site, status.resolution) : undefined;
    if (!target) return Promise.resolve(undefined);
    const key = `${target.repoId.toLowerCase()}@${target.revision ?? ''}`;
    let facts = hubLookups.get(key);
    if (!facts) {
      if (hubLookups.size >= MAX_HUB_LOOKUPS_PER_DOCUMENT) return Promise.resolve(undefined);
      facts = lookUpHubQuietly(context.hub!, target, context.signal);
      hubLookups.set(key, facts);
    }
    return facts;
  };

  const finishReference = async (reference: AnalyzedReference): Promise<AnalyzedReference> => {
    const { site, status } = reference;
    if (!isInspectable(site, status.resolution)) {
      if (site.kind === 'base-model-claim' && claimant && !(claimant instanceof Error)) {
        return { ...reference, status: { ...status, claimant: claimant.facts, lineage: await claimAssessment(claimant, site, context) } };
      }
      if (status.resolution.kind === 'registry' && status.resolution.repoId !== undefined && context.registry) {
        return { ...reference, status: { ...status, lineage: await registryEntryAssessment(status.resolution.repoId, context) } };
      }
      return { ...reference, status: { ...status, lineage: status.lineage === PENDING_LINEAGE ? NOT_APPLICABLE_LINEAGE : status.lineage } };
    }
    const inspected = await inspectOnce(status.resolution);
    if (inspected instanceof Error) {
      return { ...reference, status: { ...status, resolution: { ...status.resolution, detail: `could not be read: ${inspected.message}` }, lineage: { ...NOT_APPLICABLE_LINEAGE, status: 'unverified' } } };
    }
    const withModel: ReferenceStatus = { ...status, model: inspected.facts };
    if (site.kind === 'base-model-claim') {
      if (!claimant || claimant instanceof Error) return { ...reference, status: { ...withModel, lineage: NOT_APPLICABLE_LINEAGE } };
      return { ...reference, status: { ...withModel, claimant: claimant.facts, lineage: await claimAssessment(claimant, site, context) } };
    }
    const key = status.resolution.contentIdentity!;
    let assessment = assessments.get(key);
    if (!assessment) {
      assessment = assessLineage(inspected, status.resolution.repoId, [], context);
      assessments.set(key, assessment);
    }
    return { ...reference, status: { ...withModel, lineage: await assessment } };
  };
  const lockRoot = workspaceFolderOf(document.fsPath, context.workspaceFolders);
  const loadedLock = references.length > 0 ? await lockStore.lockFor(lockRoot) : undefined;
  const lock = loadedLock && 'lock' in loadedLock ? loadedLock.lock : undefined;
  const finishing = Promise.all(references.map(async (reference): Promise<AnalyzedReference> => {
    // Started together: the Hub answers while the models are fingerprinted.
    const [finished, hub] = await Promise.all([finishReference(reference), hubFactsOf(reference)]);
    // A model the Hub knows but no disk holds is then fingerprinted from the Hub (remoteFingerprints.ts).
    const withHub = await withRemoteLineage(hub ? { ...finished, status: { ...finished.status, hub } } : finished, hub, context);
    if (!lock || lockRoot === undefined) return withHub;
    const drift = await lockDriftOf(withHub.site, withHub.status, lock, lockRoot);
    return drift.length > 0 ? { ...withHub, lockDrift: drift } : withHub;
  }));
  // Awaited together: a rejection of either must not go unhandled while the other runs.
  const [finished, cardBase] = await Promise.all([finishing, undeclaredCardBase]);
  throwIfAborted(context.signal);
  const complete: DocumentAnalysis = { ...analysis, complete: true, references: withPins(finished) };
  if (cardBase) complete.undeclaredCardBase = cardBase;
  return complete;
}

/**
 * References that are on neither the workspace nor the cache, but whose id the registry knows at the
 * revision asked for (or any, when none is pinned): their lineage is what the registry recorded.
 */
async function resolveThroughRegistry(inputs: ResolveInput[], resolutions: Resolution[], context: AnalysisContext): Promise<void> {
  if (!context.registry) return;
  const wanted: Array<{ input: ResolveInput; i: number; repoId: string }> = [];
  inputs.forEach((input, i) => {
    // A single file of a repo (a GGUF quant) is not the repo the registry fingerprinted.
    if (resolutions[i]?.kind !== 'unavailable' || input.kind === 'dataset' || input.reference?.kind !== 'hub' || input.file !== undefined || input.quant !== undefined) return;
    wanted.push({ input, i, repoId: input.reference.repoId });
  });
  if (wanted.length === 0) return;
  const found = await context.registry.lookUp([...new Set(wanted.map((w) => w.repoId))], context.signal).catch((err: unknown): Record<string, RegistryEntryMeta> => {
    if (isCancellation(err)) throw err;
    return {};
  });
  for (const { input, i, repoId } of wanted) {
    const entry = found[repoId.toLowerCase()];
    if (!entry || entry.kind !== 'weights') continue;
    // A pinned revision other than the registered one names different bytes.
    if (isPinnedRevision(input.revision) && entry.revision !== undefined && entry.revision.toLowerCase() !== input.revision!.toLowerCase()) continue;
    const previous = resolutions[i]!;
    const resolution: Resolution = {
      kind: 'registry',
      repoId: entry.id,
      detail: `${entry.id} is not on this machine; the registry holds its fingerprint${entry.revision ? ` at revision ${entry.revision.slice(0, 12)}` : ''} (${entry.source ?? 'source not recorded'}), so what a download fetches is not checked`,
    };
    if (entry.revision !== undefined) resolution.commit = entry.revision;
    if (previous.revisionAsked !== undefined) resolution.revisionAsked = previous.revisionAsked;
    resolutions[i] = resolution;
  }
}

/**
 * The repo a reference names when the Hub may tell something about it: a model or adapter named
 * statically (id and revision), found neither in the workspace nor in the cache.
 */
function hubLookupTarget(site: ModelReferenceSite, resolution: Resolution): { repoId: string; revision: string | undefined } | undefined {
  // `pipeline("task")`: the Hub expands the default's short hash to the full commit LL007's fix writes.
  const pipelineDefault = site.flags.implicitDefault && site.task !== undefined ? transformersPipelineDefault(site.task) : undefined;
  if (pipelineDefault) return { repoId: pipelineDefault.repoId, revision: pipelineDefault.revision };
  if (resolution.kind !== 'unavailable' && resolution.kind !== 'registry') return undefined;
  if ((site.kind !== 'model' && site.kind !== 'adapter') || site.flags.dynamic || site.revision?.dynamic) return undefined;
  const reference = site.reference;
  if (reference?.kind !== 'hub' || reference.repoType !== 'model') return undefined;
  return { repoId: reference.repoId, revision: statedRevision(site) };
}

/** A lookup that fails for any reason but cancellation leaves the reference without Hub facts. */
async function lookUpHubQuietly(hub: HubLookups, target: { repoId: string; revision: string | undefined }, signal: AbortSignal | undefined): Promise<HubFacts | undefined> {
  try {
    return await hub.lookUp(target.repoId, target.revision, signal);
  } catch (err) {
    if (signal?.aborted) throw new CancelledError();
    return undefined;
  }
}

/** The registry's knowledge of one of its entries: its relatives among the other entries. */
async function registryEntryAssessment(repoId: string, context: AnalysisContext): Promise<LineageAssessment> {
  const scan = await context.registry!.scanEntry(repoId, context.signal);
  const assessment: LineageAssessment = {
    status: scan.matches.length > 0 ? 'verified' : 'unverified',
    matches: sortMatches(scan.matches),
    declared: [],
    candidatesCompared: await context.registry!.size(),
  };
  if (scan.tokenizerFamily !== undefined) assessment.tokenizerFamily = scan.tokenizerFamily;
  return assessment;
}

/** A card's `base_model` as typed in the editor is checked against the folder's model. */
function claimAssessment(claimant: InspectOutput, site: ModelReferenceSite, context: LineageContext): Promise<LineageAssessment> {
  const claim: DeclaredClaim = { baseModel: site.reference?.kind === 'hub' ? site.reference.repoId : site.id, source: site.loader };
  // The saved card's relation for this base (base_model_relation) says which shapes the claim allows.
  const relation = claimant.facts.declaredBases.find((d) => d.baseModel.toLowerCase() === claim.baseModel.toLowerCase())?.relation;
  if (relation !== undefined) claim.relation = relation;
  return assessEditedCard(claimant, [claim], context);
}

/** Assesses a folder's model against the claims of the card being edited (none when it names no base). */
function assessEditedCard(claimant: InspectOutput, claims: DeclaredClaim[], context: LineageContext): Promise<LineageAssessment> {
  // The saved card's claims would repeat (or contradict) the ones being edited; only the editor's text counts here.
  const subject: InspectOutput = { ...claimant, facts: { ...claimant.facts, declaredBases: [] } };
  return assessLineage(subject, undefined, claims, context);
}

async function inspectQuietly(resolution: Resolution, context: AnalysisContext): Promise<InspectOutput | Error> {
  try {
    return await context.engine.inspect(resolution, context.signal, context.onInspectProgress);
  } catch (err) {
    if (isCancellation(err)) throw err;
    return new Error(errorMessage(err));
  }
}

/** The fingerprint's digest travels with the facts (the lockfile records it). */
function withFingerprintDigest(inspected: InspectOutput | Error): InspectOutput | Error {
  if (inspected instanceof Error || !inspected.fingerprint || inspected.facts.fingerprintDigest !== undefined) return inspected;
  return { ...inspected, facts: { ...inspected.facts, fingerprintDigest: fingerprintDigest(inspected.fingerprint) } };
}

/** The workspace folder holding a document (the innermost), whose .lineage.yaml and lineage.lock.json apply. */
export function workspaceFolderOf(fsPath: string | undefined, workspaceFolders: readonly string[]): string | undefined {
  if (fsPath === undefined) return workspaceFolders[0];
  return workspaceFolders.filter((w) => fsPath === w || fsPath.startsWith(w.endsWith(path.sep) ? w : w + path.sep)).sort((a, b) => b.length - a.length)[0] ?? workspaceFolders[0];
}

/** Each status states the commit a pin may write, so clients need no engine rule to find it. */
function withPins(references: AnalyzedReference[]): AnalyzedReference[] {
  return references.map((reference) => {
    const pin = pinCommitOf(reference.status);
    const { pin: _previous, ...status } = reference.status;
    return { ...reference, status: pin ? { ...status, pin } : status };
  });
}

/** Facts of the model a status points at: the referenced model, or for a card claim the card's own model. */
export function subjectFacts(status: ReferenceStatus): ModelFacts | undefined {
  return status.kind === 'base-model-claim' ? status.claimant : status.model;
}
