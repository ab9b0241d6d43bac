// Shell-style command lines shared by Dockerfiles, shell scripts and YAML `command:`/`args:`:
// a quoting-aware word splitter with source offsets, and the extractor for model CLI arguments.
import { isAnyWeightFileName } from '../core/model/weightExtensions';
import { siteFromSpan, splitQuantSuffix, type ContextStrength } from './candidates';
import { envLoader, isModelIdVariable, isRevisionVariable, isTrustRemoteCodeVariable, isTruthyValue } from './environment';
import type { LineIndex } from './textPositions';
import type { ModelReferenceSite, Range, RevisionSite } from './types';
import { appendAll } from '../core/util/arrays';

/** One shell word after quote removal; `offsets[i]` is the document offset of `value[i]`. */
export interface CommandWord {
  value: string;
  offsets: number[];
  /** Document offset just after the word's last source character (closing quote included). */
  end: number;
}

/** Builds a word whose value is a verbatim slice of the document (YAML list items, JSON strings). */
export function verbatimWord(value: string, startOffset: number): CommandWord {
  return { value, offsets: Array.from({ length: value.length }, (_, i) => startOffset + i), end: startOffset + value.length };
}

/**
 * Splits shell text into commands (separated by newlines, `;`, `&&`, `||`, `|`, `&`) of words.
 * Handles single and double quotes, backslash escapes, `\`-newline continuations and `#` comments.
 * Unterminated quotes end at the end of the text. `baseOffset` is added to every offset.
 */
export function tokenizeCommands(text: string, baseOffset = 0): CommandWord[][] {
  const commands: CommandWord[][] = [];
  let words: CommandWord[] = [];
  let value = '';
  let offsets: number[] = [];
  let inWord = false;
  let wordEnd = 0;
  const endWord = (): void => {
    if (inWord) words.push({ value, offsets, end: baseOffset + wordEnd });
    value = '';
    offsets = [];
    inWord = false;
  };
  const endCommand = (): void => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };
  const append = (char: string, index: number): void => {
    value += char;
    offsets.push(baseOffset + index);
    inWord = true;
    wordEnd = index + 1;
  };
  let i = 0;
  while (i < text.length) {
    const char = text[i] ?? '';
    if (char === '\\') {
      const next = text[i + 1];
      if (next === '\n') { i += 2; continue; }
      if (next === '\r') { i += text[i + 2] === '\n' ? 3 : 2; continue; }
      if (next !== undefined) append(next, i + 1);
      i += 2;
      continue;
    }
    if (char === "'") {
      inWord = true;
      let j = i + 1;
      while (j < text.length && text[j] !== "'") { append(text[j] ?? '', j); j++; }
      wordEnd = Math.min(j + 1, text.length);
      i = j + 1;
      continue;
    }
    if (char === '"') {
      inWord = true;
      let j = i + 1;
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\' && j + 1 < text.length && '"\\$`'.includes(text[j + 1] ?? '')) {
          append(text[j + 1] ?? '', j + 1);
          j += 2;
          continue;
        }
        append(text[j] ?? '', j);
        j++;
      }
      wordEnd = Math.min(j + 1, text.length);
      i = j + 1;
      continue;
    }
    if (char === '#' && !inWord) {
      while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
      continue;
    }
    if (char === '\n' || char === '\r' || char === ';') { endCommand(); i++; continue; }
    if (char === '&' || char === '|') {
      endCommand();
      i += text[i + 1] === char ? 2 : 1;
      continue;
    }
    if (char === ' ' || char === '\t') { endWord(); i++; continue; }
    append(char, i);
    i++;
  }
  endCommand();
  return commands;
}

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=/;
const ENV_DEFAULT = /^\$\{([A-Za-z_][A-Za-z0-9_]*):?-([^}]*)\}$/;
const ENV_REFERENCE = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/;
/** Flags whose value is always a model id. */
const MODEL_ID_FLAGS = new Set(['--model-id', '--model_id', '--model-path', '--model_path', '--model_name_or_path', '--model-name-or-path', '--hf-repo', '-hf', '-hfr', '--base-model', '--base_model']);
/** Flags whose value is often a model id but also a served name or a path (`--model llama3`). */
const MODEL_HINT_FLAGS = new Set(['--model', '-m']);
const REVISION_FLAGS = new Set(['--revision', '--model-revision', '--model_revision']);
const TRUST_REMOTE_CODE_FLAGS = new Set(['--trust-remote-code', '--trust_remote_code']);
/** Common flags of these CLIs that take a value, so that the value is not mistaken for the positional model id. */
const FLAGS_WITH_VALUE = new Set(['--local-dir', '--cache-dir', '--port', '--host', '--include', '--exclude', '--token', '--tokenizer', '--dtype', '--max-model-len', '--tensor-parallel-size', '--gpu-memory-utilization', '--served-model-name', '--quantization', '-p', '--api-key']);
const PREFIX_WORDS = new Set(['sudo', 'exec', 'env', 'nohup', 'time', 'RUN', 'CMD', 'ENTRYPOINT', 'ENV', 'ARG', 'export', 'uv', 'uvx', 'poetry', 'pipx']);
const OLLAMA_HOST_PREFIX = /^(?:https?:\/\/)?(?:hf\.co|huggingface\.co)\//;

