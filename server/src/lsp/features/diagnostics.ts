// Diagnostics LL001-LL009 as a pure function of a document's analysis, the settings and the
// workspace policy. README.md "Diagnostics" documents every code with an example and its fix.
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver';
import type { AnalyzedReference, DocumentAnalysis } from '../../analysis/documentAnalysis';
import { subjectFacts } from '../../analysis/documentAnalysis';
import type { ModelReferenceSite } from '../../references';
import { describeHubFiles, describeHubProblem, describeMatch, describePinOrigin, formatLog10P, hubProblemOf, hubRepoFactsOf, isHubMissing, shortCommit, type PinCommit } from '../../protocol';
import { isHubPickleOnly, isPickleFormat, pinCommitOf } from '../../analysis/referenceFacts';
import { isAllowedBase, type LineagePolicy } from '../../analysis/policy';
import { DIAGNOSTIC_SOURCE, DiagnosticCodes, type DiagnosticCode, type LineageSettings, type Range, type ReferenceStatus, type SeveritySetting } from '../../protocol';
import { effectiveSeverity, type SeverityContext } from '../settings';

/** Extra facts a diagnostic carries for its quick fixes. */
export interface LineageDiagnosticData {
  /** Index of the reference in the document analysis. */
  referenceIndex: number;
  /** Commit to pin to (LL003, LL004): cached, fingerprinted by the registry, or the Hub's current one. */
  commit?: string;
  /** Verified base to write into a card (LL002). */
  suggestedBase?: string;
}

const LSP_SEVERITY: Readonly<Record<Exclude<SeveritySetting, 'off'>, DiagnosticSeverity>> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

const PICKLE_DANGEROUS = 'pickle-dangerous-global';
const SEVERITY_RANK: Readonly<Record<SeveritySetting, number>> = { off: 0, hint: 1, information: 2, warning: 3, error: 4 };
/** Loaders the URL finder reports for links found in free text. */
const TEXT_LINK_LOADERS: ReadonlySet<string> = new Set(['url', 'hf-uri']);

export function computeDiagnostics(analysis: DocumentAnalysis, settings: LineageSettings, policy: LineagePolicy | undefined): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  analysis.references.forEach((reference, referenceIndex) => {
    const add: AddDiagnostic = (code, range, message, context = {}, data = {}) => {
      let severity = effectiveSeverity(code, settings, policy, context);
      // Some findings are worse than their code's default (dangerous pickle globals, an id the Hub does
      // not know): raised unless the user turned the code off or chose its severity explicitly.
      const chosen = settings.diagnostics.severity[code] !== undefined || policy?.severity[code] !== undefined;
      if (context.raiseTo && severity !== 'off' && !chosen && SEVERITY_RANK[severity] < SEVERITY_RANK[context.raiseTo]) severity = context.raiseTo;
      if (severity === 'off') return;
      diagnostics.push({ range, severity: LSP_SEVERITY[severity], code, source: DIAGNOSTIC_SOURCE, message, data: { referenceIndex, ...data } satisfies LineageDiagnosticData });
    };
    referenceDiagnostics(reference, policy, add);
  });
  return diagnostics;
}

type RaisedSeverityContext = SeverityContext & { raiseTo?: 'error' | 'warning' };
type AddDiagnostic = (code: DiagnosticCode, range: Range, message: string, context?: RaisedSeverityContext, data?: Partial<LineageDiagnosticData>) => void;

