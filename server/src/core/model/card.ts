// Reads a model card (README.md): the YAML front matter the Hub uses for lineage (`base_model`,
// `base_model_relation`, license, datasets, tags) and base models named in the card's prose.
import { parseDocument } from 'yaml';
import { readMetadataTextFile } from './config';
import { parseModelReference, type ModelReference } from './reference';
import { flowNestingExceeds, MAX_FLOW_NESTING } from '../util/yamlSafety';
import { appendAll } from '../util/arrays';

export interface ModelCardMetadata {
  /** `base_model` as a list (the Hub accepts a string or a list), trimmed, duplicates removed. */
  baseModels: string[];
  baseModelRelation?: 'adapter' | 'merge' | 'quantized' | 'finetune' | string;
  license?: string | string[];
  licenseName?: string;
  datasets?: string[];
  tags?: string[];
  libraryName?: string;
  pipelineTag?: string;
  raw: Record<string, unknown>;
}

/** A base model named in the card's text, e.g. "a fine-tuned version of [x](https://huggingface.co/x)". */
export interface ProseBaseModel {
  repoId: string;
  /** Relation implied by the wording ('finetune', 'quantized', 'merge'), if any. */
  relation?: string;
  /** The sentence fragment that names it, for hovers and reports. */
  excerpt: string;
  /** Offset of the excerpt in the card text. */
  offset: number;
}

export interface ModelCard {
  file: string;
  /** Undefined when the card has no front matter or it could not be parsed (see warnings). */
  metadata?: ModelCardMetadata;
  proseBaseModels: ProseBaseModel[];
  warnings: string[];
}

export interface FrontMatter {
  yaml: string;
  /** Offset of the YAML text in the card. */
  yamlOffset: number;
  /** Offset of the first character after the closing `---` line. */
  bodyOffset: number;
}

/** Front matter beyond this is not metadata someone wrote; the Hub's own cards are a few KB. */
export const MAX_FRONT_MATTER_BYTES = 512 * 1024;
/** YAML aliases resolved per card; real cards use none, so this only stops expansion attacks. */
export const MAX_YAML_ALIASES = 50;
const MAX_LIST_ITEMS = 1_000;
const MAX_PROSE_MATCHES = 32;

/**
 * The `---` block at the very top of the card (after an optional BOM), ended by the next line
 * that is exactly `---`. Handles CRLF. Undefined when the card does not start with one.
 */
export function extractFrontMatter(text: string): FrontMatter | undefined {
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const opening = /^---[ \t]*\r?\n/.exec(text.slice(start, start + 64));
  if (!opening) return undefined;
  const yamlOffset = start + opening[0].length;
  const closing = /^---[ \t]*(?:\r?\n|$)/gm;
  closing.lastIndex = yamlOffset;
  const match = closing.exec(text);
  if (!match) return undefined;
  return { yaml: text.slice(yamlOffset, match.index), yamlOffset, bodyOffset: match.index + match[0].length };
}

/**
 * Parses front-matter YAML into card metadata. Bad or hostile YAML (syntax errors, custom tags,
 * alias bombs, a non-mapping top level) gives warnings and no metadata, never an exception.
 */
export function parseCardMetadata(yamlText: string): { metadata?: ModelCardMetadata; warnings: string[] } {
  const warnings: string[] = [];
  if (yamlText.length > MAX_FRONT_MATTER_BYTES) {
    return { warnings: [`card front matter is ${yamlText.length} characters; over ${MAX_FRONT_MATTER_BYTES}, not parsed`] };
  }
  if (flowNestingExceeds(yamlText, MAX_FLOW_NESTING)) {
    return { warnings: [`card front matter nests brackets deeper than ${MAX_FLOW_NESTING} levels; not parsed`] };
  }
  let raw: unknown;
  try {
    // Core schema, no custom tags, and known YAML 1.1 tags (!!binary, !!set, ...) left unresolved:
    // every tagged value stays a plain string or collection, with a warning.
    const doc = parseDocument(yamlText, {
      schema: 'core',
      customTags: [],
      resolveKnownTags: false,
      merge: false,
      uniqueKeys: true,
      prettyErrors: false,
      strict: true,
    });
    if (doc.errors.length > 0) {
      return { warnings: distinct(doc.errors.map((e) => `card front matter is not valid YAML: ${firstLine(e.message)}`)) };
    }
    appendAll(warnings, distinct(doc.warnings.map((w) => `card front matter: ${firstLine(w.message)}`)));
    raw = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    // yaml throws (a ReferenceError) when aliases expand beyond maxAliasCount.
    return { warnings: [...warnings, `card front matter could not be read: ${firstLine(err instanceof Error ? err.message : String(err))}`] };
  }
  if (raw === null || raw === undefined) return { metadata: { baseModels: [], raw: {} }, warnings };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return { warnings: [...warnings, 'card front matter is not a YAML mapping'] };
  }
  const record = raw as Record<string, unknown>;
  const metadata: ModelCardMetadata = { baseModels: stringOrList(record['base_model']) ?? [], raw: record };
  const relation = record['base_model_relation'];
  if (typeof relation === 'string' && relation.trim() !== '') metadata.baseModelRelation = relation.trim();
  const license = record['license'];
  if (typeof license === 'string') metadata.license = license;
  else if (Array.isArray(license)) metadata.license = stringOrList(license) ?? [];
  assignString(metadata, 'licenseName', record['license_name']);
  assignString(metadata, 'libraryName', record['library_name']);
  assignString(metadata, 'pipelineTag', record['pipeline_tag']);
  const datasets = stringOrList(record['datasets']);
  if (datasets) metadata.datasets = datasets;
  const tags = stringOrList(record['tags']);
  if (tags) metadata.tags = tags;
  return { metadata, warnings };
}

