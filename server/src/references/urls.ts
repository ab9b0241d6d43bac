// Finds `hf://` URIs and huggingface.co / hf.co web URLs in any text, including comments and prose.
// It is the fallback every other finder shares and the only finder for unknown file types.
import { parseCandidate } from './candidates';
import type { LineIndex } from './textPositions';
import type { ModelReference, ModelReferenceSite } from './types';

// Only locates the span; whether it names a repository (not /docs, /blog, a user page) is the core parser's decision.
const URL_SPAN = /\b(?:hf:\/\/|https?:\/\/(?:www\.)?(?:huggingface\.co|hf\.co)\/)[^\s"'`<>()[\]{}\\|^]*/g;
const TRAILING_PUNCTUATION = /[.,;:!?*_~]+$/;
export interface UrlSiteOptions {
  loader?: string;
}

export function findUrlReferences(text: string, lines: LineIndex): ModelReferenceSite[] {
  const sites: ModelReferenceSite[] = [];
  for (const match of text.matchAll(URL_SPAN)) {
    const raw = match[0].replace(TRAILING_PUNCTUATION, '');
    const site = urlSite(raw, match.index, lines);
    if (site) sites.push(site);
  }
  return sites;
}

/** Builds a site for one URL or `hf://` URI that starts at `startOffset`; undefined if it names no repository. */
export function urlSite(value: string, startOffset: number, lines: LineIndex, options: UrlSiteOptions = {}): ModelReferenceSite | undefined {
  let idText = value;
  let reference = parseCandidate(value);
  let kserveRevision: string | undefined;
  if (!isHubReference(reference) && value.startsWith('hf://')) {
    // KServe writes `hf://org/name:<hash>`; the revision follows the last colon.
    const colon = value.lastIndexOf(':');
    if (colon > 'hf://'.length) {
      const withoutRevision = parseCandidate(value.slice(0, colon));
      if (isHubReference(withoutRevision) && colon + 1 < value.length) {
        idText = value.slice(0, colon);
        reference = { ...withoutRevision, revision: value.slice(colon + 1) };
        kserveRevision = value.slice(colon + 1);
      }
    }
  }
  if (!isHubReference(reference)) return undefined;
  const site: ModelReferenceSite = {
    id: idText,
    reference,
    range: lines.rangeOf(startOffset, startOffset + idText.length),
    loader: options.loader ?? (value.startsWith('hf://') ? 'hf-uri' : 'url'),
    kind: reference.repoType === 'dataset' ? 'dataset' : 'model',
    flags: {},
  };
  if (reference.file) site.file = reference.file;
  if (kserveRevision !== undefined) {
    const revisionStart = startOffset + idText.length + 1;
    site.revision = { value: kserveRevision, range: lines.rangeOf(revisionStart, revisionStart + kserveRevision.length) };
  } else if (reference.revision) {
    const revisionIndex = revisionIndexInUrl(value, reference.revision);
    site.revision = revisionIndex === -1
      ? { value: reference.revision, range: site.range }
      : { value: reference.revision, range: lines.rangeOf(startOffset + revisionIndex, startOffset + revisionIndex + reference.revision.length) };
  }
  return site;
}

function isHubReference(reference: ModelReference | undefined): reference is Extract<ModelReference, { kind: 'hub' }> {
  return reference !== undefined && reference.kind === 'hub';
}

/** Locates the revision inside `@rev` or `/blob|tree|resolve|raw|blame/rev/`; -1 if it is URL-encoded. */
function revisionIndexInUrl(value: string, revision: string): number {
  const atIndex = value.indexOf(`@${revision}`);
  if (atIndex !== -1) return atIndex + 1;
  const route = /\/(?:resolve|blob|tree|raw|blame)\//.exec(value);
  if (route && value.startsWith(revision, route.index + route[0].length)) return route.index + route[0].length;
  return -1;
}
