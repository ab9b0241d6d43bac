// `lineage compare <A> <B>`: the verdict on how two models are related, with its reason and evidence.
// Exit codes let CI gate on it: 0 related, 1 not related, 3 inconclusive or unreadable.
import { closeSide, compareSides, loadSide, type ModelSide } from '../core/compare/compareModels';
import { DEFAULT_THRESHOLD_LOG10P } from '../core/compare/compare';
import { RELATED_VERDICTS, type Comparison } from '../core/compare/types';
import { flag, parseCommandArgs, stringOption } from './args';
import { ExitCode, UsageError, type ExitCodeValue } from './exitCodes';
import { extractionProgress } from './progress';
import { exitCodeWithDanger, FAIL_ON_DANGER_OPTION, failOnDangerUsage, warnDangerousFindings } from './security';
import { cliModelOpener, REMOTE_OPTIONS, remoteUsage, reportRemoteCost } from './remote';
import { formatBytes, formatCount, renderTable } from './terminal';
import { formatLog10P } from '../protocol';

export const compareUsage = `usage: lineage compare <A> <B> [--json] [--explain] [--threshold P] [--base MODEL] [--fail-on-danger]

Decides whether B shares ancestry with A: identical, same-weights, quantized, derived,
merge, same-family, unrelated or inconclusive, with a p-value under the null hypothesis
"B was initialized independently of A". Each side is a model folder, a weight file, a
repo id in the local Hugging Face cache, or a fingerprint JSON file.

  --json          print the full comparison as one JSON document
  --explain       add per-layer evidence and notes
  --threshold P   p-value below which lineage is declared (default 1e-12)
  --base MODEL    when one side is a LoRA adapter folder: the base it was trained on, so the
                  other side is tested as "base + this adapter"
${failOnDangerUsage}

Dangerous findings of either model go to stderr, and under "securityFindings" in --json.

exit codes: 0 related (identical, same-weights, quantized, derived, merge),
            1 not related (same-family, unrelated), 3 inconclusive or unreadable, 2 usage,
            4 dangerous findings under --fail-on-danger

${remoteUsage}`;

export async function runCompare(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { json: { type: 'boolean' }, explain: { type: 'boolean' }, threshold: { type: 'string' }, base: { type: 'string' }, ...FAIL_ON_DANGER_OPTION, ...REMOTE_OPTIONS }, { min: 2, max: 2 });
  const thresholdLog10P = parseThreshold(stringOption(args, 'threshold'));
  const sides: ModelSide[] = [];
  try {
    const baseTarget = stringOption(args, 'base');
    for (const target of baseTarget === undefined ? args.positionals : [...args.positionals, baseTarget]) {
      const progress = extractionProgress(`reading ${target}`);
      try {
        const side = await loadSide(target, progress.options, cliModelOpener(args));
        sides.push(side);
        progress.done();
        reportRemoteCost(side.model);
      } finally {
        progress.done();
      }
    }
    for (const side of sides) warnDangerousFindings(side.target, side.model?.findings ?? []);
    const comparison = await compareSides(sides[0]!, sides[1]!, { thresholdLog10P, adapterBase: sides[2]?.fingerprint });
    const securityFindings = { A: sides[0]!.model?.findings ?? [], B: sides[1]!.model?.findings ?? [] };
    process.stdout.write(flag(args, 'json') ? JSON.stringify({ ...comparison, securityFindings }, null, 2) + '\n' : renderComparison(comparison, flag(args, 'explain')));
    return exitCodeWithDanger(args, exitCodeFor(comparison), [...securityFindings.A, ...securityFindings.B]);
  } finally {
    for (const s of sides) await closeSide(s);
  }
}

export function exitCodeFor(c: Comparison): ExitCodeValue {
  if (RELATED_VERDICTS.has(c.verdict)) return ExitCode.ok;
  if (c.verdict === 'inconclusive') return ExitCode.unreadable;
  return ExitCode.notRelated;
}

function parseThreshold(text: string | undefined): number {
  if (text === undefined) return DEFAULT_THRESHOLD_LOG10P;
  const p = Number(text);
  if (!(p > 0 && p < 1)) throw new UsageError(`--threshold expects a p-value between 0 and 1, got "${text}"`);
  return Math.log10(p);
}

export function renderComparison(c: Comparison, explain: boolean): string {
  const out: string[] = [];
  const dir = c.direction ? ` (${c.direction.parent === 'a' ? 'A -> B' : 'B -> A'}: ${c.direction.reason})` : '';
  out.push(`verdict: ${c.verdict}${dir}`, `  ${c.reason}`, '');
  const side = (label: string, s: Comparison['a']) =>
    `  ${label}: ${s.name}  [${s.format}, ${formatCount(s.parameterCount)} parameters${s.architecture ? `, ${s.architecture}` : ''}${s.hiddenSize ? `, hidden ${s.hiddenSize}` : ''}${s.layers ? `, ${s.layers} layers` : ''}, read ${formatBytes(s.bytesRead)}]`;
  out.push(side('A', c.a), side('B', c.b));
  out.push(`  declared: ${c.declared.status} - ${c.declared.detail}`);
  if (c.lineageLog10P !== undefined) out.push(`  lineage p-value: ${pText(c.lineageLog10P, c.lineageFloorLog10P)} (threshold 1e${c.thresholdLog10P}${c.lineageFloorLog10P !== undefined ? `; floor of the tests that ran: ${pText(c.lineageFloorLog10P)}` : ''})`);
  if (c.alignment) out.push(`  alignment: ${c.alignment.kind}: ${c.alignment.detail}`);
  out.push('', 'evidence:');
  out.push(renderTable([['signal', 'result', 'p', 'statistic', 'test / detail'], ...c.evidence.map((e) => [e.signal, e.outcome, pText(e.log10P, e.floorLog10P), e.statistic ?? '-', `${e.test}${e.detail && e.log10P === undefined ? ` - ${e.detail}` : ''}`])]));
  if (explain) {
    if (c.layers.length) {
      out.push('', 'per-layer evidence (residual-axis test on each layer\'s rows):');
      out.push(renderTable([['layer A', 'layer B', '-log10 p', 'z', 'rows'], ...c.layers.map((l) => [String(l.layerA), String(l.layerB), (-l.log10P).toFixed(1), l.z.toFixed(1), String(l.rows)])]));
    }
    if (c.notes.length) out.push('', 'notes:', ...c.notes.map((n) => `  - ${n}`));
  }
  return out.join('\n') + '\n';
}

/** The shared wording of p-values (protocol/wording.ts), '-' when no test ran. */
function pText(log10P: number | undefined, floorLog10P?: number): string {
  return formatLog10P(log10P, floorLog10P) ?? '-';
}
