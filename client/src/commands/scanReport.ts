// A lineage/scan result as plain text for the output channel and a one-line summary for the
// notification. Pure.
import { formatLog10P } from '../../../server/src/protocol';
import type { ScanResult } from '../../../server/src/protocol';

export function scanSummary(result: ScanResult): string {
  const best = result.lineage.matches[0];
  if (result.lineage.status === 'verified' && best) return `${result.target}: ${best.verdict} ${best.repoId}${formatLog10P(best.log10P) ? ` (${formatLog10P(best.log10P)})` : ''}`;
  if (result.lineage.status === 'contradicted') return `${result.target}: declared base contradicted by the weights`;
  return `${result.target}: ${result.lineage.status}, ${result.lineage.candidatesCompared} known model(s) compared`;
}

export function formatScanReport(result: ScanResult): string {
  const lines = [`Scan of ${result.target}`, `  lineage: ${result.lineage.status} (${result.lineage.candidatesCompared} known model(s) compared)`];
  const model = result.model;
  if (model) {
    lines.push(`  format: ${model.format}${model.parameterCount ? `, ${model.parameterCount.toLocaleString('en-US')} parameters` : ''}${model.architecture ? `, ${model.architecture.family}` : ''}`);
    if (model.fingerprintError) lines.push(`  not fingerprinted: ${model.fingerprintError}`);
  }
  if (result.lineage.tokenizerFamily) lines.push(`  tokenizer family: ${result.lineage.tokenizerFamily} (vocabulary match, not weight lineage)`);
  for (const match of result.lineage.matches) lines.push(`  match: ${match.verdict} ${match.repoId}${match.commit ? `@${match.commit.slice(0, 12)}` : ''}${formatLog10P(match.log10P) ? ` (${formatLog10P(match.log10P)})` : ''} [${match.source}]: ${match.reason}`);
  for (const declared of result.lineage.declared) lines.push(`  declared ${declared.baseModel} (${declared.source}): ${declared.status}: ${declared.detail}`);
  for (const finding of model?.findings ?? []) lines.push(`  finding ${finding.severity} ${finding.code} ${finding.file}: ${finding.message}`);
  return lines.join('\n');
}
