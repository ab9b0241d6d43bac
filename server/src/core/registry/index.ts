// The reference registry: storage behind one interface (embedded SQLite via WebAssembly), candidate
// retrieval by blocking and LSH, and scan. See docs in README ("Reference registry and scan").
export * from './types';
export { RegistryError } from './errors';
export { LockedError, PAUSE_BEFORE_RENAME_ENV } from './atomicFile';
export { openSqliteRegistry, SqliteRegistry, MAX_REGISTRY_FILE_BYTES } from './sqliteRegistry';
export { scanRegistry, compareMatches, type ScanOptions, type ScanResult, type ScanMatch, type TokenizerFamilyMatch } from './scan';
export { formatEntryLine, parseEntryLine, readLinesBounded } from './ndjson';
export { embeddedRegistryPath, lineageCacheFolder, resolveRegistryPath, userRegistryPath } from './paths';
export { hasWeightSignals, contentIdOf } from './keys';
export { entryMetaFor } from './entryMeta';
