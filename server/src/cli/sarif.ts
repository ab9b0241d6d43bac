// `lineage check --format sarif`: SARIF 2.1.0 for code-scanning dashboards. One rule per LL code with
// help and a link to its documentation, relative URIs under SRCROOT, fingerprints that survive edits.
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { RULE_CATALOG, ruleHelpUri } from '../analysis/findings/catalog';
import { DEFAULT_SEVERITIES } from '../analysis/findings/severity';
import type { WorkspaceCheck } from '../analysis/workspaceCheck';
import { ALL_DIAGNOSTIC_CODES, type DiagnosticCode } from '../protocol';
import { levelOf } from './checkReport';

const SARIF_SCHEMA = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';
const FINGERPRINT_NAME = 'lineageFindingHash/v1';

export interface SarifOptions {
  toolVersion: string;
  documentationUrl?: string;
}

function defaultLevel(code: DiagnosticCode): 'error' | 'warning' | 'note' | 'none' {
  const severity = DEFAULT_SEVERITIES[code];
  return severity === 'off' ? 'none' : levelOf(severity);
}

/**
 * A finding's identity across runs: its code, file and the reference it is about (not its line, which
 * moves with edits above it, nor its message, which names commits), numbered among equal ones.
 */
function fingerprintOf(code: string, relativePath: string, subject: string, occurrence: number): string {
  return createHash('sha256').update(`${code}\0${relativePath}\0${subject}\0${occurrence}`).digest('hex');
}

export function buildSarif(check: WorkspaceCheck, options: SarifOptions): unknown {
  const rules = ALL_DIAGNOSTIC_CODES.map((code) => {
    const rule = RULE_CATALOG[code];
    const helpUri = ruleHelpUri(code, options.documentationUrl);
    return {
      id: code,
      name: rule.name,
      shortDescription: { text: rule.title },
      fullDescription: { text: rule.help },
      help: { text: `${rule.help} See ${helpUri}`, markdown: `${rule.help}\n\n[Documentation](${helpUri})` },
      helpUri,
      defaultConfiguration: { level: defaultLevel(code) },
      properties: { tags: ['supply-chain', 'ai-model'] },
    };
  });
  const ruleIndex = new Map(ALL_DIAGNOSTIC_CODES.map((code, i) => [code, i]));
  const results = check.documents.flatMap((document) => {
    const seen = new Map<string, number>();
    return document.findings.map((finding) => {
      const reference = finding.data.referenceIndex >= 0 ? document.analysis.references[finding.data.referenceIndex] : undefined;
      const subject = reference ? `${reference.site.kind}:${reference.site.id.toLowerCase()}` : `document:${finding.message.split(':')[0]}`;
      const key = `${finding.code}\0${subject}`;
      const occurrence = seen.get(key) ?? 0;
      seen.set(key, occurrence + 1);
      return {
        ruleId: finding.code,
        ruleIndex: ruleIndex.get(finding.code)!,
        level: levelOf(finding.severity),
        message: { text: finding.message },
        locations: [{
          physicalLocation: {
            artifactLocation: { uri: encodeURI(document.relativePath), uriBaseId: 'SRCROOT' },
            region: {
              startLine: finding.range.start.line + 1,
              startColumn: finding.range.start.character + 1,
              endLine: finding.range.end.line + 1,
              endColumn: finding.range.end.character + 1,
            },
          },
        }],
        partialFingerprints: { [FINGERPRINT_NAME]: fingerprintOf(finding.code, document.relativePath, subject, occurrence) },
      };
    });
  });
  const rootUri = pathToFileURL(check.root).toString();
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [{
      tool: { driver: { name: 'Lineage Lens', semanticVersion: options.toolVersion, informationUri: options.documentationUrl ?? ruleHelpUri('LL001').replace(/#.*$/, ''), rules } },
      originalUriBaseIds: { SRCROOT: { uri: rootUri.endsWith('/') ? rootUri : `${rootUri}/` } },
      columnKind: 'utf16CodeUnits',
      results,
    }],
  };
}
