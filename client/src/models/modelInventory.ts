// The workspace's model inventory as plain data: references from lineage/listReferences grouped by
// model, each with one status (verified, declared only, unverified, risky). Pure; the tree view renders it.
import type { ReferenceStatus } from '../../../server/src/protocol';

export type InventoryStatus = 'verified' | 'declared' | 'unverified' | 'risky';

/** Worst first: a model is as risky as its worst reference. */
const STATUS_RANK: Readonly<Record<InventoryStatus, number>> = { risky: 3, unverified: 2, declared: 1, verified: 0 };

export const STATUS_LABELS: Readonly<Record<InventoryStatus, string>> = {
  verified: 'verified lineage',
  declared: 'declared lineage only',
  unverified: 'unverified',
  risky: 'risky',
};

export interface InventoryModel {
  /** Grouping key: the id in lower case (Hub ids are case-insensitive), or the resolved path. */
  key: string;
  label: string;
  status: InventoryStatus;
  /** Why the status is what it is, one short line per reason. */
  reasons: string[];
  references: ReferenceStatus[];
}

/** Findings at these severities make a model risky (dangerous pickle globals, remote code). */
const RISKY_FINDING_SEVERITIES: ReadonlySet<string> = new Set(['critical', 'high']);

/** Reasons a single reference is risky; empty when it is not. */
export function riskReasons(reference: ReferenceStatus): string[] {
  const reasons: string[] = [];
  for (const declared of reference.lineage.declared) {
    if (declared.status === 'contradicted') reasons.push(`declared base ${declared.baseModel} contradicted by the weights`);
  }
  const facts = reference.model ?? reference.claimant;
  for (const finding of facts?.findings ?? []) {
    if (RISKY_FINDING_SEVERITIES.has(finding.severity)) reasons.push(`${finding.severity}: ${finding.message}`);
  }
  const altered = facts?.integrity.filter((entry) => entry.status === 'mismatch') ?? [];
  if (altered.length > 0) reasons.push(`cache blob altered after download: ${altered.map((e) => e.relativePath).join(', ')}`);
  return reasons;
}

export function referenceStatus(reference: ReferenceStatus): InventoryStatus {
  if (reference.lineage.status === 'contradicted' || riskReasons(reference).length > 0) return 'risky';
  if (reference.lineage.status === 'verified') return 'verified';
  const facts = reference.model ?? reference.claimant;
  const declares = reference.lineage.declared.length > 0 || (facts?.declaredBases.length ?? 0) > 0 || reference.kind === 'base-model-claim';
  return declares ? 'declared' : 'unverified';
}

function worst(a: InventoryStatus, b: InventoryStatus): InventoryStatus {
  return STATUS_RANK[a] >= STATUS_RANK[b] ? a : b;
}

function groupKey(reference: ReferenceStatus): { key: string; label: string } {
  if (reference.id !== '') return { key: reference.id.toLowerCase(), label: reference.id };
  const where = reference.resolution.path;
  return where !== undefined ? { key: where, label: where } : { key: '(dynamic)', label: '(id decided at run time)' };
}

/** Groups model references (datasets are not models) by id; models sorted worst status first, then by name. */
export function buildInventory(references: readonly ReferenceStatus[]): InventoryModel[] {
  const byKey = new Map<string, InventoryModel>();
  for (const reference of references) {
    if (reference.kind === 'dataset') continue;
    const { key, label } = groupKey(reference);
    let model = byKey.get(key);
    if (!model) {
      model = { key, label, status: 'verified', reasons: [], references: [] };
      byKey.set(key, model);
    }
    model.references.push(reference);
    model.status = model.references.length === 1 ? referenceStatus(reference) : worst(model.status, referenceStatus(reference));
    for (const reason of riskReasons(reference)) if (!model.reasons.includes(reason)) model.reasons.push(reason);
  }
  const models = [...byKey.values()];
  for (const model of models) {
    model.references.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : a.range.start.line - b.range.start.line));
  }
  return models.sort((a, b) => STATUS_RANK[b.status] - STATUS_RANK[a.status] || a.label.localeCompare(b.label));
}

/** One-line description of where a model resolved and what the lineage check found. */
export function describeModel(model: InventoryModel): string {
  const first = model.references[0];
  const best = first?.lineage.matches[0];
  const count = `${model.references.length} reference${model.references.length === 1 ? '' : 's'}`;
  if (model.status === 'verified' && best) return `${count} · ${best.verdict} ${best.repoId}`;
  return `${count} · ${STATUS_LABELS[model.status]}`;
}
