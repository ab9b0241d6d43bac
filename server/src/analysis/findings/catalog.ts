// One line of title and help per rule, for reports outside the editor (SARIF rules, JUnit, `--help`);
// README.md "Diagnostics" holds the long form, one anchor per code (`#ll003`).
import { DiagnosticCodes, type DiagnosticCode } from '../../protocol';

export interface RuleDescription {
  /** PascalCase, as SARIF `rule.name` wants it. */
  name: string;
  title: string;
  help: string;
}

export const RULE_CATALOG: Readonly<Record<DiagnosticCode, RuleDescription>> = {
  [DiagnosticCodes.unverifiedLineage]: { name: 'UnverifiedLineage', title: 'unverified lineage', help: 'The model was fingerprinted but no known model matches. Download its claimed base, add a trusted base to your registry, or treat the model as of unknown origin.' },
  [DiagnosticCodes.declaredBaseContradicted]: { name: 'DeclaredBaseContradicted', title: 'declared base contradicted', help: 'The declared base_model is refuted by the weights, or the verified base is outside allowed_base_families. Correct the card or stop trusting the provenance.' },
  [DiagnosticCodes.unpinnedRevision]: { name: 'UnpinnedRevision', title: 'revision not pinned', help: 'A Hub reference without a 40-hex commit loads whatever its branch points to at download time. Pin revision="<commit>".' },
  [DiagnosticCodes.trustRemoteCode]: { name: 'TrustRemoteCode', title: 'trust_remote_code enabled', help: 'trust_remote_code runs the repository\'s Python on load. Review the code and pin the revision, or use a natively supported model.' },
  [DiagnosticCodes.pickleWeights]: { name: 'PickleWeights', title: 'pickle weights', help: 'Pickle weights can run code when loaded. Prefer safetensors (use_safetensors=True); never load a pickle with dangerous globals.' },
  [DiagnosticCodes.cacheIntegrity]: { name: 'CacheIntegrity', title: 'cache integrity', help: 'A Hugging Face cache blob no longer hashes to its name: it was altered after download. Delete it and download again.' },
  [DiagnosticCodes.implicitDefaultModel]: { name: 'ImplicitDefaultModel', title: 'implicit default model', help: 'pipeline("task") without a model loads a default the library picks. Name the model and pin its revision.' },
  [DiagnosticCodes.lookAlikeId]: { name: 'LookAlikeId', title: 'look-alike id', help: 'The id is one or two edits from a well-known id, a typical typosquat. Make sure it is the repository you mean.' },
  [DiagnosticCodes.notAvailableLocally]: { name: 'NotAvailableLocally', title: 'not downloaded', help: 'The model is on no disk of this machine, so the bytes a run would download are not checked. Download it to verify its lineage.' },
  [DiagnosticCodes.reUpload]: { name: 'ReUpload', title: 're-upload', help: 'The weights are those of a known model published under another name: a renamed re-upload (or its original). Use the original repository, or record why this copy is trusted.' },
  [DiagnosticCodes.lockDrift]: { name: 'LockDrift', title: 'lock drift', help: 'The reference differs from lineage.lock.json: it is not in the lock, its commit moved, or a weight file changed. Review the change, then run "lineage lock".' },
  [DiagnosticCodes.policyViolation]: { name: 'PolicyViolation', title: 'policy violation', help: 'The reference breaks .lineage.yaml: a blocked or not allowed organisation, or a declared base below the required verdict.' },
  [DiagnosticCodes.invalidIgnore]: { name: 'InvalidIgnore', title: 'expired or invalid ignore', help: 'An ignore in .lineage.yaml expired or lacks a code, reason or expiry date; it no longer suppresses anything. Review, renew or remove it.' },
};

/** Where each code is documented; set LINEAGE_DOCS_URL to point SARIF links at a fork or mirror. */
export const DOCUMENTATION_URL = 'https://github.com/lineage-lens/lineage-lens/blob/main/README.md';

export function ruleHelpUri(code: DiagnosticCode, base: string = DOCUMENTATION_URL): string {
  return `${base}#${code.toLowerCase()}`;
}
