// Every rule over a document's analysis, with severities settled: the findings the editor shows as
// diagnostics and `lineage check` reports. README.md "Diagnostics" documents each code.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DocumentAnalysis } from '../documentAnalysis';
import { ignoreCovers, type LineagePolicy } from '../policy';
import { declaredBaseContradicted } from './ll002DeclaredBaseContradicted';
import { unverifiedLineage } from './ll001UnverifiedLineage';
import { unpinnedRevision } from './ll003UnpinnedRevision';
import { trustRemoteCode } from './ll004TrustRemoteCode';
import { pickleWeights } from './ll005PickleWeights';
import { cacheIntegrity } from './ll006CacheIntegrity';
import { implicitDefaultModel } from './ll007ImplicitDefaultModel';
import { lookAlikeId } from './ll008LookAlikeId';
import { notAvailableLocally } from './ll009NotAvailableLocally';
import { lockDrift } from './ll011LockDrift';
import { policyViolation } from './ll012PolicyViolation';
import { invalidIgnores } from './ll013InvalidIgnore';
import { effectiveSeverity, type SeverityOverrides } from './severity';
import type { Finding, Rule, RuleFinding } from './types';
import { reUpload } from './ll010ReUpload';
import type { AnalyzedReference } from '../documentAnalysis';
import type { SeveritySetting } from '../../protocol';

export type { Finding, FindingData, FindingSeverity } from './types';

/** In the order their findings are listed for one reference. */
const RULES: readonly Rule[] = [policyViolation, lockDrift, implicitDefaultModel, trustRemoteCode, unpinnedRevision, lookAlikeId, notAvailableLocally, pickleWeights, cacheIntegrity, declaredBaseContradicted, reUpload, unverifiedLineage];

/** Every rule's findings for one reference, before severities and ignores are settled (the standing reads these). */
export function ruleFindingsOf(reference: AnalyzedReference, policy: LineagePolicy | undefined): RuleFinding[] {
  return RULES.flatMap((rule) => rule({ reference, policy }));
}

const SEVERITY_RANK: Readonly<Record<SeveritySetting, number>> = { off: 0, hint: 1, information: 2, warning: 3, error: 4 };

export interface FindingOptions {
  /** The day ignores expire against (default: now). */
  now?: Date;
}

export function computeFindings(analysis: DocumentAnalysis, overrides: SeverityOverrides, policy: LineagePolicy | undefined, options: FindingOptions = {}): Finding[] {
  const now = options.now ?? new Date();
  const documentPath = documentPathOf(analysis.uri);
  // Ignores name paths relative to the policy's folder, as a repository's files are written.
  const relativePath = policy?.file !== undefined && documentPath !== undefined ? path.relative(path.dirname(policy.file), documentPath).split(path.sep).join('/') : undefined;
  const findings: Finding[] = [];
  const settle = (found: RuleFinding, referenceIndex: number | undefined, id: string | undefined): void => {
    if (policy?.ignores?.some((ignore) => ignoreCovers(ignore, found.code, relativePath, id, now))) return;
    let severity = effectiveSeverity(found.code, overrides, policy, found.context);
    // Some findings are worse than their code's default (dangerous pickle globals, an id the Hub does
    // not know): raised unless the user turned the code off or chose its severity explicitly.
    const chosen = overrides[found.code] !== undefined || policy?.severity[found.code] !== undefined;
    const raiseTo = found.context?.raiseTo;
    if (raiseTo && severity !== 'off' && !chosen && SEVERITY_RANK[severity] < SEVERITY_RANK[raiseTo]) severity = raiseTo;
    if (severity === 'off') return;
    findings.push({ code: found.code, severity, range: found.range, message: found.message, data: { referenceIndex: referenceIndex ?? -1, ...found.data } });
  };
  // The policy file itself carries the findings about its ignores.
  if (policy?.file !== undefined && documentPath !== undefined && path.resolve(documentPath) === path.resolve(policy.file)) {
    for (const found of invalidIgnores(policy, now)) settle(found, undefined, undefined);
  }
  analysis.references.forEach((reference, referenceIndex) => {
    const id = reference.site.reference?.kind === 'hub' ? reference.site.reference.repoId : reference.site.id;
    for (const found of ruleFindingsOf(reference, policy)) settle(found, referenceIndex, id);
  });
  return findings;
}

function documentPathOf(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}