function referenceDiagnostics({ site, status, lookAlike }: AnalyzedReference, policy: LineagePolicy | undefined, add: AddDiagnostic): void {
  const hub = site.reference?.kind === 'hub' ? site.reference : undefined;
  const kind = status.resolution.kind;
  const pinTarget = pinCommitOf(status);
  const commit = pinTarget?.commit;
  const isClaim = site.kind === 'base-model-claim';
  // A link in prose or a comment documents a model; it loads nothing, so pinning it means nothing.
  const isTextLink = TEXT_LINK_LOADERS.has(site.loader);

  if (site.flags.implicitDefault) {
    add(DiagnosticCodes.implicitDefaultModel, site.range, `pipeline(${site.task ? `"${site.task}"` : ''}) without a model loads a default the library picks, which can change between versions; name the model and pin its revision`);
  }

  if (site.flags.trustRemoteCode) {
    const pinnedText = status.pinned ? 'pinned, so the code is fixed; review it before every pin update' : 'not pinned, so the code can change under you at any download';
    add(DiagnosticCodes.trustRemoteCode, site.flags.trustRemoteCodeRange ?? site.range, `trust_remote_code runs Python code from ${hub?.repoId ?? 'the repository'} on load; the reference is ${pinnedText}`, { pinned: status.pinned }, commit ? { commit } : {});
  }

  const revisionDynamic = site.revision?.dynamic === true;
  if (hub && !isClaim && !isTextLink && !site.flags.dynamic && !revisionDynamic && status.resolution.kind !== 'workspace' && !status.pinned) {
    const cached = pinTarget ? ` ${pinTargetSentence(pinTarget)}` : '';
    const message = status.revision === undefined
      ? `${hub.repoId} is not pinned: it loads whatever the default branch points to at download time. Pin a 40-hex commit.${cached}`
      : `revision "${status.revision}" is a branch, tag or short hash and can move; pin a 40-hex commit.${cached}`;
    add(DiagnosticCodes.unpinnedRevision, site.revision?.range ?? site.range, message, {}, commit ? { commit } : {});
  }

  if (lookAlike) {
    add(DiagnosticCodes.lookAlikeId, site.range, `${hub?.repoId ?? site.id} looks like the well-known ${lookAlike.wellKnownId} (${lookAlike.distance} edit${lookAlike.distance === 1 ? '' : 's'} apart); make sure this is the repository you mean`);
  }

  if ((kind === 'unavailable' || kind === 'registry') && !isClaim && site.kind !== 'dataset') {
    // The Hub does not have it: the reference cannot load as written, worse than "not downloaded yet".
    const hubProblem = hubProblemOf(status);
    add(DiagnosticCodes.notAvailableLocally, site.range, notAvailableMessage(site, status), hubProblem && isHubMissing(hubProblem.problem) ? { raiseTo: 'warning' } : {});
  }

  const model = status.model;
  if (model && !isClaim) {
    const dangerous = model.findings.filter((f) => f.code === PICKLE_DANGEROUS);
    if (dangerous.length > 0) {
      add(DiagnosticCodes.pickleWeights, site.range, `${model.displayName}: ${dangerous.map((f) => `${f.file}: ${f.message}`).join('; ')}. Do not load it; use a safetensors copy from a trusted source.`, { raiseTo: 'error' });
    } else if (isPickleFormat(model.format)) {
      add(DiagnosticCodes.pickleWeights, site.range, pickleOnlyMessage(model.displayName, '', model.weightFiles));
    }
    for (const entry of model.integrity.filter((e) => e.status === 'mismatch')) {
      add(DiagnosticCodes.cacheIntegrity, site.range, `cached ${entry.relativePath} does not match its content hash (blob ${entry.blobName.slice(0, 16)}…, content ${entry.actualSha256?.slice(0, 16) ?? '?'}…): the file was altered after download. Delete the blob and download again.`);
    }
  }

  const hubFacts = hubRepoFactsOf(status);
  if (!model && !isClaim && hubFacts && isHubPickleOnly(hubFacts)) {
    add(DiagnosticCodes.pickleWeights, site.range, pickleOnlyMessage(hubFacts.repoId, ' on the Hub', hubFacts.weightFiles));
  }

  const facts = subjectFacts(status);
  const lineage = status.lineage;
  const contradicted = lineage.declared.filter((d) => d.status === 'contradicted');
  const best = lineage.matches[0];
  for (const check of contradicted) {
    const p = formatLog10P(check.log10P);
    const suggestion = best ? ` Verified instead: ${describeMatch(best)}.` : '';
    add(DiagnosticCodes.declaredBaseContradicted, site.range, `${facts?.displayName ?? site.id} declares base ${check.baseModel} (${check.source}), but the weights say ${check.verdict ?? 'unrelated'}${p ? ` (${p})` : ''}: ${check.detail}.${suggestion}`, {}, best ? { suggestedBase: best.repoId } : {});
  }
  if (lineage.status === 'verified' && best && !isAllowedBase(policy, best.repoId, facts?.architecture?.family)) {
    add(DiagnosticCodes.declaredBaseContradicted, site.range, `${facts?.displayName ?? site.id} is ${describeMatch(best)}, which is outside allowed_base_families in .lineage.yaml`);
  }
  if (lineage.status === 'unverified' && facts && !isClaim) {
    const reason = facts.fingerprintError ? `it could not be fingerprinted (${facts.fingerprintError})` : `no known fingerprint matches (compared with ${lineage.candidatesCompared} known model${lineage.candidatesCompared === 1 ? '' : 's'})`;
    const policyNote = policy?.allowedBaseFamilies ? '; .lineage.yaml requires a verified base from allowed_base_families' : '';
    add(DiagnosticCodes.unverifiedLineage, site.range, `lineage of ${facts.displayName} is unverified: ${reason}${policyNote}`);
  }
}

