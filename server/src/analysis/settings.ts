// The analysis defaults shared by the language server (`lineage.*` settings start here) and the CLI
// (flags and LINEAGE_* variables override them). Pure data.
import { DEFAULT_HUB_ENDPOINT } from '../core/hub/hubEnvironment';
import type { LineageSettings } from '../protocol';

export const DEFAULT_SETTINGS: LineageSettings = {
  diagnostics: { severity: {} },
  localCacheCandidates: true,
  maxLocalCandidates: 32,
  integrityMaxBytes: 2 * 1024 * 1024 * 1024,
  offline: false,
  fingerprint: { maxBytesPerModel: 256 * 1024 * 1024 },
  registry: { path: '', includeShipped: true, url: '' },
  cache: { folder: '' },
  hub: { endpoint: DEFAULT_HUB_ENDPOINT, remoteFingerprint: 'auto', remoteBudgetBytes: 512 * 1024 * 1024 },
};
