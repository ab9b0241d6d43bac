// Hover on a model reference: verdict, best matches with p-values, declared vs verified lineage,
// the resolved commit, format and files, findings, what the Hub says about a model that is not on
// this machine, and a link that opens Compare. Pure.
import { MarkupKind, type Hover } from 'vscode-languageserver';
import type { AnalyzedReference, DocumentAnalysis } from '../../analysis/documentAnalysis';
import { subjectFacts } from '../../analysis/documentAnalysis';
import { describeHubFiles, describeHubProblem, describeMatch, describeRemoteRead, describeResolution, formatBytes, formatLog10P, shortCommit, STANDING_WORDS, verdictPhrase } from '../../protocol';
import { ClientCommands, type CompareWithArguments, type HubFacts, type ReferenceStatus, type Position, type Range } from '../../protocol';

const MAX_FILES_LISTED = 8;
const MAX_MATCHES_LISTED = 5;

export function containsPosition(range: Range, position: Position): boolean {
  const afterStart = position.line > range.start.line || (position.line === range.start.line && position.character >= range.start.character);
  const beforeEnd = position.line < range.end.line || (position.line === range.end.line && position.character <= range.end.character);
  return afterStart && beforeEnd;
}

export function referenceAt(analysis: DocumentAnalysis, position: Position): AnalyzedReference | undefined {
  return analysis.references.find((r) => containsPosition(r.site.range, position) || (r.site.revision !== undefined && containsPosition(r.site.revision.range, position)));
}

/** The lineage was assessed from a fingerprint read from the Hub (not from a registry record). */
function readFromHub(status: ReferenceStatus): boolean {
  return status.remote !== undefined && status.remote.problem === undefined && status.model !== undefined;
}

function headline(status: ReferenceStatus): string {
  const lineage = status.lineage;
  // An id known only to the registry: what the registry recorded, not a check of bytes on this machine.
  if (status.resolution.kind === 'registry' && !readFromHub(status) && (lineage.status === 'verified' || lineage.status === 'unverified')) {
    const best = lineage.matches[0];
    return best ? `in the registry, which records it as ${describeMatch(best)}` : 'in the registry (a registered fingerprint; no related entry)';
  }
  switch (lineage.status) {
    case 'verified':
      return lineage.matches[0] ? `verified: ${describeMatch(lineage.matches[0])}` : 'verified';
    case 'contradicted':
      return lineage.declared.some((d) => d.status === 'contradicted' && !d.byShape) ? 'declared base contradicted by the weights' : 'declared base contradicted by the model\'s shape';
    case 'unverified':
      return 'unverified: no known fingerprint matches';
    case 'pending':
      return 'fingerprinting…';
    case 'not-applicable':
      return 'not fingerprinted';
  }
}

/**
 * Untrusted text (everything the Hub sends) rendered as the characters it holds: every ASCII
 * punctuation mark is backslash-escaped, so it makes no link, image, emphasis, code span or HTML.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[!-/:-@[-`{-~]/g, '\\$&');
}

/** The Hub's answer in a few lines: commit, files and formats, licence, gating, the card's declared bases. */
export function hubMarkdown(hub: HubFacts): string[] {
  if ('problem' in hub) return [`**Hub:** ${escapeMarkdown(describeHubProblem(hub))}`];
  const details = [describeHubFiles(hub)];
  if (hub.licence !== undefined) details.push(`licence ${hub.licence}`);
  if (hub.gated !== undefined) details.push(`gated (${hub.gated} approval)`);
  const branch = hub.revisionAsked === hub.commit ? '' : ` (the current commit of ${escapeMarkdown(hub.revisionAsked)})`;
  const lines = [`**Hub:** ${escapeMarkdown(hub.repoId)} at \`${hub.commit}\`${branch} · ${escapeMarkdown(details.join(' · '))}`];
  if (hub.weightFiles.length > 0) {
    const more = hub.weightFiles.length > MAX_FILES_LISTED ? ', …' : '';
    lines.push(`**Hub weight files:** ${hub.weightFiles.slice(0, MAX_FILES_LISTED).map(escapeMarkdown).join(', ')}${more}`);
  }
  if (hub.baseModels.length > 0) lines.push(`**Hub card base_model:** ${hub.baseModels.map(escapeMarkdown).join(', ')} (declared by the card, not verified)`);
  return lines;
}

/** A `command:` URI: VS Code passes the JSON array as the command's arguments. */
export function commandLink(command: string, args: unknown[]): string {
  return `command:${command}?${encodeURIComponent(JSON.stringify(args))}`;
}

export function compareArguments(reference: AnalyzedReference): CompareWithArguments {
  const { site, status } = reference;
  const args: CompareWithArguments = { target: status.revision && site.reference?.kind === 'hub' ? `${site.reference.repoId}@${status.revision}` : site.id, uri: status.uri, range: site.range };
  if (status.resolution.path !== undefined) args.resolvedPath = status.resolution.path;
  const other = status.lineage.matches[0]?.repoId ?? status.lineage.declared[0]?.baseModel;
  if (other !== undefined) args.suggestedOther = other;
  return args;
}

