// LL008: ids one or two edits away from a well-known id (typosquats such as `meta-lama/...`).
// Uses a built-in list until the registry can say which ids are well known.
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

/** Confusable characters folded before comparing, so `rn`/`m`, `0`/`o` and `1`/`l` swaps count as equal. */
function skeleton(id: string): string {
  return id.toLowerCase().replace(/rn/g, 'm').replace(/0/g, 'o').replace(/[1i|]/g, 'l').replace(/_/g, '-');
}

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
  wellKnownId: string;
  distance: number;
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
export function findLookAlike(repoId: string, wellKnown: readonly string[] = WELL_KNOWN_MODEL_IDS): LookAlike | undefined {
  const knownIds = prepared(wellKnown);
  const lower = repoId.toLowerCase();
  if (knownIds.some((known) => known.lower === lower)) return undefined;
  // A repo under a well-known organisation is published by that organisation: a sibling, not a squat
  // (`meta-llama/Llama-3.1-70B` is two edits from `...-8B`).
  const namespace = lower.includes('/') ? lower.split('/')[0] : undefined;
  if (namespace !== undefined && knownIds.some((known) => known.namespace === namespace)) return undefined;
  const idSkeleton = skeleton(repoId);
  let best: LookAlike | undefined;
  for (const known of knownIds) {
    const limit = known.lower.length >= 12 ? 2 : 0;
    const sameSkeleton = idSkeleton === known.skeleton;
    const distance = sameSkeleton ? Math.max(1, editDistance(lower, known.lower)) : editDistance(lower, known.lower, limit);
    if (distance > limit && !sameSkeleton) continue;
    if (!best || distance < best.distance) best = { wellKnownId: known.id, distance };
  }
  return best;
}
