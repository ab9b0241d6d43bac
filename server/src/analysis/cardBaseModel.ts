// Writing a verified base into a model card: where the card's YAML front matter is and which keys it
// has, the Hub's base_model_relation for a verdict, and the edit that adds the keys. Pure functions.
import { isMap, isScalar, parseDocument } from 'yaml';
import type { Verdict } from '../core/compare/types';
import { frontMatterBounds } from '../references/card';
import { LineIndex } from '../references/textPositions';
import type { LineageAssessment, LineageMatch, ModelFacts, Position } from '../protocol';

/** What an edit needs to know about a card's front matter (serialisable, kept in the analysis). */
export type CardFrontMatter =
  | { kind: 'absent'; insertAt: Position; eol: string }
  /** `firstLine`..`lastLine` span the block including both `---` lines; keys are inserted before `lastLine`. */
  | { kind: 'block'; firstLine: number; lastLine: number; keys: string[]; eol: string }
  /** An unclosed block or YAML that is not a mapping: an automatic edit could only make it worse. */
  | { kind: 'unreadable' };

export function readCardFrontMatter(text: string): CardFrontMatter {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const bounds = frontMatterBounds(text);
  if (!bounds) {
    if (/^\uFEFF?---[ \t]*\r?$/m.test(text.split('\n', 1)[0] ?? '')) return { kind: 'unreadable' };
    // A byte order mark stays the first character of the file.
    return { kind: 'absent', insertAt: { line: 0, character: text.startsWith('\uFEFF') ? 1 : 0 }, eol };
  }
  const yaml = parseDocument(text.slice(bounds.start, bounds.end));
  const contents = yaml.contents;
  if (yaml.errors.length > 0 || (contents !== null && !isMap(contents))) return { kind: 'unreadable' };
  const keys = isMap(contents) ? contents.items.map((item) => (isScalar(item.key) ? String(item.key.value) : String(item.key))) : [];
  const lines = new LineIndex(text);
  return { kind: 'block', firstLine: 0, lastLine: lines.positionAt(bounds.end).line, keys, eol };
}

/** The Hub's `base_model_relation` vocabulary (hub-docs model-cards.md). */
export type BaseModelRelation = 'adapter' | 'merge' | 'quantized' | 'finetune';

/**
 * Verdicts that make the match an ancestor, and the relation the Hub uses for it. `identical` and
 * `same-weights` are absent on purpose: such a folder is a copy of the match, not derived from it.
 */
const RELATION_OF_VERDICT: Partial<Readonly<Record<Verdict, BaseModelRelation>>> = {
  quantized: 'quantized',
  derived: 'finetune',
  merge: 'merge',
};

/** A PEFT folder (adapter_config.json) is an adapter of its base whatever the weight comparison says. */
export function baseModelRelation(verdict: Verdict, model: ModelFacts): BaseModelRelation | undefined {
  const relation = RELATION_OF_VERDICT[verdict];
  if (relation === undefined) return undefined;
  return model.files.some((f) => f.role === 'adapter') ? 'adapter' : relation;
}

/** Verified ancestors a card may name as its base, strongest first. */
export function verifiedAncestors(lineage: LineageAssessment): LineageMatch[] {
  if (lineage.status !== 'verified') return [];
  return lineage.matches.filter((m) => RELATION_OF_VERDICT[m.verdict] !== undefined);
}

/** Whether an LSP range touches the lines where a base_model edit would go. */
export function touchesFrontMatter(frontMatter: CardFrontMatter, range: { start: Position; end: Position }): boolean {
  if (frontMatter.kind === 'unreadable') return false;
  const [first, last] = frontMatter.kind === 'block' ? [frontMatter.firstLine, frontMatter.lastLine] : [0, 0];
  return range.start.line <= last && range.end.line >= first;
}

/**
 * The text edit adding `base_model` (and `base_model_relation` when known and not set yet) before the
 * closing `---`, or a new block at the top. None when the card already has a base_model key.
 */
export function addBaseModelEdit(frontMatter: CardFrontMatter, repoId: string, relation: BaseModelRelation | undefined): { range: { start: Position; end: Position }; newText: string } | undefined {
  if (frontMatter.kind === 'unreadable') return undefined;
  const { eol } = frontMatter;
  const keyLines = (withRelation: boolean): string => `base_model: ${repoId}${eol}${withRelation && relation !== undefined ? `base_model_relation: ${relation}${eol}` : ''}`;
  if (frontMatter.kind === 'absent') {
    return { range: { start: frontMatter.insertAt, end: frontMatter.insertAt }, newText: `---${eol}${keyLines(true)}---${eol}` };
  }
  if (frontMatter.keys.includes('base_model')) return undefined;
  const insertAt = { line: frontMatter.lastLine, character: 0 };
  return { range: { start: insertAt, end: insertAt }, newText: keyLines(!frontMatter.keys.includes('base_model_relation')) };
}
