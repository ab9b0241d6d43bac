// Finds transformers.js references (`pipeline(task, id, opts)`, `AutoModel.from_pretrained(id, opts)`) in
// JS/TS with a token-level scan that understands strings, comments, template literals and regexes.
import { parseCandidate } from './candidates';
import type { LineIndex } from './textPositions';
import type { ArgumentInsertion, ModelReferenceSite } from './types';

interface Token {
  type: 'identifier' | 'string' | 'template' | 'punctuation' | 'number' | 'regex';
  /** Decoded value for strings; source text otherwise. */
  value: string;
  start: number;
  end: number;
  /** Template literal with `${...}`: its value is not known statically. */
  dynamic?: boolean;
  /** For strings and templates: the end of the content (before the closing quote, if any). */
  contentEnd?: number;
}

const REGEX_ALLOWED_AFTER_KEYWORD = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

/** Splits JS/TS source into tokens; comments and whitespace are dropped. Never throws. */
export function tokenizeJavaScript(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const previousAllowsRegex = (): boolean => {
    const previous = tokens.at(-1);
    if (!previous) return true;
    if (previous.type === 'punctuation') return !/^[)\]}]$/.test(previous.value);
    return previous.type === 'identifier' && REGEX_ALLOWED_AFTER_KEYWORD.has(previous.value);
  };
  while (i < text.length) {
    const char = text[i] ?? '';
    if (/\s/.test(char)) { i++; continue; }
    if (char === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (char === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      i = close === -1 ? text.length : close + 2;
      continue;
    }
    if (char === '"' || char === "'") {
      const token = readQuotedString(text, i);
      tokens.push(token);
      i = token.end;
      continue;
    }
    if (char === '`') {
      const token = readTemplate(text, i);
      tokens.push(token);
      i = token.end;
      continue;
    }
    if (char === '/' && previousAllowsRegex()) {
      const end = regexEnd(text, i);
      tokens.push({ type: 'regex', value: text.slice(i, end), start: i, end });
      i = end;
      continue;
    }
    const word = /^[A-Za-z_$\u00a0-\uffff][\w$\u00a0-\uffff]*/.exec(text.slice(i, i + 256));
    if (word) {
      tokens.push({ type: 'identifier', value: word[0], start: i, end: i + word[0].length });
      i += word[0].length;
      continue;
    }
    const number = /^\d[\w.]*/.exec(text.slice(i, i + 64));
    if (number) {
      tokens.push({ type: 'number', value: number[0], start: i, end: i + number[0].length });
      i += number[0].length;
      continue;
    }
    const punctuation = /^(?:\?\?|\?\.|\|\||&&|=>|\.\.\.|[^\s])/.exec(text.slice(i, i + 3))?.[0] ?? char;
    tokens.push({ type: 'punctuation', value: punctuation, start: i, end: i + punctuation.length });
    i += punctuation.length;
  }
  return tokens;
}

/** A '...' or "..." string; it ends at the closing quote or, unterminated, at the end of the line. */
function readQuotedString(text: string, start: number): Token {
  const quote = text[start];
  let value = '';
  let i = start + 1;
  while (i < text.length && text[i] !== quote && text[i] !== '\n') {
    if (text[i] === '\\') {
      const escape = text[i + 1] ?? '';
      value += ({ n: '\n', t: '\t', r: '\r', '0': '\0' } as Record<string, string>)[escape] ?? (escape === '\n' ? '' : escape);
      i += 2;
      continue;
    }
    value += text[i];
    i++;
  }
  return { type: 'string', value, start, end: text[i] === quote ? i + 1 : i, contentEnd: i };
}

/** A template literal; `${...}` parts (which may nest strings and templates) make it dynamic. */
function readTemplate(text: string, start: number): Token {
  let value = '';
  let dynamic = false;
  let i = start + 1;
  while (i < text.length && text[i] !== '`') {
    if (text[i] === '\\') { value += text[i + 1] ?? ''; i += 2; continue; }
    if (text[i] === '$' && text[i + 1] === '{') {
      dynamic = true;
      let depth = 1;
      const expressionStart = i;
      i += 2;
      while (i < text.length && depth > 0) {
        const char = text[i];
        if (char === '{') depth++;
        else if (char === '}') depth--;
        else if (char === '"' || char === "'") { i = readQuotedString(text, i).end; continue; }
        else if (char === '`') { i = readTemplate(text, i).end; continue; }
        i++;
      }
      value += text.slice(expressionStart, i);
      continue;
    }
    value += text[i];
    i++;
  }
  return { type: 'template', value, start, end: Math.min(i + 1, text.length), dynamic, contentEnd: Math.min(i, text.length) };
}

