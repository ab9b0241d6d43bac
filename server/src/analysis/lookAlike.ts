// LL008: ids one or two edits away from a well-known id (typosquats such as `meta-lama/...`), or equal to a
// known id or another reference of the document or workspace once confusable characters are folded (`-lnstruct`).
import type { WorkspaceId } from './workspaceReferenceIndex';

export const WELL_KNOWN_MODEL_IDS: readonly string[] = [
  'meta-llama/Llama-3.1-8B', 'meta-llama/Llama-3.1-8B-Instruct', 'meta-llama/Llama-3.2-1B', 'meta-llama/Llama-3.2-1B-Instruct',
  'meta-llama/Llama-3.2-3B-Instruct', 'meta-llama/Meta-Llama-3-8B', 'meta-llama/Meta-Llama-3-8B-Instruct', 'meta-llama/Llama-2-7b-hf',
  'meta-llama/Llama-2-7b-chat-hf', 'mistralai/Mistral-7B-v0.1', 'mistralai/Mistral-7B-Instruct-v0.2', 'mistralai/Mistral-7B-Instruct-v0.3',
  'mistralai/Mixtral-8x7B-Instruct-v0.1', 'Qwen/Qwen2.5-7B', 'Qwen/Qwen2.5-7B-Instruct', 'Qwen/Qwen2.5-0.5B-Instruct', 'Qwen/Qwen3-0.6B',
  'Qwen/Qwen2-1.5B', 'google/gemma-2-2b', 'google/gemma-2-9b-it', 'google/gemma-7b', 'microsoft/phi-2', 'microsoft/Phi-3-mini-4k-instruct',
  'tiiuae/falcon-7b', 'EleutherAI/gpt-neox-20b', 'EleutherAI/pythia-160m', 'bigscience/bloom', 'openai-community/gpt2',
  'openai-community/gpt2-medium', 'distilbert/distilgpt2', 'google-bert/bert-base-uncased', 'google-bert/bert-base-cased',
  'FacebookAI/roberta-base', 'distilbert/distilbert-base-uncased', 'google-t5/t5-small', 'sentence-transformers/all-MiniLM-L6-v2',
  'sentence-transformers/all-mpnet-base-v2', 'BAAI/bge-small-en-v1.5', 'BAAI/bge-large-en-v1.5', 'intfloat/e5-large-v2',
  'openai/whisper-large-v3', 'openai/clip-vit-base-patch32', 'stabilityai/stable-diffusion-xl-base-1.0', 'runwayml/stable-diffusion-v1-5',
  'deepseek-ai/DeepSeek-R1', 'deepseek-ai/deepseek-coder-6.7b-instruct', 'HuggingFaceH4/zephyr-7b-beta', 'TinyLlama/TinyLlama-1.1B-Chat-v1.0',
  'gpt2', 'bert-base-uncased', 'roberta-base', 't5-small', 'distilbert-base-uncased',
];

/**
 * Confusable characters folded before comparing: case, `rn`/`m`, `vv`/`w`, `0`/`O`, `1`/`I`/`l`/`|`,
 * `5`/`S`, `_`/`-`, and the Cyrillic and Greek letters that render as Latin ones.
 */
export function skeleton(id: string): string {
  return id
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u03bf\u03b1\u03b9]/g, (c) => LATIN_LOOKALIKES[c] ?? c)
    .replace(/rn/g, 'm')
    .replace(/vv/g, 'w')
    .replace(/0/g, 'o')
    .replace(/[1i|!]/g, 'l')
    .replace(/5/g, 's')
    .replace(/_/g, '-');
}

/** Cyrillic а е о р с у х і and Greek ο α ι: the Latin letter each renders as. */
const LATIN_LOOKALIKES: Readonly<Record<string, string>> = {
  '\u0430': 'a', '\u0435': 'e', '\u043e': 'o', '\u0440': 'p', '\u0441': 'c', '\u0443': 'y', '\u0445': 'x', '\u0456': 'i', '\u03bf': 'o', '\u03b1': 'a', '\u03b9': 'i',
};

/** Levenshtein distance with an early exit once every cell exceeds `limit`. */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMinimum = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      current.push(value);
      rowMinimum = Math.min(rowMinimum, value);
    }
    if (rowMinimum > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length]!;
}

export interface LookAlike {
  /** The id this one imitates: a well-known or registered id, or another reference of the document. */
  wellKnownId: string;
  distance: number;
  /** 'confusable': equal once look-alike characters are folded; 'edit': one or two edits apart. */
  how: 'confusable' | 'edit';
  /** The imitated id comes from the same document, not from the well-known list. */
  fromDocument?: true;
  /** The imitated id comes from another document of the workspace, not from the well-known list. */
  fromWorkspace?: true;
  /** Workspace-relative path of another document referencing the imitated id (absent when this document does). */
  referencedIn?: string;
}

