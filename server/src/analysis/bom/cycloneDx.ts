// The workspace's AI bill of materials as a CycloneDX 1.6 ML-BOM: one machine-learning-model
// component per referenced model and revision, with file hashes, pedigree and lineage properties. Pure.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseModelReference } from '../../core/model/reference';
import { isWeightFileName } from '../../core/model/weightExtensions';
import { formatLog10P, hubRepoFactsOf } from '../../protocol';
import { isHubPickleOnly, isPickleFormat } from '../referenceFacts';
import type { BomOptions, CycloneDxBom, CycloneDxComponent, CycloneDxHash, CycloneDxOccurrence, CycloneDxProperty, LineageMatch, ModelFacts, ReferenceStatus } from '../../protocol';
import { appendAll } from '../../core/util/arrays';

const HEX64 = /^[0-9a-f]{64}$/;
const HUB_ID = /^([A-Za-z0-9][\w.-]*)\/([\w.-]+)$/;

/** `pkg:huggingface/org/name@commit` (purl spec type huggingface; version is the lower-case commit). */
export function huggingFacePurl(repoId: string, commit: string | undefined): string | undefined {
  const match = HUB_ID.exec(repoId);
  if (!match) return undefined;
  const version = commit !== undefined && /^[0-9a-f]{40}$/i.test(commit) ? `@${commit.toLowerCase()}` : '';
  return `pkg:huggingface/${encodeURIComponent(match[1]!)}/${encodeURIComponent(match[2]!)}${version}`;
}

function splitId(id: string): { group?: string; name: string } {
  const match = HUB_ID.exec(id);
  return match ? { group: match[1]!, name: match[2]! } : { name: id };
}

/** sha256 of weight files the caller hashed (workspace models), keyed by the resolved path. */
export type WeightFileHashes = ReadonlyMap<string, ReadonlyArray<{ path: string; sha256: string }>>;

/**
 * Every weight file with its sha256: the hashes the caller computed, else the cache's integrity check
 * (the content hash, or the blob's name, the Hub's LFS oid, when it was too large to hash).
 */
function fileComponents(reference: ReferenceStatus, facts: ModelFacts, hashes: WeightFileHashes | undefined): CycloneDxComponent[] {
  const computed = reference.resolution.path === undefined ? undefined : hashes?.get(reference.resolution.path);
  const known = new Map<string, string>();
  for (const file of computed ?? []) known.set(file.path, file.sha256);
  for (const entry of facts.integrity) {
    const sha256 = entry.actualSha256 ?? (HEX64.test(entry.blobName) ? entry.blobName : undefined);
    if (sha256 !== undefined && !known.has(entry.relativePath)) known.set(entry.relativePath, sha256);
  }
  const names = facts.files.map((f) => f.relativePath.split(path.sep).join('/')).filter((p) => isWeightFileName(p));
  const weightFiles = names.length > 0 ? names : facts.weightFiles;
  return weightFiles.map((relativePath) => {
    const sha256 = known.get(relativePath);
    const component: CycloneDxComponent = { type: 'file', name: relativePath };
    if (sha256 !== undefined) component.hashes = [{ alg: 'SHA-256', content: sha256 }];
    return component;
  });
}

function ancestorOf(match: LineageMatch): CycloneDxComponent {
  const ancestor: CycloneDxComponent = { type: 'machine-learning-model', ...splitId(match.repoId) };
  if (match.commit !== undefined) ancestor.version = match.commit;
  const purl = huggingFacePurl(match.repoId, match.commit);
  if (purl !== undefined) ancestor.purl = purl;
  const p = formatLog10P(match.log10P);
  ancestor.properties = [
    { name: 'lineage:verdict', value: match.verdict },
    { name: 'lineage:evidence', value: `${match.reason}${p ? ` (${p})` : ''}` },
    { name: 'lineage:source', value: match.source },
  ];
  return ancestor;
}