function regexEnd(text: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < text.length && text[i] !== '\n') {
    const char = text[i];
    if (char === '\\') { i += 2; continue; }
    if (char === '[') inClass = true;
    else if (char === ']') inClass = false;
    else if (char === '/' && !inClass) {
      i++;
      while (i < text.length && /[a-z]/i.test(text[i] ?? '')) i++;
      return i;
    }
    i++;
  }
  return i;
}

interface CallArgument { tokens: Token[] }

/** Arguments of the call whose `(` is at `openIndex`, and the index of its `)` (or the end). */
function readArguments(tokens: Token[], openIndex: number): { args: CallArgument[]; closeIndex: number } {
  const args: CallArgument[] = [];
  let current: Token[] = [];
  let depth = 0;
  let i = openIndex + 1;
  for (; i < tokens.length; i++) {
    const token = tokens[i];
    if (!token) break;
    if (token.type === 'punctuation') {
      if (/^[([{]$/.test(token.value)) depth++;
      else if (/^[)\]}]$/.test(token.value)) {
        if (depth === 0) break;
        depth--;
      } else if (token.value === ',' && depth === 0) {
        args.push({ tokens: current });
        current = [];
        continue;
      }
    }
    current.push(token);
  }
  if (current.length > 0) args.push({ tokens: current });
  return { args, closeIndex: i };
}

interface StringValue { value: string; start: number; end: number; dynamic: boolean; envVar?: string }

class JavaScriptReferenceExtractor {
  private readonly constants = new Map<string, Token[]>();

  constructor(private readonly tokens: Token[], private readonly lines: LineIndex) {
    // `const MODEL_ID = 'org/m'` anywhere; a name declared twice is ambiguous and stays unresolved.
    for (let i = 0; i + 3 < tokens.length; i++) {
      const keyword = tokens[i]?.value;
      if (tokens[i]?.type !== 'identifier' || (keyword !== 'const' && keyword !== 'let' && keyword !== 'var')) continue;
      const name = tokens[i + 1];
      if (name?.type !== 'identifier' || tokens[i + 2]?.value !== '=') continue;
      const valueTokens: Token[] = [];
      for (let j = i + 3; j < tokens.length && j < i + 16; j++) {
        const token = tokens[j];
        if (!token || (token.type === 'punctuation' && (token.value === ';' || token.value === ','))) break;
        valueTokens.push(token);
      }
      this.constants.set(name.value, this.constants.has(name.value) ? [] : valueTokens);
    }
  }

  extract(): ModelReferenceSite[] {
    const sites: ModelReferenceSite[] = [];
    for (let i = 0; i < this.tokens.length; i++) {
      const token = this.tokens[i];
      if (token?.type !== 'identifier' || this.tokens[i + 1]?.value !== '(') continue;
      const previous = this.tokens[i - 1];
      if (previous?.type === 'identifier' && previous.value === 'function') continue;
      if (token.value === 'pipeline') {
        const site = this.callSite(i + 1, 'transformers.js pipeline', 1, 2);
        if (site) sites.push(site);
      } else if (token.value === 'from_pretrained' && previous?.value === '.') {
        const receiver = this.tokens[i - 2];
        if (receiver?.type !== 'identifier' || !/^[A-Z]/.test(receiver.value)) continue;
        const site = this.callSite(i + 1, `transformers.js ${receiver.value}.from_pretrained`, 0, 1);
        if (site) sites.push(site);
      }
    }
    return sites;
  }

