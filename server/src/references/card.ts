// Finds the `base_model` claim (a string or a list of ids) in a model card's YAML front matter.
// Only the front matter is read here; links in the card body are left to the URL finder.
import type { LineIndex } from './textPositions';
import type { ModelReferenceSite } from './types';
import { isMap, isScalar, isSeq } from 'yaml';
import { parseYamlDocuments, scalarWord, wordSite } from './yaml';

/** Locates the front matter: `---` on the first line (after an optional BOM) up to the next `---` line. */
export function frontMatterBounds(text: string): { start: number; end: number } | undefined {
  const opening = /^\uFEFF?---[ \t]*\r?\n/.exec(text);
  if (!opening) return undefined;
  const closing = /^---[ \t]*$/m;
  closing.lastIndex = 0;
  const rest = text.slice(opening[0].length);
  const match = closing.exec(rest);
  if (!match) return undefined;
  return { start: opening[0].length, end: opening[0].length + match.index };
}

export function findCardReferences(text: string, lines: LineIndex): ModelReferenceSite[] {
  const bounds = frontMatterBounds(text);
  if (!bounds) return [];
  const frontMatter = text.slice(bounds.start, bounds.end);
  const [document] = parseYamlDocuments(frontMatter);
  const contents = document?.contents;
  if (!isMap(contents)) return [];
  const baseModel = contents.get('base_model', true);
  const items = isSeq(baseModel) ? baseModel.items : [baseModel];
  const sites: ModelReferenceSite[] = [];
  for (const item of items) {
    if (!isScalar(item)) continue;
    const word = scalarWord(item, frontMatter, bounds.start);
    const site = word && wordSite(word, lines, 'card.base_model', 'base-model-claim', 'loader');
    if (site) sites.push(site);
  }
  return sites;
}
