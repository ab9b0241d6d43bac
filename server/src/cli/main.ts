// Entry point of the `lineage` command: dispatches to one module per command and maps
// errors to stable exit codes (0 ok/related, 1 not related, 2 usage, 3 unreadable/inconclusive,
// 4 dangerous findings under --fail-on-danger).
import { ModelFormatError, ModelNotFoundError, UnsupportedError } from '../core/errors';
import { ExitCode, UsageError, type ExitCodeValue } from './exitCodes';
import { compareUsage, runCompare } from './compare';
import { fingerprintUsage, runFingerprint } from './fingerprint';
import { inspectUsage, runInspect } from './inspect';
import { dbUsage, runDb } from './db';
import { runScan, scanUsage } from './scan';
import { cacheUsage, runCache } from './cache';
import { RemoteReadError } from '../core/io/remoteSession';
import { checkUsage, runCheck } from './check';
import { lockUsage, runLock } from './lock';
import { bomUsage, runBom } from './bom';

interface Command {
  usage: string;
  run(argv: string[]): Promise<ExitCodeValue>;
}

const commands: Record<string, Command> = {
  inspect: { usage: inspectUsage, run: runInspect },
  fingerprint: { usage: fingerprintUsage, run: runFingerprint },
  compare: { usage: compareUsage, run: runCompare },
  scan: { usage: scanUsage, run: runScan },
  db: { usage: dbUsage, run: runDb },
  cache: { usage: cacheUsage, run: runCache },
  check: { usage: checkUsage, run: runCheck },
  lock: { usage: lockUsage, run: runLock },
  bom: { usage: bomUsage, run: runBom },
};

const mainUsage = `Lineage Lens: what model did I actually get?

usage: lineage <command> [options]

commands:
${Object.values(commands).map((c) => '  ' + c.usage.split('\n')[0]!.replace('usage: ', '')).join('\n')}

exit codes: 0 ok / related, 1 not related (check: findings), 2 usage error, 3 unreadable or inconclusive,
            4 dangerous findings (with --fail-on-danger)
Run "lineage <command> --help" for details.`;

export async function main(argv: string[]): Promise<ExitCodeValue> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainUsage + '\n');
    return name ? ExitCode.ok : ExitCode.usage;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`lineage: unknown command "${name}"\n\n${mainUsage}\n`);
    return ExitCode.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage + '\n');
    return ExitCode.ok;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`lineage ${name}: ${err.message}\n\n${command.usage}\n`);
      return ExitCode.usage;
    }
    if (err instanceof ModelFormatError || err instanceof ModelNotFoundError || err instanceof UnsupportedError || err instanceof RemoteReadError) {
      process.stderr.write(`lineage ${name}: ${err.message}\n`);
      return ExitCode.unreadable;
    }
    if (isFileSystemError(err)) {
      process.stderr.write(`lineage ${name}: ${err.message}\n`);
      return ExitCode.unreadable;
    }
    throw err;
  }
}

function isFileSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`lineage: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = ExitCode.unreadable;
    },
  );
}
