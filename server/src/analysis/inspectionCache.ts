// The on-disk cache of inspections (facts + fingerprint) under `<cache folder>/fingerprints`, so a
// restarted editor does not fingerprint every referenced model again. Keyed by content identity and
// extractor version; each entry also records a freshness stamp (sizes and modification times of the
// model's files), so a file rewritten in place (a tampered cache blob keeps its name) is read again.
// Runs inside worker threads. The folder is the user's, but entries are still read defensively.
import { createHash } from 'node:crypto';
import { mkdirSync, openSync, closeSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync, fsyncSync } from 'node:fs';
import * as path from 'node:path';
import { serializeFingerprint, parseFingerprint, MAX_FINGERPRINT_JSON_BYTES } from '../core/fingerprint/encoding';
import type { InspectOutput } from './jobs';
import type { ModelFacts } from '../protocol';

const FORMAT = 'lineage-lens/inspection-cache';
const VERSION = 1;
/** A model folder with more entries than this is stamped by its first ones only (and is not a model folder). */
const MAX_STAMPED_FILES = 10_000;
const MAX_STAMP_DEPTH = 4;

interface CacheDocument {
  format: typeof FORMAT;
  version: typeof VERSION;
  key: string;
  stamp: string;
  facts: ModelFacts;
  /** Serialized fingerprint, or null when the model could not be fingerprinted. */
  fingerprint: string | null;
}

function entryPath(folder: string, key: string): string {
  return path.join(folder, `${createHash('sha256').update(key).digest('hex')}.json`);
}

/** Sizes and modification times of every file under the model path (symlinks followed: cache blobs). */
export function freshnessStamp(modelPath: string): string {
  const hash = createHash('sha256');
  let seen = 0;
  const visit = (target: string, relative: string, depth: number): void => {
    if (seen >= MAX_STAMPED_FILES) return;
    let info;
    try {
      info = statSync(target);
    } catch {
      hash.update(`${relative}\0missing\n`);
      return;
    }
    seen++;
    if (info.isDirectory()) {
      if (depth >= MAX_STAMP_DEPTH) return;
      for (const name of readdirSync(target).sort()) visit(path.join(target, name), `${relative}/${name}`, depth + 1);
    } else {
      hash.update(`${relative}\0${info.size}\0${info.mtimeMs}\n`);
    }
  };
  visit(modelPath, '.', 0);
  return hash.digest('hex');
}

/** The cached inspection for `key`, when present, complete and still fresh. Any fault is a miss. */
export function readCachedInspection(folder: string, key: string, stamp: string): InspectOutput | undefined {
  const file = entryPath(folder, key);
  try {
    if (statSync(file).size > MAX_FINGERPRINT_JSON_BYTES) return undefined;
    const document = JSON.parse(readFileSync(file, 'utf8')) as Partial<CacheDocument>;
    if (document.format !== FORMAT || document.version !== VERSION || document.key !== key || document.stamp !== stamp) return undefined;
    if (typeof document.facts !== 'object' || document.facts === null || typeof document.facts.contentIdentity !== 'string') return undefined;
    if (document.fingerprint === null) return { facts: document.facts };
    if (typeof document.fingerprint !== 'string') return undefined;
    return { facts: document.facts, fingerprint: parseFingerprint(document.fingerprint, file) };
  } catch {
    return undefined;
  }
}

/** Stores an inspection atomically (temp file, fsync, rename); a failure to write only costs a later re-read. */
export function writeCachedInspection(folder: string, key: string, stamp: string, output: InspectOutput): void {
  const document: CacheDocument = { format: FORMAT, version: VERSION, key, stamp, facts: output.facts, fingerprint: output.fingerprint ? serializeFingerprint(output.fingerprint) : null };
  const file = entryPath(folder, key);
  const temp = `${file}.${process.pid}.${Date.now().toString(36)}.tmp`;
  try {
    mkdirSync(folder, { recursive: true });
    const fd = openSync(temp, 'w', 0o644);
    try {
      writeSync(fd, JSON.stringify(document));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch {
    rmSync(temp, { force: true });
  }
}