/** Finds model ids in tokenized commands: CLI positional ids, model flags and `KEY=value` assignments. */
export function findCommandReferences(commands: CommandWord[][], lines: LineIndex): ModelReferenceSite[] {
  const sites: ModelReferenceSite[] = [];
  for (const words of commands) appendAll(sites, findInCommand(words, lines));
  return sites;
}

function findInCommand(words: CommandWord[], lines: LineIndex): ModelReferenceSite[] {
  const assignments: EnvironmentAssignment[] = [];
  const cliSites: ModelReferenceSite[] = [];
  let revision: RevisionSite | undefined;
  let trustRange: Range | undefined;
  let repoTypeIsDataset = false;
  /** Set after `vllm serve` / `hf download`: the loader of the first positional argument; '' once it is taken. */
  let pendingPositional: string | undefined;
  const program = programName(words);
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (!word) continue;
    const assignment = ASSIGNMENT.exec(word.value);
    if (assignment && !word.value.startsWith('-')) {
      assignments.push({ name: assignment[1] ?? '', value: sliceWord(word, assignment[0].length), range: wordRange(word, lines) });
      continue;
    }
    const [flag, inlineValue] = splitFlag(word.value);
    const flagValue = (): CommandWord | undefined => {
      if (inlineValue !== undefined) return sliceWord(word, flag.length + 1);
      const next = words[i + 1];
      if (!next || next.value.startsWith('-')) return undefined;
      i++;
      return next;
    };
    if (MODEL_ID_FLAGS.has(flag) || MODEL_HINT_FLAGS.has(flag)) {
      const target = flagValue();
      // `llama-cli -m models/x.gguf`: a weight file path is a model whatever the flag's strength.
      const localFile = target !== undefined && flag !== '-hf' && flag !== '-hfr' && flag !== '--hf-repo' && looksLikeLocalWeights(target.value);
      const strength: ContextStrength = MODEL_ID_FLAGS.has(flag) || localFile ? 'loader' : 'hint';
      const site = target && commandValueSite(target, lines, `${program} ${flag}`, strength, !localFile);
      if (site && localFile) {
        site.reference = { kind: 'local', path: site.id };
        delete site.insertion;
      }
      if (site) cliSites.push(site);
    } else if (REVISION_FLAGS.has(flag)) {
      const target = flagValue();
      if (target) revision = revisionOf(target, lines);
    } else if (TRUST_REMOTE_CODE_FLAGS.has(flag)) {
      if (inlineValue === undefined || isTruthyValue(inlineValue)) trustRange = wordRange(word, lines);
    } else if (flag === '--repo-type' || flag === '--repo_type') {
      repoTypeIsDataset = flagValue()?.value === 'dataset';
    } else if (pendingPositional === undefined && isPositionalModelCommand(program, words, i)) {
      pendingPositional = `${program} ${word.value}`;
    } else if (word.value.startsWith('-')) {
      if (inlineValue === undefined && FLAGS_WITH_VALUE.has(flag)) i++;
    } else if (pendingPositional !== undefined) {
      const loader = pendingPositional;
      pendingPositional = '';
      if (loader === '' || (program === 'ollama' && !OLLAMA_HOST_PREFIX.test(word.value))) continue;
      const site = commandValueSite(word, lines, loader, 'loader', true);
      if (site) cliSites.push(site);
    }
  }
  for (const site of cliSites) {
    if (repoTypeIsDataset && site.loader.endsWith(' download')) site.kind = 'dataset';
  }
  const environment = findEnvironmentReferences(assignments, lines);
  const sites = [...environment.sites, ...cliSites];
  applyRevisionAndTrust(sites, revision ?? environment.revision, trustRange ?? environment.trustRemoteCodeRange);
  return sites;
}

