// Metadata of a new registry entry, derived from the fingerprint and overridden by what the user
// states (CLI flags, the editor's Add to Registry). Shared by every writer so entries look alike.
import type { Fingerprint } from '../fingerprint/types';
import { hasWeightSignals } from './keys';
import type { EntryProvenance, RegistryEntryMeta } from './types';

/** The tool named in provenance; kept equal to package.json's version (test/core/registry/provenance.test.ts). */
export const TOOL_VERSION = 'lineage-lens@0.1.0';

/** Where a fingerprint came from: its repository and commit when known, and the sha256 of each weight file (the Hub's LFS oids). */
export function provenanceFor(fp: Fingerprint, contributor?: string): EntryProvenance {
  const provenance: EntryProvenance = { tool: TOOL_VERSION, extractorVersion: fp.extractorVersion };
  if (fp.model.repoId) provenance.repo = fp.model.repoId;
  if (fp.model.commit) provenance.commit = fp.model.commit;
  const hashed = fp.files.filter((f) => f.role === 'weights' && f.sha256);
  if (hashed.length) provenance.lfsSha256 = Object.fromEntries(hashed.map((f) => [f.relativePath, f.sha256!]));
  if (contributor) provenance.contributor = contributor;
  return provenance;
}

export function entryMetaFor(fp: Fingerprint, overrides: Partial<RegistryEntryMeta> & { contributor?: string }): RegistryEntryMeta {
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
  meta.provenance = overrides.provenance ?? provenanceFor(fp, overrides.contributor);
  return meta;
}