/** The Hub id a reference names, whatever the spelling (`org/name`, a Hub URL, `hf://`), for grouping. */
function hubIdOf(reference: ReferenceStatus): string | undefined {
  if (reference.resolution.repoId !== undefined) return reference.resolution.repoId;
  const parsed = reference.id ? parseModelReference(reference.id) : undefined;
  return parsed?.kind === 'hub' ? parsed.repoId : undefined;
}

/** Supply-chain risks a reviewer filters on: code that runs on load, pickles, a revision that can move. */
function riskProperties(references: readonly ReferenceStatus[], facts: ModelFacts | undefined): CycloneDxProperty[] {
  const risks = new Set<string>();
  if (references.some((r) => r.trustRemoteCode)) risks.add('trust_remote_code');
  if (facts && isPickleFormat(facts.format)) risks.add('pickle-weights');
  if (facts?.findings.some((f) => f.code === 'pickle-dangerous-global')) risks.add('pickle-dangerous-global');
  const hub = references.map(hubRepoFactsOf).find((h) => h !== undefined);
  if (!facts && hub && isHubPickleOnly(hub)) risks.add('pickle-weights');
  if (references.some((r) => !r.pinned && r.resolution.kind !== 'workspace')) risks.add('unpinned');
  return [...risks].sort().map((value) => ({ name: 'lineage:risk', value }));
}

function relativeLocation(uri: string, workspaceRoot: string | undefined): string {
  const fsPath = uri.startsWith('file:') ? fileURLToPath(uri) : uri;
  if (workspaceRoot === undefined) return fsPath;
  const relative = path.relative(workspaceRoot, fsPath);
  // CycloneDX locations use forward slashes; paths outside the workspace stay absolute.
  return relative.startsWith('..') || path.isAbsolute(relative) ? fsPath : relative.split(path.sep).join('/');
}

/** Component identity: the id and the revision actually loaded (a commit when the cache resolved one). */
function componentKey(reference: ReferenceStatus): string {
  const version = reference.resolution.commit ?? reference.revision ?? '';
  return `${(hubIdOf(reference) ?? reference.resolution.path ?? (reference.id || '(dynamic)')).toLowerCase()}@${version}`;
}

