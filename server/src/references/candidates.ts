// Turns a candidate string found by a finder into a parsed reference, and builds sites from it.
// The id grammar itself lives in core/model/reference; this module only decides how strict to be.
import { parseModelReference } from '../core/model/reference';
import type { LineIndex } from './textPositions';
import type { ModelReference, ModelReferenceSite, ReferenceKind } from './types';

/**
 * How sure the surrounding syntax is that the string names a model.
 * - 'loader': a loader argument (`from_pretrained(x)`): report the string even if it does not
 *   parse, so that the editor can say so.
 * - 'hint': a weak context (an env var, a generic `--model` flag, `_name_or_path`): report only a
 *   namespaced Hub id, because bare words there are usually served-model names or local names.
 */
export type ContextStrength = 'loader' | 'hint';

export function parseCandidate(value: string): ModelReference | undefined {
  // The parser is another module's code and the input is hostile: never let it take us down.
  try {
    return parseModelReference(value.trim());
  } catch {
    return undefined;
  }
}

export function acceptsCandidate(reference: ModelReference | undefined, strength: ContextStrength): boolean {
  if (strength === 'loader') return true;
  return reference !== undefined && reference.kind === 'hub' && reference.repoId.includes('/');
}

export interface SiteSpan {
  /** The decoded value of the id text. */
  value: string;
  startOffset: number;
  endOffset: number;
}

export interface SiteDetails {
  loader: string;
  kind: ReferenceKind;
  strength: ContextStrength;
}

/** Builds a site from an id span, or undefined when the context is weak and the value is not a Hub id. */
export function siteFromSpan(lines: LineIndex, span: SiteSpan, details: SiteDetails): ModelReferenceSite | undefined {
  if (span.value.trim() === '') return undefined;
  const reference = parseCandidate(span.value);
  if (!acceptsCandidate(reference, details.strength)) return undefined;
  const site: ModelReferenceSite = {
    id: span.value,
    range: lines.rangeOf(span.startOffset, span.endOffset),
    loader: details.loader,
    kind: kindForReference(details.kind, reference),
    flags: {},
  };
  if (reference) site.reference = reference;
  return site;
}

/** A dataset URL or `datasets/` URI names a dataset whatever key it was found under. */
export function kindForReference(kind: ReferenceKind, reference: ModelReference | undefined): ReferenceKind {
  if (reference?.kind === 'hub' && reference.repoType === 'dataset' && kind === 'model') return 'dataset';
  return kind;
}

/** Splits Ollama / llama.cpp / vLLM GGUF selectors: `org/repo-GGUF:Q4_K_M` -> repo part and quant. */
export function splitQuantSuffix(value: string): { repo: string; quant?: string } {
  const colon = value.lastIndexOf(':');
  // A colon inside a URL scheme (`hf://`, `https://`) is not a quant selector.
  if (colon <= 0 || value.slice(colon, colon + 3) === '://' || value.indexOf('/', colon) !== -1) return { repo: value };
  const quant = value.slice(colon + 1);
  if (!/^[A-Za-z0-9_.-]+$/.test(quant)) return { repo: value };
  return { repo: value.slice(0, colon), quant };
}
