// The reference registry: storage behind one interface (embedded SQLite via WebAssembly, or PostgreSQL), candidate
// retrieval by blocking and LSH, and scan. See docs in README ("Reference registry and scan").
export * from './types';
export { RegistryError } from './errors';
export { LockedError, PAUSE_BEFORE_RENAME_ENV } from './atomicFile';
export { openSqliteRegistry, openSqliteRegistrySync, SqliteRegistry, asAsyncRegistry } from './sqliteRegistry';
export { encodeEntry, decodeFingerprintBody, parseProvenance, validateMeta, canonicalJson } from './entryCodec';
export { openPgRegistry, PgRegistry, isPostgresUrl, redactUrl } from './pgRegistry';
export { scanRegistry, scanRegistryAsync, compareMatches, type ScanOptions, type ScanResult, type ScanMatch, type TokenizerFamilyMatch } from './scan';
export { formatEntryLine, parseEntryLine, readLinesBounded } from './ndjson';
export { embeddedRegistryPath, lineageCacheFolder, resolveRegistryPath, userRegistryPath } from './paths';
export { hasWeightSignals, contentIdOf } from './keys';
export { entryMetaFor, provenanceFor, TOOL_VERSION } from './entryMeta';
export { openAnyRegistry } from './openRegistry';