function modelComponent(references: ReferenceStatus[], options: BomOptions, hashes: WeightFileHashes | undefined): CycloneDxComponent {
  // A reference that was inspected says the most; any will do for the id.
  const first = references.find((r) => r.model !== undefined) ?? references[0]!;
  const id = hubIdOf(first) ?? (first.id || first.resolution.path || '(dynamic)');
  const version = first.resolution.commit ?? first.revision;
  const component: CycloneDxComponent = { type: 'machine-learning-model', 'bom-ref': `model:${componentKey(first)}`, ...splitId(id) };
  if (version !== undefined) component.version = version;
  const purl = huggingFacePurl(first.resolution.repoId ?? id, first.resolution.commit);
  if (purl !== undefined) component.purl = purl;
  const facts = first.model ?? first.claimant;
  if (facts) {
    const files = fileComponents(first, facts, hashes);
    if (files.length > 0) component.components = files;
    if (facts.architecture) {
      // The config's class (LlamaForCausalLM) is the architecture; the file format is not.
      const modelArchitecture = facts.architecture.architectures?.[0] ?? facts.architecture.family;
      component.modelCard = { modelParameters: { architectureFamily: facts.architecture.family, modelArchitecture } };
    }
  }
  const lineage = first.lineage;
  // Parents only: a model's fine-tunes and copies are related but are not its ancestors.
  const confirmedBases = new Set(lineage.declared.filter((d) => d.status === 'confirmed').map((d) => d.baseModel.toLowerCase()));
  const parents = lineage.matches.filter((m) => m.relation === 'parent' || confirmedBases.has(m.repoId.toLowerCase()));
  const ancestors = parents.map(ancestorOf);
  for (const declared of lineage.declared) {
    if (declared.status === 'confirmed' && !parents.some((m) => m.repoId.toLowerCase() === declared.baseModel.toLowerCase())) {
      ancestors.push({ type: 'machine-learning-model', ...splitId(declared.baseModel), properties: [{ name: 'lineage:declaredStatus', value: 'confirmed' }] });
    }
  }
  if (ancestors.length > 0 || lineage.declared.length > 0) {
    component.pedigree = { notes: `lineage ${lineage.status}; ${lineage.candidatesCompared} known model(s) compared` };
    if (ancestors.length > 0) component.pedigree.ancestors = ancestors;
  }
  const properties: CycloneDxProperty[] = [
    { name: 'lineage:status', value: lineage.status },
    { name: 'lineage:resolution', value: first.resolution.kind },
    { name: 'lineage:pinned', value: String(references.every((r) => r.pinned)) },
  ];
  for (const declared of lineage.declared) properties.push({ name: 'lineage:declaredBase', value: `${declared.baseModel} (${declared.source}): ${declared.status}` });
  for (const base of facts?.declaredBases ?? []) {
    if (!lineage.declared.some((d) => d.baseModel === base.baseModel)) properties.push({ name: 'lineage:declaredBase', value: `${base.baseModel} (${base.source}): unchecked` });
  }
  const best = lineage.matches[0];
  if (best) properties.push({ name: 'lineage:verifiedMatch', value: `${best.verdict} ${best.repoId}${formatLog10P(best.log10P) ? ` (${formatLog10P(best.log10P)})` : ''}` });
  for (const related of lineage.matches.filter((m) => !parents.includes(m))) {
    properties.push({ name: 'lineage:relatedModel', value: `${related.verdict} ${related.repoId} (${related.relation === 'child' ? 'derived from this model' : 'direction unknown'})` });
  }
  appendAll(properties, riskProperties(references, facts));
  if (facts) {
    properties.push({ name: 'lineage:format', value: facts.format }, { name: 'lineage:contentIdentity', value: facts.contentIdentity });
    if (facts.parameterCount !== undefined) properties.push({ name: 'lineage:parameterCount', value: String(facts.parameterCount) });
    for (const finding of facts.findings) properties.push({ name: 'lineage:finding', value: `${finding.severity} ${finding.code} ${finding.file}: ${finding.message}` });
  }
  component.properties = properties;
  component.evidence = {
    occurrences: references.map((r) => ({ location: relativeLocation(r.uri, options.workspaceRoot), line: r.range.start.line + 1, offset: r.range.start.character })),
  };
  return component;
}

/**
 * Builds the BOM from listReferences results; datasets are left out (they are not models). `hashes`
 * adds the sha256 of workspace models' weight files (weightHashes.ts).
 */
export function buildCycloneDxBom(references: readonly ReferenceStatus[], options: BomOptions, hashes?: WeightFileHashes): CycloneDxBom {
  const groups = new Map<string, ReferenceStatus[]>();
  for (const reference of references) {
    if (reference.kind === 'dataset' || reference.resolution.kind === 'not-a-model') continue;
    const key = componentKey(reference);
    const group = groups.get(key) ?? [];
    group.push(reference);
    groups.set(key, group);
  }
  const components = [...groups.keys()].sort().map((key) => modelComponent(groups.get(key)!, options, hashes));
  const workspaceRef = `workspace:${options.workspaceName}`;
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${options.serialUuid}`,
    version: 1,
    metadata: {
      timestamp: options.timestamp,
      tools: { components: [{ type: 'application', name: 'Lineage Lens', version: options.toolVersion }] },
      component: { type: 'application', 'bom-ref': workspaceRef, name: options.workspaceName },
    },
    components,
    dependencies: [{ ref: workspaceRef, dependsOn: components.map((c) => c['bom-ref']!) }],
  };
}
