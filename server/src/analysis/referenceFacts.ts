// Facts derived from a reference's status that need engine knowledge (what counts as a pinned commit,
// which formats are pickles, which names are one repository): pins, pickle-only repositories, re-uploads.
import { isPinnedRevision } from '../core/model/reference';
import type { ModelReferenceSite } from '../references';
import { hubRepoFactsOf, type HubRepoFacts, type HubWeightFormat, type LineageMatch, type PinCommit, type ReferenceStatus } from '../protocol';
import type { AnalyzedReference } from './documentAnalysis';

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

/**
 * Two names of one repository: equal ignoring case (as the Hub compares), or a legacy bare id and its
 * namespaced form (`gpt2`, `openai-community/gpt2`).
 */
export function isSameModelName(a: string, b: string): boolean {
  const x = a.trim().toLowerCase();
  const y = b.trim().toLowerCase();
  if (x === y) return true;
  if (x.includes('/') === y.includes('/')) return false;
  const [bare, namespaced] = x.includes('/') ? [y, x] : [x, y];
  return namespaced.slice(namespaced.indexOf('/') + 1) === bare;
}

/** The published name the reference loads: the Hub id written, or the cached repo it resolved to; none for a local path. */
export function publishedNameOf(reference: AnalyzedReference): string | undefined {
  const { site, status } = reference;
  if (status.resolution.kind === 'workspace') return undefined;
  if (status.resolution.repoId !== undefined) return status.resolution.repoId;
  return site.reference?.kind === 'hub' ? site.reference.repoId : undefined;
}

/** Verdicts that say "these are the same weights" (byte-identical, or the same tensors in another container). */
export const SAME_WEIGHTS_VERDICTS: ReadonlySet<string> = new Set(['identical', 'same-weights']);

/**
 * The known model under another name whose weights this reference's model holds: a renamed re-upload
 * (or the original of one; which of two copies came first is not in the bytes).
 */
export function reUploadOf(reference: AnalyzedReference): LineageMatch | undefined {
  const name = publishedNameOf(reference);
  if (name === undefined || reference.site.kind === 'base-model-claim' || !reference.status.model) return undefined;
  return reference.status.lineage.matches.find((m) => SAME_WEIGHTS_VERDICTS.has(m.verdict) && !isSameModelName(m.repoId, name));
}