/** A path to weights (`./m`, `/models/x`, `~/x`, `x.gguf`): never a Hub id, so never pinned or looked up. */
export function looksLikeLocalWeights(value: string): boolean {
  if (/^(?:\.{1,2}[\\/]|[\\/]|~[\\/])/.test(value)) return true;
  return isAnyWeightFileName(value);
}

/** One `NAME=value` (shell, Dockerfile ENV, compose list) or `{name, value}` (Kubernetes env) entry. */
export interface EnvironmentAssignment {
  name: string;
  value: CommandWord;
  /** Range of the whole entry, used as the trust_remote_code range. */
  range: Range;
}

export interface EnvironmentReferences {
  sites: ModelReferenceSite[];
  revision?: RevisionSite;
  trustRemoteCodeRange?: Range;
}

/** Model ids in `MODEL_ID`-style variables of one environment block, with its revision and remote-code variables. */
export function findEnvironmentReferences(assignments: EnvironmentAssignment[], lines: LineIndex): EnvironmentReferences {
  const result: EnvironmentReferences = { sites: [] };
  for (const { name, value, range } of assignments) {
    if (isModelIdVariable(name)) {
      const site = commandValueSite(value, lines, envLoader(name), 'hint', false);
      if (site) result.sites.push(site);
    } else if (isRevisionVariable(name) && value.value !== '') {
      result.revision = revisionOf(value, lines);
    } else if (isTrustRemoteCodeVariable(name) && isTruthyValue(value.value)) {
      result.trustRemoteCodeRange = range;
    }
  }
  return result;
}

export function applyRevisionAndTrust(sites: ModelReferenceSite[], revision: RevisionSite | undefined, trustRange: Range | undefined): void {
  for (const site of sites) {
    if (revision && !site.revision) site.revision = revision;
    if (trustRange) {
      site.flags.trustRemoteCode = true;
      site.flags.trustRemoteCodeRange = trustRange;
    }
  }
}

export function sliceWord(word: CommandWord, start: number): CommandWord {
  return { value: word.value.slice(start), offsets: word.offsets.slice(start), end: word.end };
}

/** `vllm serve X`, `huggingface-cli download X`, `hf download X`, `ollama run|pull X`. */
function isPositionalModelCommand(program: string, words: CommandWord[], index: number): boolean {
  const subcommand = words[index]?.value;
  if (program === 'vllm') return subcommand === 'serve';
  if (program === 'huggingface-cli' || program === 'hf') return subcommand === 'download';
  if (program === 'ollama') return subcommand === 'run' || subcommand === 'pull';
  return false;
}

