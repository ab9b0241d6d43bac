// Finds model ids in YAML configs with exact ranges: Axolotl, LLaMA-Factory, mergekit, KServe,
// docker compose and Kubernetes manifests (env blocks and command/args lines); multi-document aware.
import { isMap, isPair, isScalar, isSeq, parseAllDocuments, type Document, type Node, type Scalar } from 'yaml';
import { siteFromSpan } from './candidates';
import { applyRevisionAndTrust, findCommandReferences, findEnvironmentReferences, sliceWord, tokenizeCommands, verbatimWord, withoutInsertion, type CommandWord, type EnvironmentAssignment } from './commandLine';
import type { LineIndex } from './textPositions';
import type { ModelReferenceSite, Range, ReferenceKind, RevisionSite } from './types';
import { urlSite } from './urls';
import { flowNestingExceeds, MAX_FLOW_NESTING } from '../core/util/yamlSafety';
import { appendAll } from '../core/util/arrays';

/** Real configs nest a few levels; deeper structures are skipped rather than walked. */
const MAX_YAML_DEPTH = 64;
/**
 * Parses every document of a YAML stream; a YAML error yields what the parser recovered, never a throw.
 * The finders walk the node tree and never convert it to JS values, so an alias is never expanded
 * (a billion-laughs document costs no more than its text).
 */
export function parseYamlDocuments(text: string): Document.Parsed[] {
  // The yaml package aborts the whole process (a V8 out-of-memory, not an exception) on a few
  // thousand nested flow collections, so such documents are refused before parsing.
  if (flowNestingExceeds(text, MAX_FLOW_NESTING)) return [];
  try {
    return parseAllDocuments(text, { prettyErrors: false, uniqueKeys: false }) as Document.Parsed[];
  } catch {
    return [];
  }
}

/**
 * The string value of a one-line scalar as a word with document offsets (`baseOffset` is where the
 * parsed text starts in the document). When escapes make the value differ from its source, the
 * offsets are spread over the source so that the range still covers the literal's content.
 */
