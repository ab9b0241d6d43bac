// The server's configuration: `lineage.*` settings from the client, read defensively (severities are
// settled with the workspace policy in analysis/findings/severity.ts). Pure functions.
import { parseSeverityMap } from '../analysis/findings/severity';
import { DEFAULT_SETTINGS } from '../analysis/settings';
import type { LineageSettings } from '../protocol';

// The defaults live in analysis/ so that the CLI starts from the same ones.
export { DEFAULT_SETTINGS };

/** Reads the `lineage` settings section (or initializationOptions) defensively: unknown shapes fall back to defaults. */
export function parseSettings(raw: unknown): LineageSettings {
  const section = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const diagnostics = typeof section['diagnostics'] === 'object' && section['diagnostics'] !== null ? (section['diagnostics'] as Record<string, unknown>) : {};
  const positive = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback);
  const group = (name: string): Record<string, unknown> => (typeof section[name] === 'object' && section[name] !== null ? (section[name] as Record<string, unknown>) : {});
  const text = (value: unknown, fallback: string): string => (typeof value === 'string' ? value.trim() : fallback);
  return {
    diagnostics: { severity: parseSeverityMap(diagnostics['severity']) },
    localCacheCandidates: typeof section['localCacheCandidates'] === 'boolean' ? section['localCacheCandidates'] : DEFAULT_SETTINGS.localCacheCandidates,
    maxLocalCandidates: Math.floor(positive(section['maxLocalCandidates'], DEFAULT_SETTINGS.maxLocalCandidates)),
    integrityMaxBytes: positive(section['integrityMaxBytes'], DEFAULT_SETTINGS.integrityMaxBytes),
    offline: typeof section['offline'] === 'boolean' ? section['offline'] : DEFAULT_SETTINGS.offline,
    fingerprint: { maxBytesPerModel: positive(group('fingerprint')['maxBytesPerModel'], DEFAULT_SETTINGS.fingerprint.maxBytesPerModel) },
    registry: {
      path: text(group('registry')['path'], DEFAULT_SETTINGS.registry.path),
      includeShipped: typeof group('registry')['includeShipped'] === 'boolean' ? (group('registry')['includeShipped'] as boolean) : DEFAULT_SETTINGS.registry.includeShipped,
      // Kept as written; registrySources() strips a password and the server warns about it.
      url: text(group('registry')['url'], DEFAULT_SETTINGS.registry.url),
    },
    cache: { folder: text(group('cache')['folder'], DEFAULT_SETTINGS.cache.folder) },
    hub: {
      endpoint: text(group('hub')['endpoint'], '') || DEFAULT_SETTINGS.hub.endpoint,
      remoteFingerprint: group('hub')['remoteFingerprint'] === 'off' ? 'off' : 'auto',
      remoteBudgetBytes: positive(group('hub')['remoteBudgetBytes'], DEFAULT_SETTINGS.hub.remoteBudgetBytes),
    },
  };
}
