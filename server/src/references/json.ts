// Finds the base model declared in adapter_config.json (PEFT) and config.json-style files, with
// exact string ranges, using a small offset-keeping JSON scanner that never throws on bad input.
import { siteFromSpan } from './candidates';
import type { LineIndex } from './textPositions';
import type { ModelReferenceSite } from './types';

export interface JsonString {
  type: 'string';
  value: string;
  /** Document offset of the opening quote. */
  start: number;
  /** Document offset just after the closing quote (or the end of the text if unterminated). */
  end: number;
  /** `offsets[i]` is the document offset of the source text that produced `value[i]`. */
  offsets: number[];
}
export interface JsonObject { type: 'object'; members: { key: JsonString; value: JsonValue }[]; start: number }
export interface JsonArray { type: 'array'; items: JsonValue[]; start: number }
export interface JsonScalar { type: 'scalar'; text: string; start: number }
export type JsonValue = JsonString | JsonObject | JsonArray | JsonScalar;

/** Nesting deeper than this is hostile, not a config file; recursion stops there. */
const MAX_JSON_DEPTH = 256;

class JsonSyntaxError extends Error {}

/**
 * Parses JSON and keeps offsets. On a syntax error it returns what was read so far (a half-typed
 * file still yields its complete members); undefined only if not even the first value started.
 */
export function parseJsonWithOffsets(text: string, baseOffset = 0): JsonValue | undefined {
  const scanner = new JsonScanner(text, baseOffset);
  let root: JsonValue | undefined;
  try {
    scanner.parseValue(0, (value) => { root = value; });
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
  }
  return root;
}

class JsonScanner {
  private index = 0;

  constructor(private readonly text: string, private readonly baseOffset: number) {}

  /** Calls `publish` as soon as a container exists, so that a later syntax error keeps its partial contents. */
  parseValue(depth: number, publish: (value: JsonValue) => void): void {
    if (depth > MAX_JSON_DEPTH) throw new JsonSyntaxError('too deep');
    this.skipWhitespace();
    const char = this.text[this.index];
    const start = this.baseOffset + this.index;
    if (char === '{') {
      const object: JsonObject = { type: 'object', members: [], start };
      publish(object);
      this.index++;
      this.skipWhitespace();
      if (this.text[this.index] === '}') { this.index++; return; }
      for (;;) {
        this.skipWhitespace();
        if (this.text[this.index] !== '"') throw new JsonSyntaxError('expected key');
        const key = this.parseString();
        this.skipWhitespace();
        if (this.text[this.index] !== ':') throw new JsonSyntaxError('expected colon');
        this.index++;
        this.parseValue(depth + 1, (value) => object.members.push({ key, value }));
        this.skipWhitespace();
        const separator = this.text[this.index++];
        if (separator === '}') return;
        if (separator !== ',') throw new JsonSyntaxError('expected comma');
      }
    }
    if (char === '[') {
      const array: JsonArray = { type: 'array', items: [], start };
      publish(array);
      this.index++;
      this.skipWhitespace();
      if (this.text[this.index] === ']') { this.index++; return; }
      for (;;) {
        this.parseValue(depth + 1, (value) => array.items.push(value));
        this.skipWhitespace();
        const separator = this.text[this.index++];
        if (separator === ']') return;
        if (separator !== ',') throw new JsonSyntaxError('expected comma');
      }
    }
    if (char === '"') { publish(this.parseString()); return; }
    const scalar = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(this.text.slice(this.index, this.index + 64));
    if (!scalar) throw new JsonSyntaxError('unexpected character');
    this.index += scalar[0].length;
    publish({ type: 'scalar', text: scalar[0], start });
  }

  private parseString(): JsonString {
    const start = this.index;
    let value = '';
    const offsets: number[] = [];
    let i = start + 1;
    while (i < this.text.length) {
      const char = this.text[i] ?? '';
      if (char === '"') {
        this.index = i + 1;
        return { type: 'string', value, start: this.baseOffset + start, end: this.baseOffset + i + 1, offsets };
      }
      if (char === '\n') break;
      if (char === '\\') {
        const escape = this.text[i + 1] ?? '';
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        const decoded = simple[escape];
        if (decoded !== undefined) {
          value += decoded;
          offsets.push(this.baseOffset + i);
          i += 2;
          continue;
        }
        const hex = /^u([0-9a-fA-F]{4})/.exec(this.text.slice(i + 1, i + 6));
        if (!hex) throw new JsonSyntaxError('bad escape');
        value += String.fromCharCode(parseInt(hex[1] ?? '0', 16));
        offsets.push(this.baseOffset + i);
        i += 6;
        continue;
      }
      value += char;
      offsets.push(this.baseOffset + i);
      i++;
    }
    throw new JsonSyntaxError('unterminated string');
  }

  private skipWhitespace(): void {
    while (this.index < this.text.length && ' \t\n\r'.includes(this.text[this.index] ?? '')) this.index++;
  }
}

/** Document span of a JSON string's value: the text between the quotes. */
export function jsonStringSpan(node: JsonString): { value: string; startOffset: number; endOffset: number } {
  return { value: node.value, startOffset: node.start + 1, endOffset: node.end - 1 };
}

function member(object: JsonObject, key: string): JsonValue | undefined {
  return object.members.find((candidate) => candidate.key.value === key)?.value;
}

/** Files that name the repository their weights were saved from, and the key that says so. */
const SAVED_FROM_KEYS: Record<string, string> = {
  'config.json': '_name_or_path',
  'model_index.json': '_name_or_path',
  'tokenizer_config.json': 'name_or_path',
};

export function findJsonReferences(text: string, baseName: string, lines: LineIndex): ModelReferenceSite[] {
  const root = parseJsonWithOffsets(text);
  if (root?.type !== 'object') return [];
  if (baseName === 'adapter_config.json') return adapterBaseModel(root, lines);
  const key = SAVED_FROM_KEYS[baseName];
  const value = key === undefined ? undefined : member(root, key);
  if (value?.type !== 'string') return [];
  const site = siteFromSpan(lines, jsonStringSpan(value), { loader: `${baseName.replace(/\.json$/, '')}.${key}`, kind: 'base-model-claim', strength: 'loader' });
  // `_name_or_path` is often the local folder the model was saved from; only Hub ids are claims.
  return site && site.reference?.kind === 'hub' ? [site] : [];
}

function adapterBaseModel(root: JsonObject, lines: LineIndex): ModelReferenceSite[] {
  const value = member(root, 'base_model_name_or_path');
  if (value?.type !== 'string') return [];
  const site = siteFromSpan(lines, jsonStringSpan(value), { loader: 'adapter_config.base_model_name_or_path', kind: 'base-model-claim', strength: 'loader' });
  if (!site) return [];
  const revision = member(root, 'revision');
  if (revision?.type === 'string' && revision.value !== '') {
    const span = jsonStringSpan(revision);
    site.revision = { value: revision.value, range: lines.rangeOf(span.startOffset, span.endOffset) };
  }
  return [site];
}
