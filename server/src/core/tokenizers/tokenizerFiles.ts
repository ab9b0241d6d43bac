// Bounded reading of tokenizer files (JSON and text) and narrowing of parsed JSON.
// Tokenizer files are small next to weights, but hostile ones can claim anything: cap every read.
import { LocalFileSource } from '../io/byteSource';
import { ModelFormatError } from '../errors';

/** Largest tokenizer file we read (the biggest real tokenizer.json files are about 20 MB). */
export const MAX_TOKENIZER_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Reads a whole tokenizer file, refusing anything larger than `maxBytes`. The file must resolve
 * inside `root` (default: its own folder, see LocalFileSource.open).
 */
export async function readTokenizerFileBytes(path: string, maxBytes = MAX_TOKENIZER_FILE_BYTES, root?: string): Promise<Uint8Array> {
  const source = await LocalFileSource.open(path, root);
  try {
    if (source.sizeBytes > maxBytes) {
      throw new ModelFormatError(path, `file is ${source.sizeBytes} bytes; tokenizer files larger than ${maxBytes} bytes are refused`);
    }
    return await source.read(0, source.sizeBytes);
  } finally {
    await source.close();
  }
}

// ignoreBOM keeps the mark so that exactly one leading BOM is dropped below, never a second.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes a text file as strict UTF-8 (dropping a byte-order mark). */
export function decodeTextFile(bytes: Uint8Array, file: string): string {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new ModelFormatError(file, 'is not valid UTF-8 text');
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export async function readTokenizerTextFile(path: string, root?: string): Promise<string> {
  return decodeTextFile(await readTokenizerFileBytes(path, MAX_TOKENIZER_FILE_BYTES, root), path);
}

/** Parses JSON into `unknown`; callers narrow it. */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ModelFormatError(file, `is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

export async function readTokenizerJsonFile(path: string, root?: string): Promise<unknown> {
  return parseJsonText(await readTokenizerTextFile(path, root), path);
}

export type JsonObject = { readonly [key: string]: unknown };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Splits a text file into lines, accepting \n and \r\n, without a final empty line. */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.endsWith('\r')) lines[i] = line.slice(0, -1);
  }
  return lines;
}
