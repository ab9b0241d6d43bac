// Registry entries as NDJSON, one entry per line, for sharing registries: the fingerprint is
// embedded as its usual JSON and re-validated by parseFingerprint on import, like any untrusted file.
import { createReadStream } from 'node:fs';
import { ModelFormatError } from '../errors';
import { MAX_FINGERPRINT_JSON_BYTES, parseFingerprint, serializeFingerprint } from '../fingerprint/encoding';
import { parseProvenance } from './entryCodec';
import type { RegistryEntry, RegistryEntryMeta } from './types';

export const ENTRY_LINE_SCHEMA = 'lineage-lens/registry-entry';
/** A line holds one fingerprint plus a little metadata. */
export const MAX_ENTRY_LINE_BYTES = MAX_FINGERPRINT_JSON_BYTES + 1024 * 1024;

export function formatEntryLine(entry: RegistryEntry): string {
  const head = JSON.stringify({ schema: ENTRY_LINE_SCHEMA, schemaVersion: 1, meta: entry.meta });
  return `${head.slice(0, -1)},"fingerprint":${serializeFingerprint(entry.fingerprint)}}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseEntryLine(line: string, source: string): RegistryEntry {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    throw new ModelFormatError(source, `not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isObject(raw) || raw.schema !== ENTRY_LINE_SCHEMA || raw.schemaVersion !== 1) throw new ModelFormatError(source, `not a "${ENTRY_LINE_SCHEMA}" version 1 line`);
  const m = raw.meta;
  if (!isObject(m) || typeof m.id !== 'string' || (m.kind !== 'weights' && m.kind !== 'tokenizer') || !Array.isArray(m.declaredParents) || !m.declaredParents.every((p) => typeof p === 'string')) {
    throw new ModelFormatError(source, '"meta" needs a string id, a kind (weights or tokenizer) and a list of declared parents');
  }
  const meta: RegistryEntryMeta = { id: m.id, kind: m.kind, declaredParents: m.declaredParents as string[] };
  for (const key of ['revision', 'family', 'licence', 'source', 'tokenizerFamily'] as const) {
    const value = m[key];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new ModelFormatError(source, `"meta.${key}" must be a string`);
    meta[key] = value;
  }
  if (m.provenance !== undefined) {
    try {
      meta.provenance = parseProvenance(m.provenance);
    } catch (err) {
      throw new ModelFormatError(source, `"meta.provenance": ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { meta, fingerprint: parseFingerprint(JSON.stringify(raw.fingerprint), source) };
}

/** Lines of a file, refusing any line longer than `maxLineBytes` (a hostile file cannot make us buffer it whole). */
export async function* readLinesBounded(input: string | NodeJS.ReadableStream, maxLineBytes = MAX_ENTRY_LINE_BYTES): AsyncIterable<{ line: string; lineNumber: number }> {
  const file = typeof input === 'string' ? input : '(stdin)';
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineNumber = 0;
  for await (const chunk of (typeof input === 'string' ? createReadStream(input) : input) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline !== -1; newline = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, newline));
      pendingBytes += newline - start;
      if (pendingBytes > maxLineBytes) throw new ModelFormatError(file, `line ${lineNumber + 1} is longer than ${maxLineBytes} bytes`);
      lineNumber++;
      yield { line: Buffer.concat(pending).toString('utf8'), lineNumber };
      pending = [];
      pendingBytes = 0;
      start = newline + 1;
    }
    pending.push(chunk.subarray(start));
    pendingBytes += chunk.length - start;
    if (pendingBytes > maxLineBytes) throw new ModelFormatError(file, `line ${lineNumber + 1} is longer than ${maxLineBytes} bytes`);
  }
  if (pendingBytes > 0) yield { line: Buffer.concat(pending).toString('utf8'), lineNumber: lineNumber + 1 };
}
