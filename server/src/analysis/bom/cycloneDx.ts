// The workspace's AI bill of materials as a CycloneDX 1.6 ML-BOM: one machine-learning-model
// component per referenced model and revision, with file hashes, pedigree and lineage properties. Pure.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RELATED_VERDICTS } from '../../core/compare/types';
import { formatLog10P } from '../../protocol';
import type { BomOptions, CycloneDxBom, CycloneDxComponent, CycloneDxHash, CycloneDxOccurrence, CycloneDxProperty, LineageMatch, ModelFacts, ReferenceStatus } from '../../protocol';

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

/** Known sha256 of each weight file: computed by the integrity check, or the LFS blob name the Hub assigned. */
function fileComponents(facts: ModelFacts): CycloneDxComponent[] {
  return facts.weightFiles.map((relativePath) => {
    const entry = facts.integrity.find((e) => e.relativePath === relativePath);
    const sha256 = entry?.actualSha256 ?? (entry && entry.status === 'ok' && HEX64.test(entry.blobName) ? entry.blobName : undefined);
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
  return `${(reference.id || reference.resolution.path || '(dynamic)').toLowerCase()}@${version}`;
}

function modelComponent(references: ReferenceStatus[], options: BomOptions): CycloneDxComponent {
  const first = references[0]!;
  const id = first.id || first.resolution.path || '(dynamic)';
  const version = first.resolution.commit ?? first.revision;
  const component: CycloneDxComponent = { type: 'machine-learning-model', 'bom-ref': `model:${componentKey(first)}`, ...splitId(id) };
  if (version !== undefined) component.version = version;
  const purl = huggingFacePurl(first.resolution.repoId ?? id, first.resolution.commit);
  if (purl !== undefined) component.purl = purl;
  const facts = first.model ?? first.claimant;
  if (facts) {
    const files = fileComponents(facts);
    if (files.length > 0) component.components = files;
    if (facts.architecture) component.modelCard = { modelParameters: { architectureFamily: facts.architecture.family, modelArchitecture: facts.format } };
  }
  const lineage = first.lineage;
  const ancestors = lineage.matches.filter((m) => RELATED_VERDICTS.has(m.verdict)).map(ancestorOf);
  for (const declared of lineage.declared) {
    if (declared.status === 'confirmed' && !ancestors.some((a) => `${a.group ?? ''}/${a.name}`.toLowerCase() === declared.baseModel.toLowerCase())) {
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

/** Builds the BOM from listReferences results; datasets are left out (they are not models). */
export function buildCycloneDxBom(references: readonly ReferenceStatus[], options: BomOptions): CycloneDxBom {
  const groups = new Map<string, ReferenceStatus[]>();
  for (const reference of references) {
    if (reference.kind === 'dataset' || reference.resolution.kind === 'not-a-model') continue;
    const key = componentKey(reference);
    const group = groups.get(key) ?? [];
    group.push(reference);
    groups.set(key, group);
  }
  const components = [...groups.keys()].sort().map((key) => modelComponent(groups.get(key)!, options));
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
