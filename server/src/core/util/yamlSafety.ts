// Guards to run before handing untrusted text to the `yaml` package: it aborts the whole process
// (a V8 out-of-memory, not an exception) on a few thousand nested flow collections.

/** Flow collections (`[...]`, `{...}`) nested deeper than this are refused before parsing. */
export const MAX_FLOW_NESTING = 100;

/**
 * Whether `[`/`{` nest deeper than `limit`, ignoring quoted text and comments. A line starting in
 * column 0 with a plain character begins a new top-level entry, which no flow collection spans.
 */
export function flowNestingExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let quote = '';
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] ?? '';
    if (quote) {
      if (char === quote) quote = '';
      else if (char === '\\' && quote === '"') i++;
      else if (char === '\n') { quote = ''; lineStart = true; }
      continue;
    }
    if (char === '\n' || char === '\r') { lineStart = true; continue; }
    if (lineStart && /[A-Za-z0-9_-]/.test(char)) depth = 0;
    lineStart = false;
    if (char === '"' || char === "'") quote = char;
    else if (char === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      lineStart = true;
    } else if (char === '[' || char === '{') {
      if (++depth > limit) return true;
    } else if ((char === ']' || char === '}') && depth > 0) depth--;
  }
  return false;
}
