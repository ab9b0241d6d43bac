// Parses the strings people use to name a model (Hub ids, `hf://` URIs, huggingface.co URLs,
// local paths) into one ModelReference, following the Hugging Face identifier grammar exactly.
import { isAnyWeightFileName } from './weightExtensions';

export type RepoType = 'model' | 'dataset' | 'space';

export type ModelReference =
  | {
      kind: 'hub';
      /** `namespace/name` or a legacy single name (`gpt2`), with the casing the text used. */
      repoId: string;
      revision?: string;
      repoType: RepoType;
      /** File or folder inside the repository (URL routes and `hf://` paths). */
      file?: string;
      /** Which syntax the text used. */
      source: 'id' | 'hf-uri' | 'url';
    }
  | { kind: 'local'; path: string };

export type HubReference = Extract<ModelReference, { kind: 'hub' }>;

export interface ParseReferenceOptions {
  /** Extra web hosts that serve the Hub (an `HF_ENDPOINT` mirror), e.g. `hf-mirror.com`. */
  extraHosts?: readonly string[];
}

/** Longer input is not a reference anyone wrote by hand; refusing it bounds all later work. */
export const MAX_REFERENCE_LENGTH = 2048;
/** huggingface_hub validates the name part to 1..96 characters. */
export const MAX_REPO_NAME_LENGTH = 96;
/**
 * The Hub checks no namespace length client-side; we apply the name limit to it as well, since
 * real user and organisation names are far shorter and an unbounded one is only seen in attacks.
 */
export const MAX_NAMESPACE_LENGTH = 96;
const MAX_REVISION_LENGTH = 256;
const MAX_FILE_PATH_LENGTH = 1024;

/** One segment of a repo id: `[A-Za-z0-9_.-]`, not starting or ending with `-` or `.`. */
const REPO_SEGMENT = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const COMMIT_SHA = /^[0-9a-f]{40}$/;
/**
 * Branch and tag names as git allows them in practice, minus characters that would be unsafe in
 * a path or a command line. `/` is allowed (`refs/pr/1`); `..`, `//`, a leading `-` or `/` and a
 * trailing `/` or `.lock` are not (checked in isValidRevision).
 */
const REVISION_CHARS = /^[A-Za-z0-9._+/-]+$/;
const HUB_HOSTS = ['huggingface.co', 'hf.co'];
const URL_FILE_ROUTES = new Set(['tree', 'blob', 'resolve', 'raw', 'blame']);
/** First URL path segments that are site pages and never a namespace. */
const NON_NAMESPACE_SEGMENTS = new Set([
  'api', 'docs', 'blog', 'papers', 'collections', 'organizations', 'settings', 'login', 'join', 'pricing',
  'enterprise', 'learn', 'tasks', 'chat', 'posts', 'new', 'models', 'datasets', 'spaces', 'buckets', 'kernels',
  'search', 'changelog', 'logout', 'notifications', 'inference-endpoints', 'terms-of-service', 'privacy',
]);
/** Plural repo-type prefixes of `hf://` URIs and web URLs; `kernels` and `buckets` exist but are not repos we read. */
const TYPE_PREFIXES: ReadonlyMap<string, RepoType> = new Map([['models', 'model'], ['datasets', 'dataset'], ['spaces', 'space']]);
/** `hf://dataset/x/y` (singular) is an error in huggingface_hub, not the namespace `dataset`. */
const REJECTED_HF_URI_PREFIXES = new Set(['model', 'dataset', 'space', 'kernel', 'kernels', 'bucket', 'buckets']);

/** A full 40-hex lowercase commit id: the only revision that cannot move under the user. */
export function isPinnedRevision(revision: string | undefined): boolean {
  return revision !== undefined && COMMIT_SHA.test(revision);
}

export type RevisionKind = 'commit' | 'pull-request' | 'special-ref' | 'branch-or-tag';

export function classifyRevision(revision: string): RevisionKind {
  if (isPinnedRevision(revision)) return 'commit';
  if (/^refs\/pr\/\d+$/.test(revision)) return 'pull-request';
  if (revision.startsWith('refs/')) return 'special-ref';
  return 'branch-or-tag';
}

/** The Hub's repo id grammar (huggingface_hub `validate_repo_id`, ASCII form). */
export function isValidRepoId(repoId: string): boolean {
  const parts = repoId.split('/');
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1]!;
  if (name.length > MAX_REPO_NAME_LENGTH) return false;
  if (parts.length === 2 && parts[0]!.length > MAX_NAMESPACE_LENGTH) return false;
  if (!parts.every((p) => REPO_SEGMENT.test(p))) return false;
  // `--` is reserved as the separator of cache folder names, so it can never occur in an id.
  if (repoId.includes('--') || repoId.includes('..')) return false;
  return !name.toLowerCase().endsWith('.git');
}