/** At most five distinct messages: a hostile document can produce thousands of the same one. */
function distinct(messages: string[]): string[] {
  return [...new Set(messages)].slice(0, 5);
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0]!.slice(0, 300);
}

function assignString(target: ModelCardMetadata, key: 'licenseName' | 'libraryName' | 'pipelineTag', value: unknown): void {
  if (typeof value === 'string' && value.trim() !== '') target[key] = value.trim();
}

/** A string or list of strings as a deduplicated list; non-strings dropped; undefined when absent. */
function stringOrList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const items = Array.isArray(value) ? value.slice(0, MAX_LIST_ITEMS) : [value];
  const out: string[] = [];
  for (const item of items) {
    const text = typeof item === 'string' ? item.trim() : typeof item === 'number' ? String(item) : undefined;
    if (text && !out.includes(text)) out.push(text);
  }
  return out;
}

/**
 * Wording that introduces a parent model, then a Markdown link to it on the Hub. Every quantifier
 * is bounded, so backtracking per start position is bounded and hostile text stays linear.
 */
const PROSE_BASE_MODEL = new RegExp(
  String.raw`\b(fine-?tuned (?:version )?(?:of|from)|fine-?tuned on top of|quanti[sz]ed (?:version )?of|GGUF (?:format )?(?:model )?files? for|merge of|pre-?trained|based on|base model:?)` +
    String.raw`[ \t]{1,4}(?:the[ \t]{1,4})?\[[ \t]{0,4}\x60?([^\]\n\x60]{1,200})\x60?[ \t]{0,4}\]\([ \t]{0,4}<?(https?://(?:www\.)?(?:huggingface\.co|hf\.co)/[^)\s>]{1,400})>?[ \t]{0,4}\)`,
  'gi',
);

function relationFromWording(wording: string): string | undefined {
  const lower = wording.toLowerCase();
  if (lower.startsWith('fine')) return 'finetune';
  if (lower.startsWith('quanti') || lower.startsWith('gguf')) return 'quantized';
  if (lower.startsWith('merge')) return 'merge';
  return undefined;
}

/**
 * `[gpt2](https://huggingface.co/gpt2)`: a one-segment URL is normally a user page, but when the
 * link text is that same name after parent-model wording, it is a legacy (un-namespaced) model id.
 */
function legacyIdLink(linkText: string, url: string): ModelReference | undefined {
  const name = /^https?:\/\/(?:www\.)?(?:huggingface\.co|hf\.co)\/([^/?#]+)\/?$/i.exec(url)?.[1];
  if (name === undefined || name !== linkText.trim()) return undefined;
  const reference = parseModelReference(name);
  return reference?.kind === 'hub' && reference.source === 'id' && reference.revision === undefined ? reference : undefined;
}

/** Base models the card's text names with a Hub link ("We used the pretrained [x](https://huggingface.co/x) model"). */
export function findProseBaseModels(text: string, startOffset = 0): ProseBaseModel[] {
  const found: ProseBaseModel[] = [];
  const regex = new RegExp(PROSE_BASE_MODEL.source, PROSE_BASE_MODEL.flags);
  regex.lastIndex = startOffset;
  for (let match = regex.exec(text); match !== null && found.length < MAX_PROSE_MATCHES; match = regex.exec(text)) {
    const reference = parseModelReference(match[3]!) ?? legacyIdLink(match[2]!, match[3]!);
    if (reference?.kind !== 'hub' || reference.repoType !== 'model') continue;
    // Cards name their base again further down ("We use the pretrained ..."); keep the first mention.
    if (found.some((f) => f.repoId.toLowerCase() === reference.repoId.toLowerCase())) continue;
    const item: ProseBaseModel = { repoId: reference.repoId, excerpt: match[0], offset: match.index };
    const relation = relationFromWording(match[1]!);
    if (relation !== undefined) item.relation = relation;
    found.push(item);
  }
  return found;
}

/** Parses a whole card text (front matter + prose). */
export function parseModelCard(text: string, file: string): ModelCard {
  const frontMatter = extractFrontMatter(text);
  const card: ModelCard = { file, proseBaseModels: findProseBaseModels(text, frontMatter?.bodyOffset ?? 0), warnings: [] };
  if (frontMatter) {
    const { metadata, warnings } = parseCardMetadata(frontMatter.yaml);
    if (metadata) card.metadata = metadata;
    appendAll(card.warnings, warnings);
  }
  return card;
}

/** Reads `README.md` of a model folder (bounded, contained); undefined when there is none. */
export async function readModelCard(folder: string, name = 'README.md'): Promise<ModelCard | undefined> {
  const read = await readMetadataTextFile(folder, name);
  return read && parseModelCard(read.text, read.file);
}
