// What the "second model" picker offers, as plain data: the suggested model, the workspace's references,
// cached models, browse actions and whatever the user typed. Pure, so ordering and dedup are unit-tested.
import type { ReferenceStatus } from '../../../server/src/protocol';

export type CandidateAction = { kind: 'reference'; reference: string } | { kind: 'browseFolder' } | { kind: 'browseFile' };

export interface CandidateItem {
  label: string;
  description?: string;
  /** Quick-pick separator group the item belongs to. */
  group: 'suggested' | 'workspace' | 'cache' | 'browse' | 'typed';
  action: CandidateAction;
}

export interface CandidateSources {
  suggested?: string;
  references: readonly ReferenceStatus[];
  cachedModelIds: readonly string[];
  /** The first side (each name it goes by), left out of the offers. */
  exclude?: string | readonly string[];
}

/** One key for the names of one model: case, a leading `./`, a trailing `/` and an `@revision` do not matter. */
export function modelKey(text: string): string {
  return text.trim().toLowerCase().replace(/^\.\//, '').replace(/\/+$/, '').replace(/@[^/@]*$/, '');
}

/** The text the server opens for a reference: its id (with revision when written), else its resolved path. */
export function referenceTarget(reference: ReferenceStatus): string | undefined {
  if (reference.id !== '') return reference.revision !== undefined && reference.resolution.kind === 'hf-cache' ? `${reference.id}@${reference.revision}` : reference.id;
  return reference.resolution.path;
}

export function buildCandidateItems(sources: CandidateSources): CandidateItem[] {
  const seen = new Set<string>();
  const excluded = sources.exclude === undefined ? [] : typeof sources.exclude === 'string' ? [sources.exclude] : sources.exclude;
  for (const name of excluded) seen.add(modelKey(name));
  const items: CandidateItem[] = [];
  const add = (item: CandidateItem & { action: { kind: 'reference'; reference: string } }): void => {
    const key = modelKey(item.action.reference);
    if (seen.has(key)) return;
    seen.add(key);
    items.push(item);
  };
  if (sources.suggested !== undefined) add({ label: sources.suggested, description: 'best match or declared base', group: 'suggested', action: { kind: 'reference', reference: sources.suggested } });
  for (const reference of sources.references) {
    if (reference.kind === 'dataset') continue;
    const target = referenceTarget(reference);
    if (target === undefined || reference.resolution.kind === 'unavailable' || reference.resolution.kind === 'dynamic') continue;
    add({ label: target, description: reference.resolution.kind === 'hf-cache' ? 'referenced in the workspace · cached' : 'referenced in the workspace', group: 'workspace', action: { kind: 'reference', reference: target } });
  }
  for (const id of sources.cachedModelIds) add({ label: id, description: 'Hugging Face cache', group: 'cache', action: { kind: 'reference', reference: id } });
  items.push({ label: '$(folder) Choose a model folder…', group: 'browse', action: { kind: 'browseFolder' } });
  items.push({ label: '$(file) Choose a weight or fingerprint file…', group: 'browse', action: { kind: 'browseFile' } });
  return items;
}

/** The item for free text (an id like `org/name@rev`, a path, a fingerprint JSON); undefined for blank input. */
export function typedCandidate(value: string): CandidateItem | undefined {
  const text = value.trim();
  if (text === '') return undefined;
  return { label: text, description: 'use this id or path', group: 'typed', action: { kind: 'reference', reference: text } };
}