const MAX_FILES_NAMED = 4;

function pickleOnlyMessage(name: string, where: string, weightFiles: readonly string[]): string {
  const named = weightFiles.slice(0, MAX_FILES_NAMED).join(', ') + (weightFiles.length > MAX_FILES_NAMED ? ', …' : '');
  return `${name} ships pickle weights only${where} (${named}); loading a pickle can run code. Prefer safetensors (use_safetensors=True) or a repository that ships them.`;
}

/** " The cached snapshot is at 1a2b3c4d5e6f.", the end of an LL003 message. */
function pinTargetSentence(pin: PinCommit): string {
  switch (pin.origin) {
    case 'cached':
      return `The cached snapshot is at ${shortCommit(pin.commit)}.`;
    case 'registry':
      return `The registry fingerprinted ${shortCommit(pin.commit)}.`;
    case 'hub':
      return `${capitalize(describePinOrigin(pin))} is ${shortCommit(pin.commit)}.`;
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** LL009: where the model is not, and what the Hub says about it when it was asked. */
function notAvailableMessage(site: ModelReferenceSite, status: ReferenceStatus): string {
  const resolution = status.resolution;
  const written = site.reference?.kind === 'hub' ? site.reference.repoId : site.id;
  const local = resolution.detail ?? `${site.id} is not available locally`;
  const download = 'Download it to verify its lineage offline.';
  const hub = hubRepoFactsOf(status);
  if (hub) {
    // Cached at another commit, or fingerprinted by the registry: that detail says more than "not here".
    const here = resolution.kind === 'registry' || resolution.otherCachedCommits !== undefined ? local : `${written} is not on this machine`;
    const renamed = hub.repoId.toLowerCase() !== written.toLowerCase() ? ` (as ${hub.repoId})` : '';
    const fingerprinted = resolution.kind === 'registry' && resolution.commit === hub.commit ? ', the commit the registry fingerprinted' : '';
    return `${here}; the Hub has it${renamed} at commit ${shortCommit(hub.commit)}${fingerprinted} (${describeHubFiles(hub)}). ${download}`;
  }
  const problem = hubProblemOf(status);
  if (problem && isHubMissing(problem.problem)) {
    return `${written} is not on this machine, and ${describeHubProblem(problem)}. Check the ${problem.problem === 'not-found' ? 'id' : 'revision'}.`;
  }
  if (problem) return `${local}; ${describeHubProblem(problem)}. ${download}`;
  return `${local}. ${download}`;
}
