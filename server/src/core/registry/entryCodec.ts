// How an entry is stored by every backend (SQLite, PostgreSQL): the validated metadata, the deflated
// fingerprint with its sha256, and the index keys; and the bounded, checked way back from stored bytes.
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { hiddenSize } from '../compare/pairing';
import { MAX_FINGERPRINT_JSON_BYTES, parseFingerprint, serializeFingerprint } from '../fingerprint/encoding';
import type { Fingerprint } from '../fingerprint/types';
import { RegistryError } from './errors';
import { contentIdOf } from './keys';
import { computeWeightSketches, vocabularyBandKeys, weightBandKeys, type WeightSketches } from './sketches';
import type { EntryProvenance, RegistryEntry, RegistryEntryMeta } from './types';

export const MAX_ID_LENGTH = 512;
export const MAX_TEXT_LENGTH = 64 * 1024;
export const MAX_MINHASH_BYTES = 64 * 1024;
/** Provenance JSON (LFS hashes of every weight file) stays small: a few hundred files at most. */
export const MAX_PROVENANCE_BYTES = 256 * 1024;

/** Everything a backend writes for one entry, computed once outside any transaction. */
export interface EncodedEntry {
  meta: RegistryEntryMeta;
  json: string;
  body: Buffer;
  jsonSha256: string;
  jsonBytes: number;
  extractorVersion: string;
  contentId?: string;
  architectureHash?: string;
  hiddenSize?: number;
  sketches: WeightSketches;
  weightBandKeys: number[];
  vocabulary?: { tokensHash: string; size: number; convention: string; minhash: Uint8Array; bandKeys: number[] };
  provenanceJson?: string;
}

export function encodeEntry(entry: RegistryEntry): EncodedEntry {
  const meta = validateMeta(entry.meta);
  const fp = entry.fingerprint;
  const json = serializeFingerprint(fp);
  const isWeights = meta.kind === 'weights';
  const sketches = isWeights ? computeWeightSketches(fp) : {};
  const hidden = isWeights ? hiddenSize(fp) : undefined;
  const encoded: EncodedEntry = {
    meta,
    json,
    body: deflateRawSync(Buffer.from(json, 'utf8')),
    jsonSha256: createHash('sha256').update(json, 'utf8').digest('hex'),
    jsonBytes: Buffer.byteLength(json, 'utf8'),
    extractorVersion: fp.extractorVersion,
    sketches,
    weightBandKeys: hidden !== undefined ? [...new Set(weightBandKeys(sketches, hidden))] : [],
  };
  const contentId = isWeights ? contentIdOf(fp) : undefined;
  if (contentId) encoded.contentId = contentId;
  if (fp.architecture?.hash) encoded.architectureHash = fp.architecture.hash;
  if (hidden !== undefined) encoded.hiddenSize = hidden;
  if (fp.tokenizer) {
    const t = fp.tokenizer;
    encoded.vocabulary = { tokensHash: t.tokensHash, size: t.size, convention: t.convention, minhash: uint32ToBytes(t.minhash), bandKeys: [...new Set(vocabularyBandKeys(t.minhash))] };
  }
  if (meta.provenance) {
    encoded.provenanceJson = JSON.stringify(meta.provenance);
    if (encoded.provenanceJson.length > MAX_PROVENANCE_BYTES) throw new RangeError(`the provenance of ${meta.id} is larger than ${MAX_PROVENANCE_BYTES} bytes`);
  }
  return encoded;
}