export function hoverMarkdown(reference: AnalyzedReference): string {
  const { site, status } = reference;
  const lines: string[] = [];
  const title = site.flags.implicitDefault ? `pipeline("${site.task ?? ''}") default model` : site.id || '(dynamic id)';
  lines.push(`**${title}** · ${site.kind === 'base-model-claim' ? 'declared base' : site.kind} · \`${site.loader}\``, '');
  if (status.standing) lines.push(`**${STANDING_WORDS[status.standing.status].replace(/^./, (c) => c.toUpperCase())}:** ${escapeMarkdown(status.standing.summary)}`, '');
  lines.push(`**Lineage:** ${headline(status)}`, '');

  const matches = status.lineage.matches.slice(0, MAX_MATCHES_LISTED);
  if (matches.length > 0) {
    lines.push('**Best matches**', '');
    for (const m of matches) lines.push(`- \`${m.repoId}\`${m.commit ? ` @ ${shortCommit(m.commit)}` : ''}: ${m.verdict}${formatLog10P(m.log10P) ? `, ${formatLog10P(m.log10P)}` : ''} (${m.source})`);
    lines.push('');
  }
  if (status.lineage.tokenizerFamily !== undefined) lines.push(`**Tokenizer family:** ${status.lineage.tokenizerFamily} (vocabulary match: a family hint, not weight lineage)`, '');
  const facts = subjectFacts(status);
  const declared = status.lineage.declared;
  if (declared.length > 0 || (facts?.declaredBases.length ?? 0) > 0) {
    lines.push('**Declared vs verified**', '');
    for (const d of declared) {
      const p = formatLog10P(d.log10P);
      lines.push(`- declares \`${d.baseModel}\` (${d.source}): **${d.status}**${d.verdict ? ` (${verdictPhrase(d.verdict)} it${p ? `, ${p}` : ''})` : ''}: ${d.detail}`);
    }
    lines.push('');
  } else if (facts) {
    lines.push('**Declared vs verified:** declares no base model', '');
  }

  const resolution = status.resolution;
  lines.push(`**Resolved:** ${describeResolution(status)}${resolution.commit ? ` (\`${resolution.commit}\`${resolution.resolvedBy === 'ref' && !status.revision ? ', from refs/main' : ''})` : ''}`);
  if (status.revision !== undefined) lines.push(`**Revision:** \`${status.revision}\`${status.pinned ? ' (pinned)' : ' (can move)'}`);
  lines.push('');
  if (status.hub) lines.push(...hubMarkdown(status.hub), '');
  // The problem text may quote the Hub's answers: escaped like them.
  if (status.remote) lines.push(`**Remote fingerprint:** ${escapeMarkdown(describeRemoteRead(status.remote))}`, '');
  // Where the server looked (cache folders, the Hub's error): details, kept out of the diagnostics.
  if (resolution.detail !== undefined && resolution.kind !== 'hf-cache') lines.push(`**Details:** ${escapeMarkdown(resolution.detail)}`, '');

  const model = status.model;
  if (model) {
    const architecture = model.architecture ? ` · ${model.architecture.family}${model.architecture.hiddenSize ? ` ${model.architecture.hiddenSize}d` : ''}${model.architecture.layers ? ` × ${model.architecture.layers} layers` : ''}` : '';
    const parameters = model.parameterCount ? ` · ${model.parameterCount.toLocaleString('en-US')} parameters` : '';
    lines.push(`**Format:** ${model.format}${parameters}${architecture}`);
    const files = model.files.slice(0, MAX_FILES_LISTED).map((f) => `\`${f.relativePath}\` (${formatBytes(f.sizeBytes)})`);
    const more = model.files.length > MAX_FILES_LISTED ? `, and ${model.files.length - MAX_FILES_LISTED} more` : '';
    lines.push(`**Files:** ${files.join(', ')}${more}`, '');
    const mismatches = model.integrity.filter((e) => e.status === 'mismatch');
    if (model.integrity.length > 0) lines.push(`**Cache integrity:** ${mismatches.length === 0 ? `${model.integrity.filter((e) => e.status === 'ok').length} blob(s) match their sha256` : `${mismatches.map((e) => `\`${e.relativePath}\``).join(', ')} altered after download`}`, '');
    if (model.findings.length > 0) {
      lines.push('**Findings**', '');
      for (const f of model.findings) lines.push(`- ${f.severity}: \`${f.file}\`: ${f.message}`);
      lines.push('');
    }
  }
  if (resolution.path !== undefined || site.reference?.kind === 'hub') {
    lines.push(`[Compare with…](${commandLink(ClientCommands.compareWith, [compareArguments(reference)])})`);
  }
  return lines.join('\n').replace(/\n{3,}/g, '\n\n').trim();
}

export function computeHover(analysis: DocumentAnalysis, position: Position): Hover | null {
  const reference = referenceAt(analysis, position);
  if (!reference) return null;
  return { contents: { kind: MarkupKind.Markdown, value: hoverMarkdown(reference) }, range: reference.site.range };
}
