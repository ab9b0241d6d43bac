// `lineage db pull|publish|build`: the registry and the shared fingerprint dataset on the Hub.
// Endpoint: --hub URL, else $HF_ENDPOINT, else https://huggingface.co; token: $HF_TOKEN (sent to
// that endpoint's origin only).
import { readFileSync } from 'node:fs';
import { closeSide, loadSide } from '../core/compare/compareModels';
import { errorMessage } from '../core/errors';
import { HubDatasetError, contributeAsPullRequest } from '../core/hub/hubDataset';
import { isValidRepoId } from '../core/model/reference';
import { entryMetaFor, type RegistryEntry } from '../core/registry';
import { contributionShard, DEFAULT_SHARED_DATASET, pullSharedDataset } from '../core/registry/sharedDataset';
import { flag, parseCommandArgs, stringOption, type ParsedArgs } from './args';
import { contributorFrom, DB_OPTION, withRegistry } from './db';
import { ExitCode, UsageError, type ExitCodeValue } from './exitCodes';
import { extractionProgress } from './progress';
import { formatCount, ProgressBar } from './terminal';
import { appendAll } from '../core/util/arrays';

const HUB_OPTIONS = { hub: { type: 'string' as const } };
/** A base-model list is a few hundred ids; a longer file is a mistake. */
const MAX_LIST_IDS = 10_000;

function hubOptions(args: ParsedArgs): { endpoint: string; accessToken?: string } {
  const endpoint = stringOption(args, 'hub') ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co';
  const token = process.env.HF_TOKEN?.trim();
  return token ? { endpoint, accessToken: token } : { endpoint };
}

/** Hub and network faults are exit 3 with their message, like an unreadable registry. */
async function withHubErrors(command: string, body: () => Promise<ExitCodeValue>): Promise<ExitCodeValue> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof HubDatasetError || (err instanceof TypeError && /fetch failed/.test(err.message))) {
      process.stderr.write(`lineage db ${command}: ${errorMessage(err)}\n`);
      return ExitCode.unreadable;
    }
    throw err;
  }
}

export async function runPull(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { ...DB_OPTION, ...HUB_OPTIONS, revision: { type: 'string' }, strict: { type: 'boolean' }, 'no-hub-check': { type: 'boolean' }, json: { type: 'boolean' } }, { min: 0, max: 1 });
  const dataset = args.positionals[0] ?? DEFAULT_SHARED_DATASET;
  return withHubErrors('pull', () =>
    withRegistry(args, true, async (registry) => {
      const bar = new ProgressBar(`pulling ${dataset}`, process.stderr, formatCount);
      const report = await pullSharedDataset(registry, dataset, {
        ...hubOptions(args),
        revision: stringOption(args, 'revision'),
        strict: flag(args, 'strict'),
        checkAgainstHub: !flag(args, 'no-hub-check'),
        onProgress: ({ done, total }) => bar.update(done, total),
      });
      bar.finish();
      if (flag(args, 'json')) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      for (const r of report.rejected.slice(0, 50)) process.stderr.write(`rejected ${r.id} (${r.shard}): ${r.reason}\n`);
      process.stderr.write(
        `pulled ${dataset}@${report.commit.slice(0, 12)}: ${report.shards} shard(s) verified, ${report.entries} entries: ${report.added} added, ${report.replaced} replaced, ${report.unchanged} unchanged, ` +
          `${report.rejected.length} rejected; ${report.verified} checked against the Hub, ${report.unverifiable} could not be checked\n`,
      );
      return report.rejected.length ? ExitCode.notRelated : ExitCode.ok;
    }),
  );
}

async function fingerprintTargets(targets: string[], args: ParsedArgs): Promise<RegistryEntry[]> {
  const contributor = contributorFrom(args);
  const entries: RegistryEntry[] = [];
  for (const target of targets) {
    const progress = extractionProgress(`reading ${target}`);
    const side = await loadSide(target, progress.options).finally(() => progress.done());
    await closeSide(side);
    entries.push({ meta: entryMetaFor(side.fingerprint, { contributor }), fingerprint: side.fingerprint });
  }
  return entries;
}

