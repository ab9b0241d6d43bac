// CLI side of remote reading: the `--offline` flag every model-taking command accepts, opening a
// target locally or from the Hub, and the line on stderr saying what a remote read cost.
import type { OpenedModel } from '../core/model/openModel';
import { openModelAnywhere, type RemoteModelInfo } from '../core/hub/remoteModel';
import { flag, type OptionSpec, type ParsedArgs } from './args';
import { formatBytes } from './terminal';

export const REMOTE_OPTIONS: OptionSpec = { offline: { type: 'boolean' } };

export const remoteUsage = `A Hub id that is not on this machine is read from the Hub by range requests (HF_ENDPOINT,
HF_TOKEN or the token file); the bytes and requests it cost go to stderr.
  --offline   never use the network (also HF_HUB_OFFLINE=1)`;

/** Opens a target as the command line asks: local first, then the Hub unless --offline. */
export function cliModelOpener(args: ParsedArgs): (target: string) => Promise<OpenedModel> {
  const offline = flag(args, 'offline');
  return async (target) => {
    const model = await openModelAnywhere(target, { offline });
    return model;
  };
}

export function remoteInfoOf(model: OpenedModel | undefined): RemoteModelInfo | undefined {
  return (model as (OpenedModel & { remote?: RemoteModelInfo }) | undefined)?.remote;
}

/** One line on stderr for a model read from the Hub; nothing for a local one. */
export function reportRemoteCost(model: OpenedModel | undefined): void {
  const remote = remoteInfoOf(model);
  if (!remote) return;
  process.stderr.write(`${describeRemoteCost(remote)}\n`);
}

export function describeRemoteCost(remote: RemoteModelInfo): string {
  const s = remote.stats;
  const cache = s.bytesFromCache > 0 ? `, ${formatBytes(s.bytesFromCache)} from the read cache` : '';
  const retries = s.retries > 0 ? `, ${s.retries} retries` : '';
  return `${remote.repoId}@${remote.commit}: read from ${remote.endpoint}: ${formatBytes(s.bytesTransferred)} (${s.bytesTransferred} bytes) in ${s.requests} requests (${s.storageRequests} to storage)${cache}${retries}`;
}

/** For --json outputs: the same facts as a value. */
export function remoteCostJson(model: OpenedModel | undefined): Record<string, unknown> | undefined {
  const remote = remoteInfoOf(model);
  if (!remote) return undefined;
  return { endpoint: remote.endpoint, repoId: remote.repoId, commit: remote.commit, ...remote.stats };
}
