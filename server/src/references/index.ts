// Entry point of the reference finders: picks the finder for a document by its file name, then adds
// hf:// and huggingface.co URLs found anywhere in the text that the finder did not already report.
import * as path from 'node:path';
import { findCardReferences } from './card';
import { findJavaScriptReferences } from './javascript';
import { findJsonReferences } from './json';
import { findPythonReferences } from './python';
import { findDockerfileReferences, findModelfileReferences, findShellReferences } from './shell';
import { LineIndex, rangesOverlap } from './textPositions';
import type { ModelReferenceSite } from './types';
import { findUrlReferences } from './urls';
import { findYamlReferences } from './yaml';

export { initPythonParser } from './python';
export type * from './types';

/** Documents larger than this are generated data or hostile, not code that names models; they are skipped. */
export const MAX_DOCUMENT_CHARS = 2 * 1024 * 1024;

export type DocumentKind = 'python' | 'yaml' | 'card' | 'json' | 'javascript' | 'dockerfile' | 'shell' | 'modelfile' | 'text';

/** Extensions each finder reads (lower-case). */
const KIND_BY_EXTENSION: Readonly<Record<string, DocumentKind>> = {
  '.py': 'python', '.pyi': 'python',
  '.yaml': 'yaml', '.yml': 'yaml',
  '.md': 'card', '.markdown': 'card',
  '.json': 'json',
  '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript', '.jsx': 'javascript', '.ts': 'javascript', '.mts': 'javascript', '.cts': 'javascript', '.tsx': 'javascript',
  '.dockerfile': 'dockerfile',
  '.modelfile': 'modelfile',
  '.sh': 'shell', '.bash': 'shell', '.zsh': 'shell', '.env': 'shell',
};
/** File names read by name: exactly (`Dockerfile`) or with a suffix after a dot (`Dockerfile.dev`); compared case-insensitively. */
const KIND_BY_NAME: ReadonlyArray<{ name: string; withSuffix: boolean; kind: DocumentKind }> = [
  { name: 'Dockerfile', withSuffix: true, kind: 'dockerfile' },
  { name: 'Containerfile', withSuffix: false, kind: 'dockerfile' },
  { name: 'Modelfile', withSuffix: true, kind: 'modelfile' },
  { name: '.env', withSuffix: true, kind: 'shell' },
];

/** Decides how to read a document from its file name (a path or a URI path works too). */
export function documentKindOf(fileName: string): DocumentKind {
  const lower = path.posix.basename(fileName.replace(/\\/g, '/')).toLowerCase();
  const byExtension = KIND_BY_EXTENSION[path.posix.extname(lower)];
  if (byExtension !== undefined) return byExtension;
  for (const { name, withSuffix, kind } of KIND_BY_NAME) {
    const known = name.toLowerCase();
    if (lower === known || (withSuffix && lower.startsWith(`${known}.`))) return kind;
  }
  return 'text';
}

/** Every file `documentKindOf` reads, as one glob (for a client's file watcher). */
export const DOCUMENT_FILES_GLOB = `**/{${[
  ...Object.keys(KIND_BY_EXTENSION).map((extension) => `*${extension}`),
  ...KIND_BY_NAME.flatMap(({ name, withSuffix }) => (withSuffix ? [name, `${name}.*`] : [name])),
].join(',')}}`;

/**
 * Finds every model, adapter and dataset reference in a document. Never throws: a finder that
 * fails on hostile input contributes nothing, and the URL scan still runs.
 */
export async function findReferences(text: string, fileName: string): Promise<ModelReferenceSite[]> {
  if (text.length > MAX_DOCUMENT_CHARS || isGeneratedReport(text, fileName)) return [];
  const lines = new LineIndex(text);
  const kind = documentKindOf(fileName);
  let sites: ModelReferenceSite[] = [];
  try {
    sites = await findByKind(kind, text, path.posix.basename(fileName.replace(/\\/g, '/')), lines);
  } catch {
    sites = [];
  }
  let urlSites: ModelReferenceSite[] = [];
  try {
    urlSites = findUrlReferences(text, lines);
  } catch {
    urlSites = [];
  }
  for (const urlSite of urlSites) {
    if (!sites.some((site) => rangesOverlap(site.range, urlSite.range))) sites.push(urlSite);
  }
  return sites.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
}

/**
 * Reports this tool (or another) wrote about models: a CycloneDX BOM, a Lineage fingerprint or scan.
 * They list models; they load none, so reading them as references would count every model twice.
 */
export function isGeneratedReport(text: string, fileName: string): boolean {
  if (documentKindOf(fileName) !== 'json') return false;
  const head = text.slice(0, 4_096);
  return /"bomFormat"\s*:\s*"CycloneDX"/.test(head) || /"(?:schema|format)"\s*:\s*"lineage-lens\//.test(head);
}

function findByKind(kind: DocumentKind, text: string, baseName: string, lines: LineIndex): Promise<ModelReferenceSite[]> | ModelReferenceSite[] {
  switch (kind) {
    case 'python': return findPythonReferences(text, lines);
    case 'yaml': return findYamlReferences(text, lines);
    case 'card': return findCardReferences(text, lines);
    case 'json': return findJsonReferences(text, baseName, lines);
    case 'javascript': return findJavaScriptReferences(text, lines);
    case 'dockerfile': return findDockerfileReferences(text, lines);
    case 'shell': return findShellReferences(text, lines);
    case 'modelfile': return findModelfileReferences(text, lines);
    case 'text': return [];
  }
}
