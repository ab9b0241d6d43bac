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

/** Decides how to read a document from its file name (a path or a URI path works too). */
export function documentKindOf(fileName: string): DocumentKind {
  const baseName = path.posix.basename(fileName.replace(/\\/g, '/'));
  const lower = baseName.toLowerCase();
  const extension = path.posix.extname(lower);
  if (extension === '.py' || extension === '.pyi') return 'python';
  if (extension === '.yaml' || extension === '.yml') return 'yaml';
  if (extension === '.md' || extension === '.markdown') return 'card';
  if (extension === '.json') return 'json';
  if (['.js', '.mjs', '.cjs', '.jsx', '.ts', '.mts', '.cts', '.tsx'].includes(extension)) return 'javascript';
  if (lower === 'dockerfile' || lower.startsWith('dockerfile.') || extension === '.dockerfile' || lower === 'containerfile') return 'dockerfile';
  if (lower === 'modelfile' || lower.startsWith('modelfile.') || extension === '.modelfile') return 'modelfile';
  if (['.sh', '.bash', '.zsh', '.env'].includes(extension) || lower === '.env' || lower.startsWith('.env.')) return 'shell';
  return 'text';
}

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
