// Facts derived from a reference's status that need engine knowledge (what counts as a pinned commit,
// which formats are pickles): the commit a pin may write, pickle-only repositories.
import { isPinnedRevision } from '../core/model/reference';
import type { ModelReferenceSite } from '../references';
import { hubRepoFactsOf, type HubRepoFacts, type HubWeightFormat, type PinCommit, type ReferenceStatus } from '../protocol';

/** Weights that run code when loaded: every PyTorch pickle flavour. */
export function isPickleFormat(format: string): boolean {
  return format === 'pytorch-zip' || format === 'pytorch-legacy' || format === 'torchscript';
}

/** Hub formats a loader can use instead of a pickle. */
const PICKLE_FREE_HUB_FORMATS: ReadonlySet<HubWeightFormat> = new Set(['safetensors', 'gguf', 'onnx']);

/** The Hub lists PyTorch pickles and no weights in a format that runs no code (a cut-off list proves nothing). */
export function isHubPickleOnly(hub: HubRepoFacts): boolean {
  return !hub.filesTruncated && hub.formats.includes('pytorch pickle') && !hub.formats.some((f) => PICKLE_FREE_HUB_FORMATS.has(f));
}

/**
 * The commit a pin quick fix may write, never a guess: the cached snapshot or the revision the
 * registry fingerprinted (bytes that were checked), else the commit the Hub's branch points to now
 * (what a download would fetch today, unchecked).
 */
export function pinCommitOf(status: ReferenceStatus): PinCommit | undefined {
  const { kind, commit } = status.resolution;
  if ((kind === 'hf-cache' || kind === 'registry') && isPinnedRevision(commit)) return { commit: commit!, origin: kind === 'hf-cache' ? 'cached' : 'registry' };
  const hub = hubRepoFactsOf(status);
  return hub && isPinnedRevision(hub.commit) ? { commit: hub.commit, origin: 'hub', revisionAsked: hub.revisionAsked } : undefined;
}


/** Loaders the URL finder reports for links found in free text: they document a model and load nothing. */
const TEXT_LINK_LOADERS: ReadonlySet<string> = new Set(['url', 'hf-uri']);

export function isTextLink(site: ModelReferenceSite): boolean {
  return TEXT_LINK_LOADERS.has(site.loader);
}