interface KnownId {
  id: string;
  lower: string;
  skeleton: string;
  /** Organisation of an `org/name` id; bare legacy ids (`gpt2`) have none. */
  namespace?: string;
}

/** Lowered forms and skeletons of a list, computed once per list: a generated file asks for every reference. */
const preparedLists = new WeakMap<readonly string[], KnownId[]>();

function prepared(wellKnown: readonly string[]): KnownId[] {
  let list = preparedLists.get(wellKnown);
  if (!list) {
    list = wellKnown.map((id) => {
      const lower = id.toLowerCase();
      const known: KnownId = { id, lower, skeleton: skeleton(id) };
      if (lower.includes('/')) known.namespace = lower.split('/')[0]!;
      return known;
    });
    preparedLists.set(wellKnown, list);
  }
  return list;
}

/**
 * The well-known id this one imitates, if any: not equal (ignoring case, which the Hub ignores too),
 * but within two edits, or equal once confusable characters are folded. Short ids need exact
 * skeleton equality, since two edits turn `gpt2` into many legitimate names.
 */
export function findLookAlike(
  repoId: string,
  wellKnown: readonly string[] = WELL_KNOWN_MODEL_IDS,
  documentIds: readonly string[] = [],
  workspaceIds: readonly WorkspaceId[] = [],
): LookAlike | undefined {
  const knownIds = prepared(wellKnown);
  const lower = repoId.toLowerCase();
  if (knownIds.some((known) => known.lower === lower)) return undefined;
  const idSkeleton = skeleton(repoId);
  // Look-alike characters fool a reader even inside a well-known organisation (`meta-llama/…-lnstruct`).
  const confusable = knownIds.find((known) => known.skeleton === idSkeleton);
  if (confusable) {
    const found: LookAlike = { wellKnownId: confusable.id, distance: Math.max(1, editDistance(lower, confusable.lower)), how: 'confusable' };
    // Where the reader saw the real id, when another file has it and this one does not.
    const elsewhere = documentIds.some((other) => other.toLowerCase() === confusable.lower) ? undefined : workspaceIds.find((other) => other.id.toLowerCase() === confusable.lower);
    if (elsewhere) found.referencedIn = elsewhere.referencedIn;
    return found;
  }
  // Another reference of the same document, or of another document of the workspace, that differs only in
  // look-alike characters: a typo or a squat of the id written there. Siblings that differ in real
  // characters (`-1B`, `-3B`, `gpt2` and `gpt2-xl`) have different skeletons and are not flagged.
  const imitates = (other: string): boolean => other.toLowerCase() !== lower && skeleton(other) === idSkeleton && !isConfusableOfKnown(other, knownIds) && oddness(other) <= oddness(repoId);
  const neighbour = documentIds.find(imitates);
  if (neighbour) return { wellKnownId: neighbour, distance: Math.max(1, editDistance(lower, neighbour.toLowerCase())), how: 'confusable', fromDocument: true };
  const inWorkspace = workspaceIds.find((other) => imitates(other.id));
  if (inWorkspace) return { wellKnownId: inWorkspace.id, distance: Math.max(1, editDistance(lower, inWorkspace.id.toLowerCase())), how: 'confusable', fromWorkspace: true, referencedIn: inWorkspace.referencedIn };
  // A repo under a well-known organisation is published by that organisation: a sibling, not a squat
  // (`meta-llama/Llama-3.1-70B` is two edits from `...-8B`).
  const namespace = lower.includes('/') ? lower.split('/')[0] : undefined;
  if (namespace !== undefined && knownIds.some((known) => known.namespace === namespace)) return undefined;
  let best: LookAlike | undefined;
  for (const known of knownIds) {
    const limit = known.lower.length >= 12 ? 2 : 0;
    if (limit === 0) continue;
    const distance = editDistance(lower, known.lower, limit);
    if (distance > limit) continue;
    if (!best || distance < best.distance) best = { wellKnownId: known.id, distance, how: 'edit' };
  }
  return best;
}

/**
 * How many characters of an id are unusual where they stand: non-ASCII letters, digits inside words, and
 * a lower-case `l` opening a word before a consonant (`-lnstruct`: no English word starts so; `ll` and `ly` do).
 */
function oddness(id: string): number {
  return (id.match(/[^\x00-\x7f]/g)?.length ?? 0) + (id.match(/[a-z][0-9|!][a-z]/gi)?.length ?? 0) + (id.match(/(?:^|[^A-Za-z])l[bcdfghjkmnpqrstvwxz]/g)?.length ?? 0);
}

/** An id that is itself a look-alike of a known id is no model to imitate: the known one is. */
function isConfusableOfKnown(id: string, knownIds: readonly KnownId[]): boolean {
  const lower = id.toLowerCase();
  const idSkeleton = skeleton(id);
  return knownIds.some((known) => known.skeleton === idSkeleton && known.lower !== lower);
}
