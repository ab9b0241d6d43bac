// Effective configuration of the server: `lineage.*` settings from the client merged with the
// workspace's `.lineage.yaml` policy into one severity per diagnostic code. Pure functions.
import { ALL_DIAGNOSTIC_CODES, DiagnosticCodes, type DiagnosticCode, type LineageSettings, type SeveritySetting } from '../protocol';
import type { LineagePolicy } from '../analysis/policy';

export const DEFAULT_SEVERITIES: Readonly<Record<DiagnosticCode, SeveritySetting>> = {
  LL001: 'information',
  LL002: 'warning',
  LL003: 'warning',
  // Raised to error by effectiveSeverity when the reference is not pinned.
  LL004: 'warning',
  LL005: 'warning',
  LL006: 'error',
  LL007: 'warning',
  LL008: 'warning',
  LL009: 'information',
};

export const DEFAULT_SETTINGS: LineageSettings = {
  diagnostics: { severity: {} },
  localCacheCandidates: true,
  maxLocalCandidates: 32,
  integrityMaxBytes: 2 * 1024 * 1024 * 1024,
  offline: false,
  fingerprint: { maxBytesPerModel: 256 * 1024 * 1024 },
  registry: { path: '', includeShipped: true },
  cache: { folder: '' },
  hub: { endpoint: 'https://huggingface.co' },
};

const SEVERITY_NAMES: ReadonlySet<string> = new Set(['error', 'warning', 'information', 'hint', 'off']);

export function isSeveritySetting(value: unknown): value is SeveritySetting {
  return typeof value === 'string' && SEVERITY_NAMES.has(value);
}

export function isDiagnosticCode(value: string): value is DiagnosticCode {
  return (ALL_DIAGNOSTIC_CODES as readonly string[]).includes(value);
}

/** Keeps only known codes with known severity names; a typo in settings must not break analysis. */
export function parseSeverityMap(raw: unknown): Partial<Record<DiagnosticCode, SeveritySetting>> {
  const result: Partial<Record<DiagnosticCode, SeveritySetting>> = {};
  if (typeof raw !== 'object' || raw === null) return result;
  for (const [key, value] of Object.entries(raw)) {
    const code = key.toUpperCase();
    const severity = typeof value === 'string' ? value.toLowerCase() : value;
    if (isDiagnosticCode(code) && isSeveritySetting(severity)) result[code] = severity;
  }
  return result;
}

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
    },
    cache: { folder: text(group('cache')['folder'], DEFAULT_SETTINGS.cache.folder) },
    hub: { endpoint: text(group('hub')['endpoint'], '') || DEFAULT_SETTINGS.hub.endpoint },
  };
}

export interface SeverityContext {
  /** The reference is pinned to a 40-hex commit (LL004 is an error when it is not). */
  pinned?: boolean;
}

/**
 * Severity of a code: defaults, then the workspace policy, then the user's settings (an explicit
 * personal choice wins over the team default). LL003 follows the policy's `requirePinnedRevisions`.
 */
export function effectiveSeverity(code: DiagnosticCode, settings: LineageSettings, policy: LineagePolicy | undefined, context: SeverityContext = {}): SeveritySetting {
  let severity = DEFAULT_SEVERITIES[code];
  if (code === DiagnosticCodes.trustRemoteCode && context.pinned === false) severity = 'error';
  if (code === DiagnosticCodes.unpinnedRevision && policy?.requirePinnedRevisions !== undefined) {
    severity = policy.requirePinnedRevisions ? 'error' : 'off';
  }
  // Without an allow-list nothing can be "outside" it; with one, unverified lineage cannot satisfy it.
  if (code === DiagnosticCodes.unverifiedLineage && policy?.allowedBaseFamilies !== undefined) severity = 'warning';
  severity = policy?.severity[code] ?? severity;
  return settings.diagnostics.severity[code] ?? severity;
}
