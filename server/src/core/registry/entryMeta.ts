// Metadata of a new registry entry, derived from the fingerprint and overridden by what the user
// states (CLI flags, the editor's Add to Registry). Shared by every writer so entries look alike.
import type { Fingerprint } from '../fingerprint/types';
import { hasWeightSignals } from './keys';
import type { RegistryEntryMeta } from './types';

export function entryMetaFor(fp: Fingerprint, overrides: Partial<RegistryEntryMeta>): RegistryEntryMeta {
  const meta: RegistryEntryMeta = {
    id: overrides.id ?? fp.model.repoId ?? fp.model.name,
    declaredParents: [...new Set(fp.declared.claims.map((c) => c.baseModel))].sort(),
    kind: hasWeightSignals(fp) ? 'weights' : 'tokenizer',
  };
  const revision = overrides.revision ?? fp.model.commit;
  const family = fp.architecture?.family && fp.architecture.family !== 'unknown' ? fp.architecture.family : undefined;
  if (revision) meta.revision = revision;
  if (family) meta.family = family;
  if (overrides.licence) meta.licence = overrides.licence;
  meta.source = overrides.source ?? (fp.model.repoId ? `hf:${fp.model.repoId}${fp.model.commit ? `@${fp.model.commit}` : ''}` : `local:${fp.model.name}`);
  if (overrides.tokenizerFamily) meta.tokenizerFamily = overrides.tokenizerFamily;
  return meta;
}