/** The tool a command runs: the first word that is not a prefix or assignment; `python -m mod` gives `mod`. */
function programName(words: CommandWord[]): string {
  for (let i = 0; i < words.length; i++) {
    const value = words[i]?.value ?? '';
    // `uv run vllm ...`: a `run` after a prefix is part of the prefix.
    if (PREFIX_WORDS.has(value) || ASSIGNMENT.test(value) || (value === 'run' && i > 0)) continue;
    const base = value.replace(/^.*\//, '');
    if (/^python(?:\d+(?:\.\d+)?)?$/.test(base) && words[i + 1]?.value === '-m') return words[i + 2]?.value ?? base;
    return base;
  }
  return '';
}

function splitFlag(value: string): [string, string | undefined] {
  if (!value.startsWith('-')) return [value, undefined];
  const equals = value.indexOf('=');
  return equals === -1 ? [value, undefined] : [value.slice(0, equals), value.slice(equals + 1)];
}

function spanOf(word: CommandWord, start: number, length: number): { startOffset: number; endOffset: number } {
  const first = word.offsets[start] ?? word.end;
  const last = word.offsets[start + length - 1];
  return { startOffset: first, endOffset: last === undefined ? first : last + 1 };
}

function wordRange(word: CommandWord, lines: LineIndex): Range {
  return lines.rangeOf(word.offsets[0] ?? word.end, word.end);
}

function revisionOf(word: CommandWord, lines: LineIndex): RevisionSite {
  const span = spanOf(word, 0, word.value.length);
  const revision: RevisionSite = { value: word.value, range: lines.rangeOf(span.startOffset, span.endOffset) };
  if (word.value.startsWith('$')) revision.dynamic = true;
  return revision;
}

/**
 * A site for the id a word holds: `${VAR:-default}` gives the default, a bare `$VAR` gives a
 * dynamic site (strong contexts only); with `allowQuant`, `hf.co/` prefixes and `:QUANT` are split off.
 */
export function commandValueSite(word: CommandWord, lines: LineIndex, loader: string, strength: ContextStrength, allowQuant: boolean): ModelReferenceSite | undefined {
  let start = 0;
  let value = word.value;
  let envVar: string | undefined;
  const withDefault = ENV_DEFAULT.exec(value);
  if (withDefault) {
    envVar = withDefault[1];
    const defaultValue = withDefault[2] ?? '';
    start += value.length - 1 - defaultValue.length;
    value = defaultValue;
  } else {
    const variable = ENV_REFERENCE.exec(value);
    if (variable) {
      if (strength !== 'loader') return undefined;
      const span = spanOf(word, start, value.length);
      return { id: value, range: lines.rangeOf(span.startOffset, span.endOffset), loader, kind: 'model', flags: { dynamic: true }, envVar: variable[1] ?? '' };
    }
  }
  const hostPrefix = OLLAMA_HOST_PREFIX.exec(value);
  if (hostPrefix && allowQuant) {
    start += hostPrefix[0].length;
    value = value.slice(hostPrefix[0].length);
  }
  let quant: string | undefined;
  if (allowQuant) {
    const split = splitQuantSuffix(value);
    value = split.repo;
    quant = split.quant;
  }
  const site = siteFromSpan(lines, { value, ...spanOf(word, start, value.length) }, { loader, kind: 'model', strength });
  if (!site) return undefined;
  if (quant !== undefined) site.quant = quant;
  if (envVar !== undefined) site.envVar = envVar;
  // `--revision X` goes after the whole word, so that it never splits `repo:QUANT` or a closing quote.
  if (allowQuant) site.insertion = { position: lines.positionAt(word.end), needsComma: false, style: 'cli-flag' };
  return site;
}

/** In a list of argv items a flag is a new item, not text after the id, so no plain-text insertion applies. */
export function withoutInsertion(sites: ModelReferenceSite[]): ModelReferenceSite[] {
  for (const site of sites) delete site.insertion;
  return sites;
}