export async function runPublish(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { ...HUB_OPTIONS, dataset: { type: 'string' }, contributor: { type: 'string' }, 'dry-run': { type: 'boolean' } }, { min: 1, max: 1_000 });
  const dataset = stringOption(args, 'dataset') ?? DEFAULT_SHARED_DATASET;
  const entries = await fingerprintTargets(args.positionals, args);
  const shard = contributionShard(entries, contributorFrom(args) ?? 'anonymous');
  if (flag(args, 'dry-run')) {
    process.stdout.write(Buffer.from(shard.content).toString('utf8'));
    process.stderr.write(`would open a pull request on ${dataset} adding ${shard.path} (${entries.length} entries)\n`);
    return ExitCode.ok;
  }
  return withHubErrors('publish', async () => {
    const options = hubOptions(args);
    if (!options.accessToken) throw new UsageError('db publish opens a pull request on the Hub: set HF_TOKEN to a token with write access');
    const ids = entries.map((e) => e.meta.id);
    const result = await contributeAsPullRequest(
      dataset,
      [shard],
      `Add fingerprints of ${ids.length === 1 ? ids[0] : `${ids.length} models`}`,
      `Contributed with ${entries[0]?.meta.provenance?.tool ?? 'lineage-lens'}: ${ids.join(', ')}. Every entry carries its provenance (source repository, commit, LFS hashes), which \`lineage db pull\` checks against the Hub.`,
      options,
    );
    process.stderr.write(`opened a pull request on ${dataset}: ${result.pullRequestUrl ?? result.commit} (${shard.path}, ${entries.length} entries)\n`);
    return ExitCode.ok;
  });
}

/**
 * Seeds a registry from a list of Hub ids (one per line, # comments). Each id is fingerprinted from
 * the local Hugging Face cache; reading weights remotely by HTTP range requests is not part of this
 * build, so ids that are not cached are listed as skipped (download them, or run on a machine that has them).
 */
export async function runBuild(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { ...DB_OPTION, 'from-list': { type: 'string' }, contributor: { type: 'string' } }, { min: 0, max: 0 });
  const listFile = stringOption(args, 'from-list');
  if (!listFile) throw new UsageError('db build needs --from-list FILE (one Hub model id per line)');
  const ids = readFileSync(listFile, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  if (ids.length > MAX_LIST_IDS) throw new UsageError(`${listFile}: more than ${MAX_LIST_IDS} ids`);
  const invalid = ids.filter((id) => !isValidRepoId(id));
  if (invalid.length) throw new UsageError(`${listFile}: not Hub model ids: ${invalid.slice(0, 5).join(', ')}`);
  const entries: RegistryEntry[] = [];
  const skipped: string[] = [];
  for (const id of ids) {
    try {
      appendAll(entries, (await fingerprintTargets([id], args)));
    } catch (err) {
      skipped.push(`${id}: ${errorMessage(err).split('\n')[0]}`);
    }
  }
  for (const s of skipped) process.stderr.write(`skipped ${s}\n`);
  if (!entries.length) {
    process.stderr.write(`none of the ${ids.length} ids of ${listFile} could be fingerprinted here (remote fingerprinting by range reads is not in this build)\n`);
    return ExitCode.unreadable;
  }
  return withRegistry(args, true, async (registry) => {
    const summary = await registry.putMany(entries);
    process.stderr.write(`${registry.location}: ${summary.added} added, ${summary.replaced} replaced, ${summary.unchanged} unchanged; ${skipped.length} of ${ids.length} ids skipped\n`);
    return skipped.length ? ExitCode.notRelated : ExitCode.ok;
  });
}
