// The workspace's model inventory as plain data: references from lineage/listReferences grouped by
// model, each with the server's standing (verified, contradicted, re-upload, risky, unverified). Pure.
import { STANDING_WORDS, type ReferenceStanding, type ReferenceStatus, type StandingStatus } from '../../../server/src/protocol';

export type InventoryStatus = StandingStatus;

/**
 * Worst first: a model is as bad as its worst reference; verified last. "Checking" ranks below every
 * settled status: a file nobody opened is listed without fingerprints, and must not hide the verdict
 * another file's analysis reached for the same model.
 */
const STATUS_RANK: Readonly<Record<InventoryStatus, number>> = { risky: 6, contradicted: 5, 're-upload': 4, unverified: 3, 'not-applicable': 1, verified: 0, pending: -1 };

export const STATUS_LABELS: Readonly<Record<InventoryStatus, string>> = STANDING_WORDS;

export interface InventoryModel {
  /** Grouping key: the id in lower case (Hub ids are case-insensitive), or the resolved path. */
  key: string;
  label: string;
  status: InventoryStatus;
  /** Why the status is what it is, one short line per reason. */
  reasons: string[];
  references: ReferenceStatus[];
}

/** A status from a server that predates standings: never green without the server's word. */
function fallbackStanding(reference: ReferenceStatus): ReferenceStanding {
  if (reference.lineage.status === 'pending') return { status: 'pending', summary: 'fingerprinting…' };
  if (reference.lineage.status === 'contradicted') return { status: 'contradicted', summary: 'a declared base is contradicted' };
  return { status: 'unverified', summary: 'no standing from the server' };
}

export function standingOf(reference: ReferenceStatus): ReferenceStanding {
  return reference.standing ?? fallbackStanding(reference);
}

export function referenceStatus(reference: ReferenceStatus): InventoryStatus {
  return standingOf(reference).status;
}

function worst(a: InventoryStatus, b: InventoryStatus): InventoryStatus {
  return STATUS_RANK[a] >= STATUS_RANK[b] ? a : b;
}

function groupKey(reference: ReferenceStatus): { key: string; label: string } {
  // Two paths to one file (a Modelfile and Llama(model_path=...)) are one model.
  if (reference.resolution.kind === 'workspace' && reference.resolution.path !== undefined) return { key: reference.resolution.path, label: reference.id || reference.resolution.path };
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
    const standing = standingOf(reference);
    model.status = model.references.length === 1 ? standing.status : worst(model.status, standing.status);
    const reason = `${STANDING_WORDS[standing.status]}: ${standing.summary}`;
    if (!model.reasons.includes(reason)) model.reasons.push(reason);
  }
  const models = [...byKey.values()];
  for (const model of models) {
    model.references.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : a.range.start.line - b.range.start.line));
    // The reason of the model's own status first.
    const word = `${STANDING_WORDS[model.status]}: `;
    model.reasons.sort((a, b) => Number(!a.startsWith(word)) - Number(!b.startsWith(word)));
  }
  return models.sort((a, b) => STATUS_RANK[b.status] - STATUS_RANK[a.status] || a.label.localeCompare(b.label));
}

/** One-line description: the count of references and why the model has its status. */
export function describeModel(model: InventoryModel): string {
  const count = `${model.references.length} reference${model.references.length === 1 ? '' : 's'}`;
  const first = model.references.find((r) => referenceStatus(r) === model.status) ?? model.references[0];
  const summary = first ? standingOf(first).summary : STATUS_LABELS[model.status];
  return `${count} · ${summary}`;
}
