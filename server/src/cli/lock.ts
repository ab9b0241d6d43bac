// `lineage lock`: writes lineage.lock.json, per referenced model the commit, every weight file's
// sha256, the fingerprint digest and the declared-base verdicts; `lineage check --locked` compares.
import { writeFileAtomically } from '../core/io/atomicFile';
import * as path from 'node:path';
import { buildLock, LOCK_FILE_NAME, lockEntryFor, serializeLock, type LockEntry } from '../analysis/lockfile';
import { parseCommandArgs } from './args';
import { ExitCode, type ExitCodeValue } from './exitCodes';
import { analyzeWorkspace, WORKSPACE_OPTIONS, WORKSPACE_OPTIONS_USAGE } from './workspaceOptions';

export const lockUsage = `usage: lineage lock [--root DIR] [--offline]

Resolves every model reference of the repository (as "lineage check" does) and writes
${LOCK_FILE_NAME} at the root: per model its id, the revision written, the resolved commit,
every weight file with its sha256 (the Hub's LFS oid for a cached blob, verified by hashing),
the fingerprint digest and the verdict against each declared base. Commit the file; then
"lineage check --locked" fails when a reference is new, its commit moved or a file changed.
${WORKSPACE_OPTIONS_USAGE}

exit codes: 0 written, 2 usage, 3 unreadable`;

export async function runLock(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, WORKSPACE_OPTIONS, { min: 0, max: 0 });
  const check = await analyzeWorkspace(args);
  const entries: LockEntry[] = [];
  for (const document of check.documents) {
    for (const { site, status } of document.analysis.references) {
      const entry = await lockEntryFor(site, status, check.root);
      if (entry) entries.push(entry);
    }
  }
  const lock = buildLock(entries);
  const file = path.join(check.root, LOCK_FILE_NAME);
  // Written beside and renamed: a killed run never leaves half a lock.
  await writeFileAtomically(file, serializeLock(lock));
  const unresolved = lock.models.filter((m) => m.commit === undefined && m.files.length === 0).length;
  process.stderr.write(`${file}: ${lock.models.length} model(s) locked${unresolved > 0 ? ` (${unresolved} with neither a commit nor files: not on this machine and not looked up)` : ''}\n`);
  return ExitCode.ok;
}