/** Inflates (bounded) and validates a stored fingerprint: the store is untrusted, like any model file. */
export function decodeFingerprintBody(location: string, id: string, sha256: unknown, body: unknown): Fingerprint {
  const fail = (what: string): never => {
    throw new RegistryError(location, `corrupt registry: ${what}; run "lineage db verify" for details`);
  };
  if (!(body instanceof Uint8Array) || body.length > MAX_FINGERPRINT_JSON_BYTES) fail(`the fingerprint of ${id} is missing or larger than ${MAX_FINGERPRINT_JSON_BYTES} bytes`);
  let json = '';
  try {
    json = inflateRawSync(body as Uint8Array, { maxOutputLength: MAX_FINGERPRINT_JSON_BYTES }).toString('utf8');
  } catch (err) {
    fail(`the fingerprint of ${id} does not decompress (${err instanceof Error ? err.message : String(err)})`);
  }
  if (createHash('sha256').update(json, 'utf8').digest('hex') !== sha256) fail(`the fingerprint of ${id} does not match its stored sha256`);
  try {
    return parseFingerprint(json, `${location}#${id}`);
  } catch (err) {
    return fail(`the fingerprint of ${id} is invalid (${err instanceof Error ? err.message : String(err)})`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks a provenance object read from a store or a shared dataset (untrusted JSON). Throws RangeError. */
export function parseProvenance(raw: unknown): EntryProvenance {
  if (!isRecord(raw) || typeof raw.tool !== 'string' || typeof raw.extractorVersion !== 'string') throw new RangeError('provenance needs "tool" and "extractorVersion" strings');
  const out: EntryProvenance = { tool: raw.tool, extractorVersion: raw.extractorVersion };
  for (const key of ['repo', 'commit', 'contributor', 'pulledFrom'] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new RangeError(`provenance.${key} must be a string`);
    out[key] = value;
  }
  if (raw.lfsSha256 !== undefined) {
    if (!isRecord(raw.lfsSha256)) throw new RangeError('provenance.lfsSha256 must map file paths to sha256');
    const hashes: Record<string, string> = {};
    for (const [file, sha] of Object.entries(raw.lfsSha256)) {
      if (typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha)) throw new RangeError(`provenance.lfsSha256["${file}"] is not a sha256`);
      hashes[file] = sha;
    }
    out.lfsSha256 = hashes;
  }
  return out;
}

/** Checks the user-supplied metadata of an entry (ids end up in tables, terminals and JSON). Throws RangeError. */
export function validateMeta(meta: RegistryEntryMeta): RegistryEntryMeta {
  const checkText = (value: string | undefined, what: string, max: number) => {
    if (value === undefined) return;
    // eslint-disable-next-line no-control-regex
    if (value.length === 0 || value.length > max || /[\u0000-\u001f\u007f]/.test(value)) throw new RangeError(`${what} must be 1 to ${max} printable characters`);
  };
  checkText(meta.id, 'the entry id', MAX_ID_LENGTH);
  for (const [key, value] of Object.entries(meta)) if (typeof value === 'string') checkText(value, key, MAX_TEXT_LENGTH);
  meta.declaredParents.forEach((p) => checkText(p, 'a declared parent', MAX_TEXT_LENGTH));
  if (meta.kind !== 'weights' && meta.kind !== 'tokenizer') throw new RangeError(`unknown entry kind ${String(meta.kind)}`);
  if (meta.provenance) parseProvenance(meta.provenance);
  return meta;
}

export function uint32ToBytes(values: Uint32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v, true));
  return out;
}

export function bytesToUint32(bytes: Uint8Array): Uint32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Uint32Array.from({ length: Math.floor(bytes.length / 4) }, (_, i) => view.getUint32(i * 4, true));
}

/** JSON with sorted keys: two objects compare equal whatever order their keys were set in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/**
 * A stored entry already holds what `incoming` would write (an idempotent merge skips it). The
 * tokenizer family label belongs to the shared vocabulary: an incoming entry without one keeps it.
 */
export function storedMetaMatches(stored: RegistryEntryMeta, incoming: RegistryEntryMeta): boolean {
  const comparable = incoming.tokenizerFamily === undefined ? { ...stored, tokenizerFamily: undefined } : stored;
  return canonicalJson(comparable) === canonicalJson(incoming);
}