export function isValidRevision(revision: string): boolean {
  if (revision.length === 0 || revision.length > MAX_REVISION_LENGTH || !REVISION_CHARS.test(revision)) return false;
  if (revision.startsWith('-') || revision.startsWith('/') || revision.endsWith('/')) return false;
  if (revision.includes('..') || revision.includes('//') || revision.endsWith('.lock')) return false;
  return revision.split('/').every((part) => part !== '.' && !part.startsWith('.'));
}

/**
 * Parses one reference. Returns undefined when the text is neither a valid Hub reference nor a
 * recognisable local path. Never throws: the input is usually copied from an untrusted document.
 */
export function parseModelReference(text: string, options: ParseReferenceOptions = {}): ModelReference | undefined {
  const value = text.trim();
  if (value.length === 0 || value.length > MAX_REFERENCE_LENGTH) return undefined;
  // Control characters never belong in an id, a URL or a path anyone means to load.
  if (/[\u0000-\u001f\u007f]/.test(value)) return undefined;

  if (/^hf:\/\//i.test(value)) return parseHfUri(value.slice('hf://'.length));
  const webPath = stripHubHost(value, options.extraHosts ?? []);
  if (webPath !== undefined) return parseWebPath(webPath);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined; // some other URL scheme
  if (looksLikeLocalPath(value)) return { kind: 'local', path: value };
  return parsePlainId(value);
}

/** Local paths as loaders see them: anything `os.path.isdir` would be asked about before the Hub. */
function looksLikeLocalPath(value: string): boolean {
  if (value === '.' || value === '..' || value === '~') return true;
  if (/^(?:\.{1,2}|~)[\\/]/.test(value)) return true;
  if (value.startsWith('/') || value.startsWith('\\')) return true;
  if (/^[A-Za-z]:(?:[\\/]|$)/.test(value)) return true;
  if (value.includes('\\')) return true;
  if (value.includes('@')) return false;
  // A Hub id has at most one slash, so `runs/exp1/final` can only be a folder.
  if ((value.match(/\//g) ?? []).length >= 2 && !/\s/.test(value)) return true;
  // A bare name with a weight-file extension is a file beside the user's code, not a repo.
  return isAnyWeightFileName(value) && !value.includes('/');
}

function parsePlainId(value: string): ModelReference | undefined {
  const at = value.indexOf('@');
  const repoId = at === -1 ? value : value.slice(0, at);
  const revision = at === -1 ? undefined : value.slice(at + 1);
  if (!isValidRepoId(repoId)) return undefined;
  if (revision !== undefined && !isValidRevision(revision)) return undefined;
  return hubReference(repoId, 'model', 'id', revision, undefined);
}

/** `hf://[<type>/]<ns>/<name>[@<rev>][/<path>]`, as huggingface_hub's hf_uris module defines it. */
function parseHfUri(rest: string): ModelReference | undefined {
  const segments = rest.split('/');
  let repoType: RepoType = 'model';
  const first = segments[0]!;
  const typePrefix = TYPE_PREFIXES.get(first);
  if (typePrefix !== undefined) {
    repoType = typePrefix;
    segments.shift();
  } else if (REJECTED_HF_URI_PREFIXES.has(first.toLowerCase())) {
    return undefined;
  }
  // Bare canonical names (`hf://gpt2`) are rejected by the reference parser: a namespace is required.
  if (segments.length < 2) return undefined;
  const namespace = segments[0]!;
  const nameAndRevision = segments[1]!;
  if (namespace.includes('@')) return undefined;
  const at = nameAndRevision.indexOf('@');
  const name = at === -1 ? nameAndRevision : nameAndRevision.slice(0, at);
  let revision: string | undefined;
  if (at !== -1) {
    revision = decodeSegment(nameAndRevision.slice(at + 1));
    if (revision === undefined || !isValidRevision(revision)) return undefined;
  }
  const repoId = `${namespace}/${name}`;
  if (!isValidRepoId(repoId)) return undefined;
  const pathSegments = segments.slice(2);
  // `hf://a/b/c@v1`: a revision may only follow the repo name.
  if (pathSegments.some((s) => s.includes('@'))) return undefined;
  const file = filePathFrom(pathSegments);
  if (file === null) return undefined;
  return hubReference(repoId, repoType, 'hf-uri', revision, file);
}

/** Returns the URL path after a Hub host (without query or fragment), or undefined if the text is not a Hub URL. */
function stripHubHost(value: string, extraHosts: readonly string[]): string | undefined {
  const match = /^(?:https?:\/\/)?(?:www\.)?([A-Za-z0-9.-]+)(\/[^?#]*)?(?:[?#].*)?$/i.exec(value);
  if (!match) return undefined;
  const host = match[1]!.toLowerCase();
  const hasScheme = /^https?:\/\//i.test(value);
  const known = HUB_HOSTS.includes(host) || extraHosts.some((h) => h.toLowerCase() === host);
  if (!known) return undefined;
  // `hf.co` alone (no scheme, no path) is a plain word, not a link.
  if (!hasScheme && match[2] === undefined) return undefined;
  return match[2] ?? '/';
}

/** `/<ns>/<name>[/(tree|blob|resolve|raw|blame)/<rev>[/<path>]]`, `/datasets/...`, `/spaces/...`. */
function parseWebPath(urlPath: string): ModelReference | undefined {
  const segments = urlPath.split('/').filter((s, i, all) => !(s === '' && (i === 0 || i === all.length - 1)));
  if (segments.length === 0 || segments.includes('')) return undefined;
  let repoType: RepoType = 'model';
  // `/models` is the model listing page; models have no type prefix in web URLs.
  const typePrefix = segments[0] === 'models' ? undefined : TYPE_PREFIXES.get(segments[0]!);
  if (typePrefix !== undefined) {
    repoType = typePrefix;
    segments.shift();
  } else if (NON_NAMESPACE_SEGMENTS.has(segments[0]!.toLowerCase())) {
    return undefined;
  }
  if (segments.length === 0) return undefined;
  // A single segment is a user or organisation page, except after an explicit type prefix or when a
  // file route follows it (`/gpt2/resolve/main/config.json`), which only legacy repo ids have.
  const singleSegmentRepo = typePrefix !== undefined ? segments.length === 1 || URL_FILE_ROUTES.has(segments[1]!) : URL_FILE_ROUTES.has(segments[1] ?? '');
  const idLength = singleSegmentRepo ? 1 : 2;
  if (segments.length < idLength) return undefined;
  const repoId = segments.slice(0, idLength).join('/');
  if (!isValidRepoId(repoId)) return undefined;
  const rest = segments.slice(idLength);
  if (rest.length === 0) return hubReference(repoId, repoType, 'url', undefined, undefined);
  if (!URL_FILE_ROUTES.has(rest[0]!) || rest.length < 2) return undefined;
  // Revisions containing `/` are percent-encoded in URLs (`refs%2Fpr%2F1`).
  const revision = decodeSegment(rest[1]!);
  if (revision === undefined || !isValidRevision(revision)) return undefined;
  const file = filePathFrom(rest.slice(2));
  if (file === null) return undefined;
  return hubReference(repoId, repoType, 'url', revision, file);
}

/** Joins decoded path segments; undefined when there are none, null when a segment is unsafe. */
function filePathFrom(segments: string[]): string | undefined | null {
  if (segments.length === 0 || (segments.length === 1 && segments[0] === '')) return undefined;
  const decoded: string[] = [];
  for (const raw of segments) {
    const segment = decodeSegment(raw);
    if (segment === undefined || segment === '' || segment === '.' || segment === '..') return null;
    if (/[\\\u0000-\u001f\u007f]/.test(segment) || segment.includes('/')) return null;
    decoded.push(segment);
  }
  const file = decoded.join('/');
  return file.length > MAX_FILE_PATH_LENGTH ? null : file;
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function hubReference(repoId: string, repoType: RepoType, source: HubReference['source'], revision: string | undefined, file: string | undefined): HubReference {
  const ref: HubReference = { kind: 'hub', repoId, repoType, source };
  if (revision !== undefined) ref.revision = revision;
  if (file !== undefined) ref.file = file;
  return ref;
}

const PLURAL_TYPES: Readonly<Record<RepoType, string>> = { model: 'models', dataset: 'datasets', space: 'spaces' };

/**
 * Writes a reference back in the syntax it came from (or `style`). A plain id cannot carry a repo
 * type or a file, so such references are written as `hf://` URIs instead.
 * `parseModelReference(formatModelReference(r))` gives back r (up to `source` in that fallback).
 */
export function formatModelReference(ref: ModelReference, style: HubReference['source'] = ref.kind === 'hub' ? ref.source : 'id'): string {
  if (ref.kind === 'local') return ref.path;
  const encodedFile = ref.file?.split('/').map(encodeURIComponent).join('/');
  if (style === 'url') {
    const typePrefix = ref.repoType === 'model' ? '' : `${PLURAL_TYPES[ref.repoType]}/`;
    const base = `https://huggingface.co/${typePrefix}${ref.repoId}`;
    if (ref.revision === undefined && ref.file === undefined) return base;
    const route = ref.file === undefined ? 'tree' : 'resolve';
    const file = encodedFile === undefined ? '' : `/${encodedFile}`;
    return `${base}/${route}/${encodeURIComponent(ref.revision ?? 'main')}${file}`;
  }
  // hf:// URIs need a namespace; a legacy single-name id can only be written as a plain id.
  const canUseUri = ref.repoId.includes('/');
  if (style === 'id' && ref.repoType === 'model' && ref.file === undefined) {
    return ref.revision === undefined ? ref.repoId : `${ref.repoId}@${ref.revision}`;
  }
  if (!canUseUri) return formatModelReference(ref, 'url');
  const typePrefix = ref.repoType === 'model' ? '' : `${PLURAL_TYPES[ref.repoType]}/`;
  const revision = ref.revision === undefined ? '' : `@${encodeURIComponent(ref.revision)}`;
  const file = encodedFile === undefined ? '' : `/${encodedFile}`;
  return `hf://${typePrefix}${ref.repoId}${revision}${file}`;
}