  private callSite(openIndex: number, loader: string, idPosition: number, optionsPosition: number): ModelReferenceSite | undefined {
    const { args, closeIndex } = readArguments(this.tokens, openIndex);
    const isPipeline = loader.endsWith('pipeline');
    const task = isPipeline ? this.stringValue(args[0]?.tokens ?? [], 0) : undefined;
    const idValue = this.stringValue(args[idPosition]?.tokens ?? [], 0);
    let site: ModelReferenceSite;
    if (idValue) {
      site = { id: idValue.value, range: this.lines.rangeOf(idValue.start, idValue.end), loader, kind: 'model', flags: {} };
      if (idValue.dynamic) site.flags.dynamic = true;
      else {
        const reference = parseCandidate(idValue.value);
        if (reference) site.reference = reference;
      }
      if (idValue.envVar !== undefined) site.envVar = idValue.envVar;
      const usage = args[idPosition]?.tokens;
      const first = usage?.[0];
      const last = usage?.at(-1);
      if (first && last && (idValue.start < first.start || idValue.end > last.end)) site.usageRange = this.lines.rangeOf(first.start, last.end);
    } else if (isPipeline && args.length <= 1 && task && !task.dynamic) {
      site = { id: '', range: this.lines.rangeOf(task.start, task.end), loader, kind: 'model', flags: { implicitDefault: true } };
    } else {
      // A model object, or a call we cannot read: not a reference we can say anything about.
      return undefined;
    }
    if (task && !task.dynamic) site.task = task.value;
    const options = args[optionsPosition]?.tokens ?? [];
    this.readOptions(site, options);
    const insertion = this.insertion(args, optionsPosition, closeIndex);
    if (insertion) site.insertion = insertion;
    return site;
  }

  /** `{ revision: 'sha' }` in the options object. */
  private readOptions(site: ModelReferenceSite, options: Token[]): void {
    if (options[0]?.value !== '{') return;
    for (let i = 1; i + 2 < options.length; i++) {
      const key = options[i];
      if ((key?.type === 'identifier' || key?.type === 'string') && key.value === 'revision' && options[i + 1]?.value === ':') {
        const valueEnd = options.findIndex((token, index) => index > i + 1 && token.type === 'punctuation' && (token.value === ',' || token.value === '}'));
        const revision = this.stringValue(options.slice(i + 2, valueEnd === -1 ? undefined : valueEnd), 0);
        if (revision) {
          site.revision = { value: revision.value, range: this.lines.rangeOf(revision.start, revision.end) };
          if (revision.dynamic) site.revision.dynamic = true;
        }
      }
    }
  }

  private insertion(args: CallArgument[], optionsPosition: number, closeIndex: number): ArgumentInsertion | undefined {
    const options = args[optionsPosition]?.tokens;
    if (options?.[0]?.value === '{') {
      const closeBrace = options.at(-1);
      if (closeBrace?.value !== '}') return undefined;
      const beforeClose = options.at(-2);
      if (!beforeClose || beforeClose === options[0]) return { position: this.lines.positionAt(options[0].end), needsComma: false, style: 'js-options-property' };
      return { position: this.lines.positionAt(beforeClose.end), needsComma: beforeClose.value !== ',', style: 'js-options-property' };
    }
    if (options) return undefined;
    const lastArgument = args.at(-1)?.tokens.at(-1);
    if (lastArgument) return { position: this.lines.positionAt(lastArgument.end), needsComma: true, style: 'js-options-object' };
    const open = this.tokens[closeIndex - 1];
    return open ? { position: this.lines.positionAt(open.end), needsComma: false, style: 'js-options-object' } : undefined;
  }

  /** A string, template, constant or `process.env.X ?? 'default'` as a value with its source span. */
  private stringValue(tokens: Token[], depth: number): StringValue | undefined {
    const [first] = tokens;
    if (!first || depth > 8) return undefined;
    if (tokens.length === 1 && (first.type === 'string' || first.type === 'template')) {
      return { value: first.value, start: first.start + 1, end: first.contentEnd ?? first.end, dynamic: first.dynamic ?? false };
    }
    if (tokens.length === 1 && first.type === 'identifier') {
      const constant = this.constants.get(first.value);
      return constant && constant.length > 0 ? this.stringValue(constant, depth + 1) : undefined;
    }
    // process.env.NAME ?? 'default'  /  process.env.NAME || 'default'  /  process.env.NAME
    if (first.value === 'process' && tokens[1]?.value === '.' && tokens[2]?.value === 'env' && tokens[3]?.value === '.' && tokens[4]?.type === 'identifier') {
      const envVar = tokens[4].value;
      const operator = tokens[5]?.value;
      if ((operator === '??' || operator === '||') && tokens.length > 6) {
        const fallback = this.stringValue(tokens.slice(6), depth + 1);
        return fallback ? { ...fallback, envVar } : undefined;
      }
      const last = tokens.at(-1) ?? first;
      return { value: tokens.map((token) => token.value).join(''), start: first.start, end: last.end, dynamic: true, envVar };
    }
    return undefined;
  }
}

export function findJavaScriptReferences(text: string, lines: LineIndex): ModelReferenceSite[] {
  return new JavaScriptReferenceExtractor(tokenizeJavaScript(text), lines).extract();
}
