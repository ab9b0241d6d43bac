// Relations between two normalized vocabularies (identical, extension, common ancestor, overlap),
// used by the tokenizer signal of the fingerprint and by the CLI's compare output.
//
// Counting rules: holes ('' tokens) never count. Special/control tokens count like any other
// token: they occupy ids and embedding rows, and a changed special token is a real difference
// between two tokenizers (T7's dbrx and stablelm differ exactly there). Set measures use
// distinct normalized strings; position measures use ids.
import { countTokens, type Vocabulary } from './vocabulary';

export type VocabularyRelationKind = 'identical' | 'a-extends-b' | 'b-extends-a' | 'common-ancestor' | 'overlapping' | 'disjoint';

export interface VocabularyRelation {
  /** Ids holding a token (holes excluded). */
  sizeA: number;
  sizeB: number;
  /** Distinct normalized strings present in both. */
  shared: number;
  /** shared / distinct strings in either. */
  jaccard: number;
  /** shared / distinct strings of A. */
  containmentAinB: number;
  containmentBinA: number;
  /** Ids holding the same (non-empty) normalized string in both. */
  samePosition: number;
  /** samePosition / min(sizeA, sizeB). */
  samePositionFraction: number;
  /**
   * samePosition / min size, counting only content tokens: special tokens, byte tokens and
   * one-character tokens are left out because conventions put them at the same ids in
   * unrelated vocabularies (every SentencePiece byte-fallback model starts with <unk>, <s>,
   * </s>, <0x00>..<0xFF>; byte-level BPEs start with the 256-byte alphabet).
   */
  samePositionContentFraction: number;
  /** Length of the longest identical id prefix (holes at the same id agree). */
  commonPrefix: number;
  relation: VocabularyRelationKind;
  mergesRelation?: 'identical' | 'prefix' | 'different';
}

/** Common ancestor: at least this fraction of the smaller vocabulary's content tokens sit at the same ids. */
export const COMMON_ANCESTOR_MIN_FRACTION = 0.5;
/**
 * Overlapping: at least this fraction of the smaller vocabulary's strings occur in the other.
 * Independently trained vocabularies on similar text share many short tokens (TN1: about 37%,
 * TN4: about 0.58 Jaccard), so this is a "same kind of text" signal, never lineage by itself.
 */
export const OVERLAPPING_MIN_CONTAINMENT = 0.2;

/**
 * Relation rules, first match wins (sizes count non-hole ids):
 * - identical: every id holds the same string (ids that are holes in both, trailing ones
 *   included, do not matter; special-token flags are not compared, strings are);
 * - a-extends-b: A is larger and every token of B sits at the same id in A (B is an id-prefix
 *   of A, or A fills B's holes); b-extends-a symmetrically;
 * - common-ancestor: at least COMMON_ANCESTOR_MIN_FRACTION of the smaller vocabulary's content
 *   tokens sit at the same ids in both (a long identical id prefix is the usual case; counting
 *   positions rather than the prefix keeps one edited token from hiding the lineage);
 * - overlapping: the larger containment reaches OVERLAPPING_MIN_CONTAINMENT;
 * - disjoint: otherwise.
 */
export function compareVocabularies(a: Vocabulary, b: Vocabulary): VocabularyRelation {
  const sizeA = countTokens(a);
  const sizeB = countTokens(b);
  const setA = distinctTokens(a.tokens);
  const setB = distinctTokens(b.tokens);
  let shared = 0;
  const [smallerSet, largerSet] = setA.size <= setB.size ? [setA, setB] : [setB, setA];
  for (const token of smallerSet) if (largerSet.has(token)) shared++;
  const union = setA.size + setB.size - shared;

  const specialIdsA = new Set(a.specialTokens.map((special) => special.id));
  const specialIdsB = new Set(b.specialTokens.map((special) => special.id));
  const overlappingIds = Math.min(a.tokens.length, b.tokens.length);
  let samePosition = 0;
  let samePositionContent = 0;
  let commonPrefix = -1;
  for (let id = 0; id < overlappingIds; id++) {
    const token = a.tokens[id]!;
    if (token === b.tokens[id]) {
      if (token === '') continue;
      samePosition++;
      if (!specialIdsA.has(id) && !specialIdsB.has(id) && !isAlphabetToken(token)) samePositionContent++;
    } else if (commonPrefix < 0) {
      commonPrefix = id;
    }
  }
  if (commonPrefix < 0) commonPrefix = overlappingIds;

  const minSize = Math.min(sizeA, sizeB);
  const minContentSize = Math.min(countContentTokens(a, specialIdsA), countContentTokens(b, specialIdsB));
  const relation: VocabularyRelation = {
    sizeA,
    sizeB,
    shared,
    jaccard: ratio(shared, union),
    containmentAinB: ratio(shared, setA.size),
    containmentBinA: ratio(shared, setB.size),
    samePosition,
    samePositionFraction: ratio(samePosition, minSize),
    samePositionContentFraction: ratio(samePositionContent, minContentSize),
    commonPrefix,
    relation: 'disjoint',
  };
  relation.relation = classify(relation);
  const mergesRelation = compareMerges(a.merges, b.merges);
  if (mergesRelation !== undefined) relation.mergesRelation = mergesRelation;
  return relation;
}

function classify(r: VocabularyRelation): VocabularyRelationKind {
  // Equal counts and every token of A at the same id in B: the occupied ids coincide too.
  if (r.sizeA === r.sizeB && r.samePosition === r.sizeA) return 'identical';
  if (r.samePosition === r.sizeB && r.sizeA > r.sizeB) return 'a-extends-b';
  if (r.samePosition === r.sizeA && r.sizeB > r.sizeA) return 'b-extends-a';
  if (r.samePositionContentFraction >= COMMON_ANCESTOR_MIN_FRACTION) return 'common-ancestor';
  if (Math.max(r.containmentAinB, r.containmentBinA) >= OVERLAPPING_MIN_CONTAINMENT) return 'overlapping';
  return 'disjoint';
}

function compareMerges(a: readonly string[], b: readonly string[]): VocabularyRelation['mergesRelation'] {
  if (a.length === 0 || b.length === 0) return undefined;
  const common = Math.min(a.length, b.length);
  for (let rank = 0; rank < common; rank++) if (a[rank] !== b[rank]) return 'different';
  return a.length === b.length ? 'identical' : 'prefix';
}

const BYTE_ESCAPE = /^<0x[0-9A-F]{2}>$/;

/** A byte token or a single character (optionally word-initial): part of every alphabet. */
function isAlphabetToken(token: string): boolean {
  if (BYTE_ESCAPE.test(token)) return true;
  const text = token.startsWith(' ') && token.length > 1 ? token.slice(1) : token;
  return text.length === 1 || (text.length === 2 && text.codePointAt(0)! > 0xffff);
}

function countContentTokens(vocabulary: Vocabulary, specialIds: ReadonlySet<number>): number {
  let count = 0;
  vocabulary.tokens.forEach((token, id) => {
    if (token !== '' && !specialIds.has(id) && !isAlphabetToken(token)) count++;
  });
  return count;
}

function distinctTokens(tokens: readonly string[]): Set<string> {
  const set = new Set(tokens);
  set.delete('');
  return set;
}

function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}
