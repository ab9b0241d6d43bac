// `lineage scan <model>`: which known models (in a reference registry) is this model related to?
// Exit codes let CI gate on it: 0 a related known model found, 1 none, 3 unreadable, 2 usage.
import { closeSide, loadSide } from '../core/compare/compareModels';
import { openAnyRegistry, RegistryError, resolveRegistryPath, scanRegistryAsync, type ScanMatch, type ScanResult } from '../core/registry';
import { flag, integerOption, parseCommandArgs, stringOption } from './args';
import { withRegistryErrors } from './db';
import { ExitCode, UsageError, type ExitCodeValue } from './exitCodes';
import { extractionProgress } from './progress';
import { cliModelOpener, REMOTE_OPTIONS, remoteUsage, reportRemoteCost } from './remote';
import { formatCount, renderTable } from './terminal';
import { formatLog10P } from '../protocol';
import { exitCodeWithDanger, FAIL_ON_DANGER_OPTION, failOnDangerUsage, warnDangerousFindings } from './security';

export const scanUsage = `usage: lineage scan <model> [--top-k N] [--db FILE] [--json] [--threshold P] [--fail-on-danger]

Searches a reference registry for models the given one is related to: candidates are
retrieved by blocking keys and LSH over sketches, the shortlist is compared exactly, and the
p-values are Holm-corrected for the number of candidates. The model is a folder, a weight
file, a repo id in the local Hugging Face cache, or a fingerprint JSON file.

  --top-k N       matches to show (default 5)
  --db FILE|URL   registry file or postgres:// URL (default: $LINEAGE_DB_URL, else $LINEAGE_DB,
                  else the embedded data/reference.sqlite)
  --json          print the scan result as one JSON document
  --threshold P   corrected p-value below which lineage is declared (default 1e-12)
${failOnDangerUsage}

Dangerous findings of the model go to stderr, and under "securityFindings" in --json.

A tokenizer match names a tokenizer family ("Llama 3"), never weight lineage.

${remoteUsage}

exit codes: 0 a related known model found, 1 none found, 3 unreadable model or registry, 2 usage,
            4 dangerous findings under --fail-on-danger`;

export async function runScan(argv: string[]): Promise<ExitCodeValue> {
  return withRegistryErrors('scan', () => scan(argv));
}

async function scan(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { 'top-k': { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' }, threshold: { type: 'string' }, ...FAIL_ON_DANGER_OPTION, ...REMOTE_OPTIONS }, { min: 1, max: 1 });
  const topK = integerOption(args, 'top-k', 5, 1);
  const thresholdText = stringOption(args, 'threshold');
  const threshold = thresholdText === undefined ? undefined : Number(thresholdText);
  if (threshold !== undefined && !(threshold > 0 && threshold < 1)) throw new UsageError(`--threshold expects a p-value between 0 and 1, got "${thresholdText}"`);
  const choice = resolveRegistryPath(stringOption(args, 'db'), false);
  if (!choice) throw new RegistryError('data/reference.sqlite', 'the embedded reference database is missing: pass --db FILE or set LINEAGE_DB');
  const registry = await openAnyRegistry(choice.path);
  try {
    const progress = extractionProgress(`reading ${args.positionals[0]!}`);
    const side = await loadSide(args.positionals[0]!, progress.options, cliModelOpener(args)).finally(() => progress.done());
    reportRemoteCost(side.model);
    await closeSide(side);
    const securityFindings = side.model?.findings ?? [];
    warnDangerousFindings(args.positionals[0]!, securityFindings);
    const result = await scanRegistryAsync(registry, side.fingerprint, { topK, thresholdLog10P: threshold === undefined ? undefined : Math.log10(threshold) });
    process.stdout.write(flag(args, 'json') ? JSON.stringify({ ...result, securityFindings }, null, 2) + '\n' : renderScan(result));
    return exitCodeWithDanger(args, result.related ? ExitCode.ok : ExitCode.notRelated, securityFindings);
  } finally {
    await registry.close();
  }
}

function describeMatch(m: ScanMatch): string {
  const direction = m.direction ? `; ${m.direction.parent === 'known' ? 'the known model is the parent' : 'the scanned model is the parent'} (${m.direction.reason})` : '';
  return `${m.reason}${direction}`;
}

export function renderScan(r: ScanResult): string {
  const out: string[] = [];
  const q = r.query;
  const shape = [q.format, q.architecture, q.hiddenSize ? `hidden ${q.hiddenSize}` : undefined, q.tokenizerSize ? `${formatCount(q.tokenizerSize)}-token vocabulary` : undefined].filter(Boolean).join(', ');
  out.push(`scanned: ${q.name} [${shape}]`);
  out.push(`registry: ${r.registry.location} (${formatCount(r.registry.entries)} entries; ${r.candidatesRetrieved} candidate(s) retrieved, ${r.candidatesCompared} compared; ${r.correction})`);
  const family = r.tokenizer.matches[0];
  if (family) {
    const label = family.family ? `tokenizer family: ${family.family}` : 'tokenizer: matches a known unlabelled vocabulary';
    const how = family.relation === 'identical' ? 'identical vocabulary' : family.relation === 'extends-known' ? `extends the known ${formatCount(family.knownSize)}-token vocabulary` : family.relation === 'subset-of-known' ? `part of the known ${formatCount(family.knownSize)}-token vocabulary` : `overlapping vocabulary (Jaccard ~${family.jaccard.toFixed(2)})`;
    out.push(`${label} (${how}; known as ${family.entryIds.slice(0, 3).join(', ')}) - a tokenizer family, not weight lineage`);
  } else out.push('tokenizer family: none known');
  out.push('');
  if (r.matches.length) {
    out.push(renderTable([['#', 'known model', 'verdict', 'p (corrected)', 'reason'], ...r.matches.map((m, i) => [String(i + 1), m.id, m.verdict, pText(m.adjustedLog10P), describeMatch(m)])]));
    out.push('');
  }
  const best = r.matches[0];
  out.push(r.related && best ? `result: related to ${best.id} (${best.verdict})` : 'result: no related known model');
  for (const note of r.notes) out.push(`  note: ${note}`);
  return out.join('\n') + '\n';
}

/** The shared wording of p-values (protocol/wording.ts), '-' when no test ran. */
function pText(log10P: number | undefined): string {
  return formatLog10P(log10P) ?? '-';
}
