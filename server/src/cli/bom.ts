// `lineage bom`: the repository's AI bill of materials as a CycloneDX 1.6 ML-BOM, from the same
// builder the editor's "Export AI Bill of Materials" uses (analysis/bom/cycloneDx.ts).
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { buildCycloneDxBom } from '../analysis/bom/cycloneDx';
import { workspaceWeightHashes } from '../analysis/bom/weightHashes';
import { parseCommandArgs, stringOption } from './args';
import { ExitCode, type ExitCodeValue } from './exitCodes';
import { analyzeWorkspace, TOOL_VERSION, WORKSPACE_OPTIONS, WORKSPACE_OPTIONS_USAGE } from './workspaceOptions';

export const bomUsage = `usage: lineage bom [paths...] [-o FILE]

Writes a CycloneDX 1.6 ML-BOM of every model the repository references: one component per model
and revision, with the architecture from its config, the sha256 of every weight file, verified
ancestors in pedigree.ancestors, and risks (remote code, pickle weights, unpinned) as properties.

  -o, --output FILE   write to FILE (default: stdout)
${WORKSPACE_OPTIONS_USAGE}

exit codes: 0 written, 2 usage, 3 unreadable`;

export async function runBom(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { ...WORKSPACE_OPTIONS, output: { type: 'string', short: 'o' } }, { min: 0, max: 10_000 });
  const check = await analyzeWorkspace(args);
  const references = check.documents.flatMap((d) => d.analysis.references.map((r) => r.status));
  const bom = buildCycloneDxBom(references, { workspaceName: path.basename(check.root), workspaceRoot: check.root, toolVersion: TOOL_VERSION, timestamp: new Date().toISOString(), serialUuid: randomUUID() }, await workspaceWeightHashes(references));
  const text = JSON.stringify(bom, null, 2) + '\n';
  const output = stringOption(args, 'output');
  if (output !== undefined) await writeFile(output, text);
  else process.stdout.write(text);
  process.stderr.write(`${bom.components.length} model component(s) from ${check.referenceCount} reference(s)\n`);
  return ExitCode.ok;
}
