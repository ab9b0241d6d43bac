// Finds model ids in shell scripts, .env files, Dockerfiles (RUN/CMD/ENTRYPOINT/ENV, shell and JSON exec
// forms, line continuations) and Ollama Modelfiles (`FROM hf.co/org/repo[:quant]`).
import { commandValueSite, findCommandReferences, looksLikeLocalWeights, tokenizeCommands, verbatimWord, withoutInsertion, type CommandWord } from './commandLine';
import { parseJsonWithOffsets, type JsonString } from './json';
import type { LineIndex } from './textPositions';
import type { ModelReferenceSite } from './types';
import { appendAll } from '../core/util/arrays';

export function findShellReferences(text: string, lines: LineIndex): ModelReferenceSite[] {
  return findCommandReferences(tokenizeCommands(text), lines);
}

/** One Dockerfile instruction: its keyword and where its arguments start and end (continuations included). */
interface Instruction {
  keyword: string;
  argumentsStart: number;
  argumentsEnd: number;
}

const COMMAND_INSTRUCTIONS = new Set(['RUN', 'CMD', 'ENTRYPOINT']);

export function findDockerfileReferences(text: string, lines: LineIndex): ModelReferenceSite[] {
  const sites: ModelReferenceSite[] = [];
  for (const instruction of dockerfileInstructions(text)) {
    const argumentText = text.slice(instruction.argumentsStart, instruction.argumentsEnd);
    if (COMMAND_INSTRUCTIONS.has(instruction.keyword) && argumentText.trimStart().startsWith('[')) {
      appendAll(sites, execFormReferences(argumentText, instruction.argumentsStart, lines));
    } else if (instruction.keyword === 'ENV' || instruction.keyword === 'ARG') {
      const commands = tokenizeCommands(argumentText, instruction.argumentsStart);
      appendAll(sites, findCommandReferences(commands.map(legacyEnvForm), lines));
    } else if (COMMAND_INSTRUCTIONS.has(instruction.keyword)) {
      appendAll(sites, findCommandReferences(tokenizeCommands(argumentText, instruction.argumentsStart), lines));
    }
  }
  return sites;
}

function dockerfileInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lineBreak = /\r\n|\n|\r/g;
  let lineStart = 0;
  let current: Instruction | undefined;
  while (lineStart <= text.length) {
    lineBreak.lastIndex = lineStart;
    const match = lineBreak.exec(text);
    const lineEnd = match ? match.index : text.length;
    const line = text.slice(lineStart, lineEnd);
    if (current) {
      // Comment lines inside a continued instruction are dropped by Docker; the tokenizer skips them too.
      current.argumentsEnd = lineEnd;
    } else {
      const start = /^\s*([A-Za-z]+)(\s+|$)/.exec(line);
      if (start && !line.trimStart().startsWith('#')) {
        current = { keyword: (start[1] ?? '').toUpperCase(), argumentsStart: lineStart + start[0].length, argumentsEnd: lineEnd };
      }
    }
    if (current && !/\\\s*$/.test(line)) {
      instructions.push(current);
      current = undefined;
    }
    if (!match) break;
    lineStart = match.index + match[0].length;
  }
  if (current) instructions.push(current);
  return instructions;
}

/** `ENV MODEL_ID org/m` (legacy, one variable per instruction) is the same as `ENV MODEL_ID=org/m`. */
function legacyEnvForm(words: CommandWord[]): CommandWord[] {
  const [name, value] = words;
  if (words.length !== 2 || !name || !value || name.value.includes('=')) return words;
  return [{ value: `${name.value}=${value.value}`, offsets: [...name.offsets, name.end, ...value.offsets], end: value.end }];
}

/** `CMD ["vllm", "serve", "org/m"]`; an item with spaces (`["sh", "-c", "vllm serve x"]`) is a script. */
function execFormReferences(argumentText: string, offset: number, lines: LineIndex): ModelReferenceSite[] {
  const array = parseJsonWithOffsets(argumentText, offset);
  if (array?.type !== 'array') return [];
  const words: CommandWord[] = [];
  const sites: ModelReferenceSite[] = [];
  for (const item of array.items) {
    if (item.type !== 'string') continue;
    const word = jsonStringWord(item);
    if (/\s/.test(item.value)) appendAll(sites, findCommandReferences(tokenizeCommands(item.value).map((command) => command.map((inner) => remapWord(inner, word))), lines));
    else words.push(word);
  }
  appendAll(sites, withoutInsertion(findCommandReferences([words], lines)));
  return sites;
}

function jsonStringWord(node: JsonString): CommandWord {
  return { value: node.value, offsets: node.offsets, end: node.end - 1 };
}

/** Maps a word tokenized from a string's decoded value back to document offsets. */
function remapWord(inner: CommandWord, outer: CommandWord): CommandWord {
  const offsets = inner.offsets.map((index) => outer.offsets[index] ?? outer.end);
  const lastIndex = inner.offsets.at(-1);
  const last = lastIndex === undefined ? undefined : outer.offsets[lastIndex];
  return { value: inner.value, offsets, end: last === undefined ? outer.end : last + 1 };
}

/**
 * Ollama Modelfile: `FROM hf.co/...` and `FROM huggingface.co/...` name Hugging Face repositories;
 * `FROM ./model.gguf` (or a folder) names local weights. Ollama library names (`FROM llama3.2`) are neither.
 */
const OLLAMA_HUB_PREFIX = /^(?:https?:\/\/)?(?:hf\.co|huggingface\.co)\//i;

export function findModelfileReferences(text: string, lines: LineIndex): ModelReferenceSite[] {
  const sites: ModelReferenceSite[] = [];
  const localFrom = /^[ \t]*FROM[ \t]+(\S+)[ \t]*$/gim;
  for (const match of text.matchAll(localFrom)) {
    const value = match[1] ?? '';
    if (OLLAMA_HUB_PREFIX.test(value) || !looksLikeLocalWeights(value)) continue;
    const start = match.index + match[0].indexOf(value, match[0].search(/FROM/i) + 4);
    sites.push({ id: value, reference: { kind: 'local', path: value }, range: lines.rangeOf(start, start + value.length), loader: 'Modelfile FROM', kind: 'model', flags: {} });
  }
  const fromLine = /^[ \t]*FROM[ \t]+((?:https?:\/\/)?(?:hf\.co|huggingface\.co)\/\S+)/gim;
  for (const match of text.matchAll(fromLine)) {
    const value = match[1] ?? '';
    const start = match.index + match[0].length - value.length;
    const site = commandValueSite(verbatimWord(value, start), lines, 'Modelfile FROM', 'loader', true);
    if (site) {
      // Ollama has no revision argument, so there is nowhere to insert one.
      delete site.insertion;
      sites.push(site);
    }
  }
  return sites;
}
