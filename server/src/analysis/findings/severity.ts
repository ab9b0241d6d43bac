// Severity of each finding: the rule's default, then the workspace policy (`.lineage.yaml`), then the
// user's choice (an explicit personal choice wins over the team default). Pure functions.
import { ALL_DIAGNOSTIC_CODES, DiagnosticCodes, type DiagnosticCode, type SeveritySetting } from '../../protocol';
import type { LineagePolicy } from '../policy';

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
  // Not downloaded is a fact, not a problem: a hint (raised to a warning when the Hub lacks the id).
  LL009: 'hint',
  LL010: 'warning',
  LL011: 'error',
  LL012: 'error',
  LL013: 'warning',
};

/** Code -> severity chosen by the user (`lineage.diagnostics.severity`, `--severity` on the CLI). */
export type SeverityOverrides = Partial<Record<DiagnosticCode, SeveritySetting>>;

const SEVERITY_NAMES: ReadonlySet<string> = new Set(['error', 'warning', 'information', 'hint', 'off']);

export function isSeveritySetting(value: unknown): value is SeveritySetting {
  return typeof value === 'string' && SEVERITY_NAMES.has(value);
}

export function isDiagnosticCode(value: string): value is DiagnosticCode {
  return (ALL_DIAGNOSTIC_CODES as readonly string[]).includes(value);
}

/** Keeps only known codes with known severity names; a typo in settings must not break analysis. */
export function parseSeverityMap(raw: unknown): SeverityOverrides {
  const result: SeverityOverrides = {};
  if (typeof raw !== 'object' || raw === null) return result;
  for (const [key, value] of Object.entries(raw)) {
    const code = key.toUpperCase();
    const severity = typeof value === 'string' ? value.toLowerCase() : value;
    if (isDiagnosticCode(code) && isSeveritySetting(severity)) result[code] = severity;
  }
  return result;
}

export interface SeverityContext {
  /** The reference is pinned to a 40-hex commit (LL004 is an error when it is not). */
  pinned?: boolean;
}

/**
 * Severity of a code: defaults, then the workspace policy, then the user's overrides. LL003 follows
 * the policy's `requirePinnedRevisions`.
 */
export function effectiveSeverity(code: DiagnosticCode, overrides: SeverityOverrides, policy: LineagePolicy | undefined, context: SeverityContext = {}): SeveritySetting {
  let severity = DEFAULT_SEVERITIES[code];
  if (code === DiagnosticCodes.trustRemoteCode && context.pinned === false) severity = 'error';
  if (code === DiagnosticCodes.unpinnedRevision && policy?.requirePinnedRevisions !== undefined) {
    severity = policy.requirePinnedRevisions ? 'error' : 'off';
  }
  // Without an allow-list nothing can be "outside" it; with one, unverified lineage cannot satisfy it.
  if (code === DiagnosticCodes.unverifiedLineage && policy?.allowedBaseFamilies !== undefined) severity = 'warning';
  severity = policy?.severity[code] ?? severity;
  return overrides[code] ?? severity;
}