export function scalarWord(node: Scalar, parsedText: string, baseOffset: number): CommandWord | undefined {
  if (typeof node.value !== 'string' || !node.range) return undefined;
  if (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') return undefined;
  const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
  const sourceStart = node.range[0] + (quoted ? 1 : 0);
  const sourceEnd = Math.max(sourceStart, node.range[1] - (quoted ? 1 : 0));
  const source = parsedText.slice(sourceStart, sourceEnd);
  if (source === node.value) return verbatimWord(node.value, baseOffset + sourceStart);
  const lastIndex = Math.max(0, source.length - 1);
  return {
    value: node.value,
    offsets: Array.from({ length: node.value.length }, (_, i) => baseOffset + sourceStart + Math.min(i, lastIndex)),
    end: baseOffset + sourceEnd,
  };
}

/** Splits a word on a separator (`a,b` lists, mergekit `base+lora`), trimming spaces around items. */
export function splitWord(word: CommandWord, separator: string): CommandWord[] {
  const parts: CommandWord[] = [];
  let start = 0;
  for (let i = 0; i <= word.value.length; i++) {
    if (i < word.value.length && word.value[i] !== separator) continue;
    let itemStart = start;
    let itemEnd = i;
    while (itemStart < itemEnd && /\s/.test(word.value[itemStart] ?? '')) itemStart++;
    while (itemEnd > itemStart && /\s/.test(word.value[itemEnd - 1] ?? '')) itemEnd--;
    if (itemEnd > itemStart) {
      const lastOffset = word.offsets[itemEnd - 1] ?? word.end - 1;
      parts.push({ value: word.value.slice(itemStart, itemEnd), offsets: word.offsets.slice(itemStart, itemEnd), end: lastOffset + 1 });
    }
    start = i + 1;
  }
  return parts;
}

export function wordSite(word: CommandWord, lines: LineIndex, loader: string, kind: ReferenceKind, strength: 'loader' | 'hint'): ModelReferenceSite | undefined {
  const startOffset = word.offsets[0] ?? word.end;
  const lastOffset = word.offsets[word.value.length - 1];
  const endOffset = lastOffset === undefined ? startOffset : lastOffset + 1;
  return siteFromSpan(lines, { value: word.value, startOffset, endOffset }, { loader, kind, strength });
}

interface KeyRule {
  loader: (tool: string) => string;
  kind: ReferenceKind;
  strength: 'loader' | 'hint';
  /** LLaMA-Factory accepts `adapter_name_or_path: a,b`. */
  commaList?: boolean;
}

const ID_KEYS: Record<string, KeyRule> = {
  base_model: { loader: (tool) => `${tool}.base_model`, kind: 'model', strength: 'loader' },
  base_model_config: { loader: () => 'axolotl.base_model_config', kind: 'model', strength: 'loader' },
  tokenizer_config: { loader: () => 'axolotl.tokenizer_config', kind: 'model', strength: 'hint' },
  model_name_or_path: { loader: () => 'llama-factory.model_name_or_path', kind: 'model', strength: 'loader' },
  adapter_name_or_path: { loader: () => 'llama-factory.adapter_name_or_path', kind: 'adapter', strength: 'loader', commaList: true },
  model_id: { loader: (tool) => `${tool}.model_id`, kind: 'model', strength: 'hint' },
  hf_model_id: { loader: (tool) => `${tool}.hf_model_id`, kind: 'model', strength: 'hint' },
};
/** Keys whose value pins the revision of the ids beside them (Axolotl, LLaMA-Factory). */
const REVISION_KEYS = new Set(['revision_of_model', 'model_revision', 'revision']);
const COMMAND_KEYS = new Set(['command', 'args', 'entrypoint', 'cmd']);

interface WalkContext {
  parsedText: string;
  baseOffset: number;
  lines: LineIndex;
  tool: string;
  sites: ModelReferenceSite[];
}

export function findYamlReferences(text: string, lines: LineIndex): ModelReferenceSite[] {
  const sites: ModelReferenceSite[] = [];
  for (const document of parseYamlDocuments(text)) {
    const contents = document.contents;
    const context: WalkContext = { parsedText: text, baseOffset: 0, lines, tool: detectTool(contents), sites };
    walkNode(contents, [], context, 0);
  }
  return sites;
}

/** Names the tool a document configures, for loader names: mergekit and Axolotl share `base_model`. */
function detectTool(contents: unknown): string {
  if (!isMap(contents)) return 'yaml';
  const keys = new Set(contents.items.map((pair) => (isScalar(pair.key) ? String(pair.key.value) : '')));
  if (keys.has('merge_method') || keys.has('slices') || keys.has('models')) return 'mergekit';
  if (keys.has('model_name_or_path') || keys.has('stage') || keys.has('finetuning_type')) return 'llama-factory';
  if (keys.has('base_model')) return 'axolotl';
  return 'yaml';
}

function walkNode(node: unknown, path: string[], context: WalkContext, depth: number): void {
  if (depth > MAX_YAML_DEPTH) return;
  if (isSeq(node)) {
    for (const item of node.items) walkNode(item, path, context, depth + 1);
    return;
  }
  if (!isMap(node)) return;
  const mapSites: ModelReferenceSite[] = [];
  let revision: RevisionSite | undefined;
  let trustRange: Range | undefined;
  for (const pair of node.items) {
    if (!isPair(pair) || !isScalar(pair.key)) continue;
    const key = String(pair.key.value);
    const value = pair.value;
    const rule = ID_KEYS[key];
    if (rule && isScalar(value)) {
      appendAll(mapSites, idSites(value, context, rule.loader(context.tool), rule.kind, rule.strength, rule.commaList ?? false));
    } else if (rule && isSeq(value)) {
      for (const item of value.items) if (isScalar(item)) appendAll(mapSites, idSites(item, context, rule.loader(context.tool), rule.kind, rule.strength, false));
    } else if (key === 'model' && isScalar(value) && (path.at(-1) === 'models' || path.at(-1) === 'sources')) {
      const loader = path.at(-1) === 'models' ? 'mergekit.models.model' : 'mergekit.slices.sources.model';
      appendAll(mapSites, mergekitModelSites(value, context, loader));
    } else if (key === 'path' && isScalar(value) && path.includes('datasets')) {
      appendAll(mapSites, idSites(value, context, 'axolotl.datasets.path', 'dataset', 'hint', false));
    } else if (key === 'storageUri' || key === 'storageUris') {
      const uris = isSeq(value) ? value.items : [value];
      for (const uri of uris) {
        const word = isScalar(uri) ? scalarWord(uri, context.parsedText, context.baseOffset) : undefined;
        const site = word && urlSite(word.value, word.offsets[0] ?? word.end, context.lines, { loader: `kserve.${key}` });
        if (site) mapSites.push(site);
      }
    } else if (REVISION_KEYS.has(key) && isScalar(value)) {
      const word = scalarWord(value, context.parsedText, context.baseOffset);
      if (word && word.value !== '') revision = { value: word.value, range: wordRange(word, context.lines) };
    } else if (key === 'trust_remote_code' && isScalar(value) && value.value === true) {
      trustRange = nodeRange(pair.key, value, context);
    } else if (key === 'env' || key === 'environment') {
      environmentSites(value, context);
    } else if (COMMAND_KEYS.has(key)) {
      commandSites(value, context);
    } else {
      walkNode(value, [...path, key], context, depth + 1);
    }
  }
  applyRevisionAndTrust(mapSites, revision, trustRange);
  appendAll(context.sites, mapSites);
}

function idSites(node: Scalar, context: WalkContext, loader: string, kind: ReferenceKind, strength: 'loader' | 'hint', commaList: boolean): ModelReferenceSite[] {
  const word = scalarWord(node, context.parsedText, context.baseOffset);
  if (!word) return [];
  const words = commaList ? splitWord(word, ',') : [word];
  return words.flatMap((item) => wordSite(item, context.lines, loader, kind, strength) ?? []);
}

/** mergekit writes `model: org/base+org/lora` for a base with a LoRA applied. */
function mergekitModelSites(node: Scalar, context: WalkContext, loader: string): ModelReferenceSite[] {
  const word = scalarWord(node, context.parsedText, context.baseOffset);
  if (!word) return [];
  const [base, ...adapters] = splitWord(word, '+');
  const sites: ModelReferenceSite[] = [];
  const baseSite = base && wordSite(base, context.lines, loader, 'model', 'loader');
  if (baseSite) sites.push(baseSite);
  for (const adapter of adapters) {
    const adapterSite = wordSite(adapter, context.lines, loader, 'adapter', 'loader');
    if (adapterSite) sites.push(adapterSite);
  }
  return sites;
}

/** Compose `environment:` (map or `KEY=value` list) and Kubernetes `env: [{name, value}]`. */
function environmentSites(node: unknown, context: WalkContext): void {
  const assignments: EnvironmentAssignment[] = [];
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair) || !isScalar(pair.key) || !isScalar(pair.value)) continue;
      const word = scalarWord(pair.value, context.parsedText, context.baseOffset);
      if (word) assignments.push({ name: String(pair.key.value), value: word, range: nodeRange(pair.key, pair.value, context) });
    }
  } else if (isSeq(node)) {
    for (const item of node.items) {
      if (isScalar(item)) {
        const word = scalarWord(item, context.parsedText, context.baseOffset);
        const equals = word?.value.indexOf('=') ?? -1;
        if (word && equals > 0) assignments.push({ name: word.value.slice(0, equals), value: sliceWord(word, equals + 1), range: wordRange(word, context.lines) });
      } else if (isMap(item)) {
        const name = item.get('name');
        const value = item.get('value', true);
        if (typeof name !== 'string' || !isScalar(value)) continue;
        const word = scalarWord(value, context.parsedText, context.baseOffset);
        if (word) assignments.push({ name, value: word, range: nodeRange(item, value, context) });
      }
    }
  }
  const environment = findEnvironmentReferences(assignments, context.lines);
  applyRevisionAndTrust(environment.sites, environment.revision, environment.trustRemoteCodeRange);
  appendAll(context.sites, environment.sites);
}

