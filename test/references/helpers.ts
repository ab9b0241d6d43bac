// Test helpers for the reference finders: fixture loading, lookup by id, and text-at-range checks.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ModelReferenceSite, Range } from '../../server/src/references/types';

export const DOCUMENTS_DIR = path.resolve(__dirname, '..', 'fixtures', 'documents');

export function readDocument(name: string): string {
  return readFileSync(path.join(DOCUMENTS_DIR, name), 'utf8');
}

/** The document text a range covers (LSP lines split on \n, \r\n or \r). */
export function textAt(text: string, range: Range): string {
  const lineStarts = [0];
  for (const match of text.matchAll(/\r\n|\n|\r/g)) lineStarts.push(match.index + match[0].length);
  const offset = (line: number, character: number): number => (lineStarts[line] ?? text.length) + character;
  return text.slice(offset(range.start.line, range.start.character), offset(range.end.line, range.end.character));
}

export function siteFor(sites: ModelReferenceSite[], id: string, loader?: string): ModelReferenceSite {
  const found = sites.filter((site) => site.id === id && (loader === undefined || site.loader === loader));
  assert.equal(found.length, 1, `expected one site for ${id}${loader ? ` (${loader})` : ''}, got ${found.length}: ${JSON.stringify(sites.map((site) => [site.id, site.loader]))}`);
  return found[0] as ModelReferenceSite;
}

export function range(startLine: number, startCharacter: number, endLine: number, endCharacter: number): Range {
  return { start: { line: startLine, character: startCharacter }, end: { line: endLine, character: endCharacter } };
}

/** Every site's range covers exactly its id, unless the id was decoded or resolved. */
export function assertRangesCoverIds(text: string, sites: ModelReferenceSite[], exceptions: string[] = []): void {
  for (const site of sites) {
    if (exceptions.includes(site.id) || site.id === '') continue;
    assert.equal(textAt(text, site.range), site.id, `range of ${site.id} (${site.loader})`);
  }
}
