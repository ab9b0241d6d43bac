// `lineage cache info|clean`: the on-disk cache of bytes read from the Hub (ranges keyed by the
// files' content hashes) and the small files fetched whole beside it.
import * as path from 'node:path';
import { ReadCache } from '../core/io/readCache';
import { lineageCacheFolder } from '../core/util/cacheFolder';
import { flag, parseCommandArgs } from './args';
import { ExitCode, UsageError, type ExitCodeValue } from './exitCodes';
import { formatBytes, renderFacts } from './terminal';

export const cacheUsage = `usage: lineage cache <info|clean> [--json]

The read cache holds byte ranges read from Hub models (keyed by each file's published sha256 or
git id, so a new commit never reuses old bytes), plus their small files, under
$LINEAGE_CACHE_DIR/remote (default ~/.cache/lineage-lens/remote). A second fingerprint of the same
model sends no request to the storage. The least recently used files go first beyond 2 GiB.

  cache info    where it is, how many files and ranges, how many bytes
  cache clean   remove it all
  --json        print one JSON document`;

export function remoteCacheFolder(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(lineageCacheFolder(env), 'remote');
}

export async function runCache(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { json: { type: 'boolean' } }, { min: 1, max: 1 });
  const cache = new ReadCache(remoteCacheFolder());
  switch (args.positionals[0]) {
    case 'info': {
      const info = await cache.info();
      if (flag(args, 'json')) process.stdout.write(JSON.stringify(info, null, 2) + '\n');
      else {
        process.stdout.write(renderFacts([
          ['folder', info.folder],
          ['files', String(info.files)],
          ['ranges', String(info.ranges)],
          ['size', `${formatBytes(info.bytes)} of at most ${formatBytes(info.maxBytes)}`],
        ]) + '\n');
      }
      return ExitCode.ok;
    }
    case 'clean': {
      const freed = await cache.clean();
      if (flag(args, 'json')) process.stdout.write(JSON.stringify({ folder: cache.folder, freedBytes: freed }) + '\n');
      else process.stdout.write(`removed ${formatBytes(freed)} of cached ranges from ${cache.folder}\n`);
      return ExitCode.ok;
    }
    default:
      throw new UsageError(`unknown cache subcommand "${args.positionals[0]}" (info or clean)`);
  }
}
