// `lineage fingerprint <model> [-o file.json]`: the deterministic fingerprint of a model as JSON.
import { writeFile } from 'node:fs/promises';
import { serializeFingerprint } from '../core/fingerprint/encoding';
import { extractFingerprint } from '../core/fingerprint/extract';
import { parseCommandArgs, stringOption } from './args';
import { exitCodeWithDanger, FAIL_ON_DANGER_OPTION, failOnDangerUsage, warnDangerousFindings } from './security';
import { ExitCode, type ExitCodeValue } from './exitCodes';
import { extractionProgress } from './progress';
import { cliModelOpener, REMOTE_OPTIONS, remoteUsage, reportRemoteCost } from './remote';
import { formatBytes } from './terminal';

export const fingerprintUsage = `usage: lineage fingerprint <path | repo-id[@revision]> [-o file.json] [--fail-on-danger]

Reads a few MB of a model (headers, norm vectors, anchor-token rows, sampled matrix rows)
and writes its deterministic fingerprint as JSON: to the file given with -o, else to stdout.
The same bytes always give the same JSON; compare and scan accept it in place of the model.

  -o, --output FILE   write the fingerprint to FILE (a one-line summary goes to stderr)
${failOnDangerUsage}

Dangerous findings (see lineage inspect) are always printed to stderr.

${remoteUsage}`;

export async function runFingerprint(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { output: { type: 'string', short: 'o' }, ...FAIL_ON_DANGER_OPTION, ...REMOTE_OPTIONS }, { min: 1, max: 1 });
  const target = args.positionals[0]!;
  const model = await cliModelOpener(args)(target);
  warnDangerousFindings(target, model.findings);
  const progress = extractionProgress('fingerprinting');
  try {
    const fp = await extractFingerprint(model, progress.options);
    progress.done();
    reportRemoteCost(model);
    const output = stringOption(args, 'output');
    const json = serializeFingerprint(fp);
    if (output) {
      await writeFile(output, json + '\n');
      process.stderr.write(
        `${target}: ${fp.tensors.length} tensors, ${fp.matrices.length} sampled matrices, ${fp.tokenRows.reduce((n, t) => n + t.tokens.length, 0)} anchor rows; read ${formatBytes(fp.bytesRead)} of weights -> ${output}\n`,
      );
    } else process.stdout.write(json + '\n');
  } finally {
    progress.done();
    await model.close();
  }
  return exitCodeWithDanger(args, ExitCode.ok, model.findings);
}