/** `command:`/`args:` as a list (one word per item; an item with spaces is a script) or as one string. */
function commandSites(node: unknown, context: WalkContext): void {
  if (isScalar(node)) {
    const source = scalarSource(node, context);
    if (source) appendAll(context.sites, findCommandReferences(tokenizeCommands(source.text, source.offset), context.lines));
    return;
  }
  if (!isSeq(node)) return;
  const words: CommandWord[] = [];
  for (const item of node.items) {
    if (!isScalar(item)) continue;
    const word = scalarWord(item, context.parsedText, context.baseOffset);
    if (!word) continue;
    if (/\s/.test(word.value)) {
      const source = scalarSource(item, context);
      if (source) appendAll(context.sites, findCommandReferences(tokenizeCommands(source.text, source.offset), context.lines));
    } else {
      words.push(word);
    }
  }
  appendAll(context.sites, withoutInsertion(findCommandReferences([words], context.lines)));
}

/** The raw source of a scalar for shell tokenizing; block scalars keep their indentation, which is just whitespace to a shell. */
function scalarSource(node: Scalar, context: WalkContext): { text: string; offset: number } | undefined {
  if (typeof node.value !== 'string' || !node.range) return undefined;
  let start = node.range[0];
  let end = node.range[1];
  if (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') {
    start++;
    end--;
  } else if (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') {
    const headerEnd = context.parsedText.indexOf('\n', start);
    start = headerEnd === -1 ? end : headerEnd + 1;
  }
  if (end <= start) return undefined;
  return { text: context.parsedText.slice(start, end), offset: context.baseOffset + start };
}

function wordRange(word: CommandWord, lines: LineIndex): Range {
  return lines.rangeOf(word.offsets[0] ?? word.end, word.end);
}

function nodeRange(from: Node, to: Node, context: WalkContext): Range {
  const start = from.range?.[0] ?? 0;
  const end = to.range?.[1] ?? from.range?.[1] ?? start;
  return context.lines.rangeOf(context.baseOffset + start, context.baseOffset + end);
}
