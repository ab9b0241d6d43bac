// Linear scans of JSON text without building objects: where a nested value sits, and the entries of
// a huge flat object. JSON.parse turns a million-key object into a slow dictionary (seconds, hundreds
// of MB); tokenizer vocabularies are exactly that, so their readers use these scans instead.

/** Thrown for text that is not JSON; callers wrap it into an error naming the file. */
export class JsonScanError extends Error {}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Characters that end a number or literal. */
function isDelimiter(c: number): boolean {
  return WHITESPACE.has(c) || c === 0x2c || c === 0x3a || c === 0x5d || c === 0x7d || c === 0x5b || c === 0x7b || c === 0x22;
}

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && WHITESPACE.has(text.charCodeAt(i))) i++;
  return i;
}

/** Index just past the string literal starting at `i` (which must be a quote). */
function skipString(text: string, i: number): number {
  if (text.charCodeAt(i) !== 0x22) throw new JsonScanError(`expected a string at ${i}`);
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x5c) j++;
    else if (c === 0x22) return j + 1;
  }
  throw new JsonScanError('unterminated string');
}

/** Index just past the value starting at `i` (whitespace skipped first); iterative, so nesting cannot overflow. */
export function skipValue(text: string, i: number): number {
  i = skipWhitespace(text, i);
  let depth = 0;
  for (;;) {
    if (i >= text.length) throw new JsonScanError('unexpected end of text');
    const c = text.charCodeAt(i);
    if (c === 0x22) i = skipString(text, i);
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      i++;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      i++;
    } else if (c === 0x2c || c === 0x3a || WHITESPACE.has(c)) {
      if (depth === 0) return i;
      i++;
    } else {
      // number, true, false, null
      const start = i;
      while (i < text.length && !isDelimiter(text.charCodeAt(i))) i++;
      if (i === start) throw new JsonScanError(`unexpected character at ${i}`);
    }
    if (depth === 0) return i;
    if (depth < 0) throw new JsonScanError(`unbalanced brackets at ${i}`);
  }
}

/** Text of a string literal at [start, end) decoded (JSON.parse only when it has escapes). */
function decodeString(text: string, start: number, end: number): string {
  const inner = text.slice(start + 1, end - 1);
  return inner.includes('\\') ? (JSON.parse(text.slice(start, end)) as string) : inner;
}

/** Calls `visit(key, valueStart, valueEnd)` for each member of the object at `i`; returns the index past it. */
export function scanObject(text: string, i: number, visit: (key: string, valueStart: number, valueEnd: number) => void): number {
  i = skipWhitespace(text, i);
  if (text.charCodeAt(i) !== 0x7b) throw new JsonScanError(`expected an object at ${i}`);
  i = skipWhitespace(text, i + 1);
  if (text.charCodeAt(i) === 0x7d) return i + 1;
  for (;;) {
    const keyEnd = skipString(text, i);
    const key = decodeString(text, i, keyEnd);
    i = skipWhitespace(text, keyEnd);
    if (text.charCodeAt(i) !== 0x3a) throw new JsonScanError(`expected ':' at ${i}`);
    const valueStart = skipWhitespace(text, i + 1);
    const valueEnd = skipValue(text, valueStart);
    visit(key, valueStart, valueEnd);
    i = skipWhitespace(text, valueEnd);
    const c = text.charCodeAt(i);
    if (c === 0x7d) return i + 1;
    if (c !== 0x2c) throw new JsonScanError(`expected ',' or '}' at ${i}`);
    i = skipWhitespace(text, i + 1);
  }
}

/** [start, end) of the value reached by the object keys `path` from the top-level object, or undefined. */
export function findValueSpan(text: string, path: readonly string[]): { start: number; end: number } | undefined {
  let span: { start: number; end: number } | undefined = { start: skipWhitespace(text, 0), end: text.length };
  for (const key of path) {
    if (span === undefined || text.charCodeAt(span.start) !== 0x7b) return undefined;
    let found: { start: number; end: number } | undefined;
    // The last duplicate wins, as in JSON.parse.
    scanObject(text, span.start, (k, start, end) => {
      if (k === key) found = { start, end };
    });
    span = found;
  }
  return span;
}

/**
 * The members of the flat object at `start` as a Map (duplicates: the last value wins, as in
 * JSON.parse). Values are parsed with JSON.parse individually (they are small: ids or scores).
 * Stops with JsonScanError past `maxEntries` distinct keys, so memory stays bounded.
 */
export function flatObjectEntries(text: string, start: number, maxEntries = Infinity): Map<string, unknown> {
  const entries = new Map<string, unknown>();
  scanObject(text, start, (key, valueStart, valueEnd) => {
    if (entries.size >= maxEntries && !entries.has(key)) throw new JsonScanError(`more than ${maxEntries} entries`);
    const raw = text.slice(valueStart, valueEnd);
    entries.set(key, /^-?\d+$/.test(raw) ? Number(raw) : (JSON.parse(raw) as unknown));
  });
  return entries;
}
