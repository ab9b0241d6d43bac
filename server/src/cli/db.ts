// `lineage db <add|list|remove|stats|verify|export|import|migrate|vacuum|pull|publish>`: manages a
// reference registry (an SQLite file, or PostgreSQL by URL). Every write is a transaction: a killed
// `db add` leaves no partial entry.
import { createWriteStream } from 'node:fs';
import { userInfo } from 'node:os';
import { closeSide, loadSide } from '../core/compare/compareModels';
import { errorMessage } from '../core/errors';
import {
  entryMetaFor,
  formatEntryLine,
  isPostgresUrl,
  LockedError,
  openAnyRegistry,
  openPgRegistry,
  parseEntryLine,
  readLinesBounded,
  RegistryError,
  resolveRegistryPath,
  type AsyncRegistry,
  type RegistryEntry,
} from '../core/registry';
import { flag, parseCommandArgs, stringOption, type OptionSpec, type ParsedArgs } from './args';
import { ExitCode, UsageError, type ExitCodeValue } from './exitCodes';
import { extractionProgress } from './progress';
import { cliModelOpener, REMOTE_OPTIONS, remoteUsage, reportRemoteCost } from './remote';
import { formatBytes, formatCount, ProgressBar, renderFacts, renderTable } from './terminal';
import { runPull, runPublish, runBuild } from './dbHub';

export const dbUsage = `usage: lineage db <command> [options] [--db FILE|postgres://...]

Manages a reference registry that "lineage scan" searches: one SQLite file, or a PostgreSQL
database shared by an organisation.

  db add <model...> [--id ORG/NAME] [--revision SHA] [--licence L] [--source S] [--tokenizer-family LABEL] [--contributor NAME]
                          fingerprint models (folders, weight files, cached repo ids or
                          fingerprint JSON files) and add them; --id/--revision only with one model
  db list [--json]        the entries, sorted by id
  db remove <id>          remove one entry
  db stats [--json]       entries, blocks, families, tokenizer families, index and file sizes
  db verify [--json]      check every fingerprint and every index row (and SQLite integrity)
  db export [-o FILE]     every entry as NDJSON (one fingerprint per line), to FILE or stdout
  db import <FILE|->      add the entries of an NDJSON export or stream (re-validated; "-" is stdin)
  db migrate              create or upgrade the PostgreSQL tables (versioned migrations)
  db vacuum               reclaim the space of removed entries, refresh the planner's statistics
  db pull [DATASET] [--revision SHA]
                          merge a shared fingerprint dataset from the Hub (shards pinned to a
                          commit, sha256-checked; entries contradicting the Hub are rejected)
  db publish <model...> [--dataset D] [--contributor NAME]
                          contribute entries to the shared dataset as a pull request
  db build --from-list FILE
                          fingerprint a list of Hub models by range reads into the registry

registry: --db FILE or --db postgres://user@host/db (credentials from PGPASSWORD or ~/.pgpass,
TLS from sslmode/sslrootcert in the URL or PGSSLMODE/PGSSLROOTCERT), else $LINEAGE_DB_URL, else
$LINEAGE_DB, else for writes the user registry $LINEAGE_CACHE_DIR/registry.sqlite (default
~/.cache/lineage-lens/registry.sqlite), and for reads the reference database in data/reference.sqlite.

db add: ${remoteUsage}

exit codes: 0 ok, 2 usage, 3 unreadable model or registry (verify: problems found)`;

type Subcommand = (argv: string[]) => Promise<ExitCodeValue>;

const subcommands: Record<string, Subcommand> = {
  add: runAdd, list: runList, remove: runRemove, stats: runStats, verify: runVerify, export: runExport, import: runImport,
  migrate: runMigrate, vacuum: runVacuum, pull: runPull, publish: runPublish, build: runBuild,
};

export async function runDb(argv: string[]): Promise<ExitCodeValue> {
  const [name, ...rest] = argv;
  const sub = name ? subcommands[name] : undefined;
  if (!sub) throw new UsageError(name ? `unknown db command "${name}"` : 'missing db command');
  return withRegistryErrors(`db ${name}`, () => sub(rest));
}

/** Registry faults are exit 3 with the registry's own message (main() only knows model errors). */
export async function withRegistryErrors(command: string, body: () => Promise<ExitCodeValue>): Promise<ExitCodeValue> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof RegistryError || err instanceof LockedError) {
      process.stderr.write(`lineage ${command}: ${err.message}\n`);
      return ExitCode.unreadable;
    }
    if (err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
}

export const DB_OPTION: OptionSpec = { db: { type: 'string' } };
/** Entries written per transaction: a killed writer loses at most one batch, never part of an entry. */
const WRITE_BATCH = 50;
/** Larger batches for imports (one SQLite journal, one PostgreSQL round trip per batch). */
const IMPORT_BATCH = 500;

export async function openFromArgs(args: ParsedArgs, writable: boolean): Promise<AsyncRegistry> {
  const choice = resolveRegistryPath(stringOption(args, 'db'), writable);
  if (!choice) throw new RegistryError('data/reference.sqlite', 'no registry given and the embedded reference database is missing: pass --db FILE');
  return openAnyRegistry(choice.path, { writable });
}

export async function withRegistry(args: ParsedArgs, writable: boolean, body: (registry: AsyncRegistry) => Promise<ExitCodeValue>): Promise<ExitCodeValue> {
  const registry = await openFromArgs(args, writable);
  try {
    return await body(registry);
  } finally {
    await registry.close();
  }
}

/** Who contributes entries: --contributor, else $LINEAGE_CONTRIBUTOR, else the login name. */
export function contributorFrom(args: ParsedArgs): string | undefined {
  const given = stringOption(args, 'contributor') ?? process.env.LINEAGE_CONTRIBUTOR;
  if (given) return given;
  try {
    return userInfo().username || undefined;
  } catch {
    return undefined;
  }
}

async function runAdd(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(
    argv,
    { ...DB_OPTION, id: { type: 'string' }, revision: { type: 'string' }, licence: { type: 'string' }, source: { type: 'string' }, 'tokenizer-family': { type: 'string' }, contributor: { type: 'string' }, ...REMOTE_OPTIONS },
    { min: 1, max: 10_000 },
  );
  if (args.positionals.length > 1 && (stringOption(args, 'id') || stringOption(args, 'revision'))) throw new UsageError('--id and --revision name one model: add models one at a time to use them');
  const contributor = contributorFrom(args);
  // Fingerprint everything before opening the registry: a slow or failing model never holds a lock or a transaction.
  const prepared: Array<RegistryEntry & { target: string }> = [];
  for (const target of args.positionals) {
    const progress = extractionProgress(`reading ${target}`);
    const side = await loadSide(target, progress.options, cliModelOpener(args)).finally(() => progress.done());
    reportRemoteCost(side.model);
    await closeSide(side);
    prepared.push({
      target,
      meta: entryMetaFor(side.fingerprint, {
        id: stringOption(args, 'id'),
        revision: stringOption(args, 'revision'),
        licence: stringOption(args, 'licence'),
        source: stringOption(args, 'source'),
        tokenizerFamily: stringOption(args, 'tokenizer-family'),
        contributor,
      }),
      fingerprint: side.fingerprint,
    });
  }
  return withRegistry(args, true, async (registry) => {
    for (let start = 0; start < prepared.length; start += WRITE_BATCH) {
      const batch = prepared.slice(start, start + WRITE_BATCH);
      const summary = await registry.putMany(batch.map((e) => ({ meta: e.meta, fingerprint: e.fingerprint })));
      for (const entry of batch) {
        const outcome = summary.byId.get(entry.meta.id) ?? 'unchanged';
        process.stderr.write(`${outcome} ${entry.meta.id} (${entry.meta.kind}${entry.meta.kind === 'tokenizer' ? ': tokenizer family only, no weight lineage' : ''}) from ${entry.target}\n`);
      }
    }
    process.stderr.write(`${registry.location}: ${await registry.entryCount()} entries\n`);
    return ExitCode.ok;
  });
}

async function runList(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { ...DB_OPTION, json: { type: 'boolean' } }, { min: 0, max: 0 });
  return withRegistry(args, false, async (registry) => {
    const entries = await registry.list();
    if (flag(args, 'json')) process.stdout.write(JSON.stringify(entries, null, 2) + '\n');
    else if (entries.length === 0) process.stdout.write(`${registry.location}: no entries\n`);
    else {
      const rows = entries.map((e) => [e.id, e.kind, e.family ?? '-', e.hiddenSize ? String(e.hiddenSize) : '-', e.tokenizerFamily ?? (e.vocabularySize ? `${formatCount(e.vocabularySize)} tokens` : '-'), e.revision?.slice(0, 12) ?? '-', e.declaredParents.join(', ') || '-']);
      process.stdout.write(renderTable([['id', 'kind', 'family', 'hidden', 'tokenizer', 'revision', 'declared parents'], ...rows]) + '\n');
    }
    return ExitCode.ok;
  });
}

async function runRemove(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, DB_OPTION, { min: 1, max: 1 });
  const id = args.positionals[0]!;
  return withRegistry(args, true, async (registry) => {
    if (!(await registry.remove(id))) {
      process.stderr.write(`lineage db remove: no entry "${id}" in ${registry.location}\n`);
      return ExitCode.notRelated;
    }
    process.stderr.write(`removed ${id}\n`);
    return ExitCode.ok;
  });
}

async function runStats(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { ...DB_OPTION, json: { type: 'boolean' } }, { min: 0, max: 0 });
  return withRegistry(args, false, async (registry) => {
    const s = await registry.stats();
    if (flag(args, 'json')) {
      process.stdout.write(JSON.stringify({ location: registry.location, ...s }, null, 2) + '\n');
      return ExitCode.ok;
    }
    const facts: Array<[string, string]> = [
      [isPostgresUrl(registry.location) ? 'database' : 'file', `${registry.location} (${formatBytes(s.fileBytes)}${isPostgresUrl(registry.location) ? ' in tables and indexes' : ''})`],
      ['schema', `version ${s.schemaVersion}, sketches version ${s.sketchVersion}`],
      ['entries', `${formatCount(s.entries)} (${formatCount(s.weightEntries)} with weights, ${formatCount(s.tokenizerEntries)} tokenizer only)`],
      ['per entry', s.entries ? formatBytes(Math.round(s.fileBytes / s.entries)) : '-'],
      ['fingerprints', formatBytes(s.fingerprintBytes) + ' compressed'],
      ['vocabularies', `${formatCount(s.vocabularies)} (${formatCount(s.vocabularyBands)} LSH rows)`],
      ['weight LSH', `${formatCount(s.weightBands)} rows`],
      ['families', s.families.slice(0, 12).map((f) => `${f.family}: ${formatCount(f.entries)} (${formatBytes(f.fingerprintBytes)})`).join(', ') || '-'],
      ['blocks', s.blocks.slice(0, 8).map((b) => `hidden ${b.hiddenSize}: ${b.entries}`).join(', ') || '-'],
      ['tokenizers', s.tokenizerFamilies.slice(0, 12).map((t) => `${t.family}: ${t.entries}`).join(', ') || '-'],
    ];
    process.stdout.write(renderFacts(facts) + '\n');
    return ExitCode.ok;
  });
}

async function runVerify(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { ...DB_OPTION, json: { type: 'boolean' } }, { min: 0, max: 0 });
  let report: { location: string; ok: boolean; entries: number; problems: string[] };
  try {
    report = await withRegistryReport(args);
  } catch (err) {
    if (!(err instanceof RegistryError)) throw err;
    report = { location: err.file, ok: false, entries: 0, problems: [err.message] };
  }
  if (flag(args, 'json')) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else if (report.ok) process.stdout.write(`${report.location}: ok (${report.entries} entries; fingerprints and index rows checked)\n`);
  else process.stdout.write(`${report.location}: ${report.problems.length} problem(s)\n${report.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  return report.ok ? ExitCode.ok : ExitCode.unreadable;
}

async function withRegistryReport(args: ParsedArgs): Promise<{ location: string; ok: boolean; entries: number; problems: string[] }> {
  const registry = await openFromArgs(args, false);
  try {
    return { location: registry.location, ...(await registry.verify()) };
  } finally {
    await registry.close();
  }
}

async function runExport(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { ...DB_OPTION, output: { type: 'string', short: 'o' } }, { min: 0, max: 0 });
  return withRegistry(args, false, async (registry) => {
    const output = stringOption(args, 'output');
    const stream: NodeJS.WritableStream = output ? createWriteStream(output) : process.stdout;
    const total = await registry.entryCount();
    const bar = new ProgressBar('exporting', process.stderr, formatCount);
    let count = 0;
    for await (const entry of registry.entries()) {
      if (!stream.write(formatEntryLine(entry) + '\n')) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
      bar.update(++count, total);
    }
    bar.finish();
    if (output) await new Promise<void>((resolve, reject) => {
      stream.once('error', reject);
      stream.end(() => resolve());
    });
    process.stderr.write(`exported ${count} entries${output ? ` to ${output}` : ''}\n`);
    return ExitCode.ok;
  });
}

/**
 * Streams NDJSON into the registry in batches (bounded memory for millions of lines). Every line is
 * re-validated; a bad line stops the import with its line number, after the batches before it.
 */
async function runImport(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, DB_OPTION, { min: 1, max: 1 });
  const file = args.positionals[0]!;
  return withRegistry(args, true, async (registry) => {
    const totals = { added: 0, replaced: 0, unchanged: 0 };
    const bar = new ProgressBar('importing', process.stderr, formatCount);
    const started = Date.now();
    let batch: RegistryEntry[] = [];
    let lines = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      let summary;
      try {
        summary = await registry.putMany(batch);
      } catch (err) {
        if (err instanceof RangeError) throw new UsageError(`${file}: ${errorMessage(err)}`);
        throw err;
      }
      totals.added += summary.added;
      totals.replaced += summary.replaced;
      totals.unchanged += summary.unchanged;
      batch = [];
    };
    for await (const { line, lineNumber } of readLinesBounded(file === '-' ? process.stdin : file)) {
      if (line.trim() === '') continue;
      batch.push(parseEntryLine(line, `${file}:${lineNumber}`));
      lines++;
      if (batch.length >= IMPORT_BATCH) {
        await flush();
        bar.update(lines, Math.max(lines, 1));
        if (!bar.enabled && Date.now() - started > 5_000 && lines % (IMPORT_BATCH * 20) === 0) process.stderr.write(`  ${formatCount(lines)} entries imported\n`);
      }
    }
    await flush();
    bar.finish();
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(
      `imported ${lines} entries (${totals.added} added, ${totals.replaced} replaced, ${totals.unchanged} unchanged) into ${registry.location} in ${seconds.toFixed(1)} s (${Math.round(lines / Math.max(seconds, 0.001))} entries/s)\n`,
    );
    return ExitCode.ok;
  });
}

async function runMigrate(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, DB_OPTION, { min: 0, max: 0 });
  const choice = resolveRegistryPath(stringOption(args, 'db'), true);
  if (!choice) throw new UsageError('db migrate needs --db or LINEAGE_DB_URL');
  if (!isPostgresUrl(choice.path)) {
    // An SQLite file is migrated whenever a writer opens it.
    return withRegistry(args, true, async (registry) => {
      process.stderr.write(`${registry.location}: schema version ${(await registry.stats()).schemaVersion}\n`);
      return ExitCode.ok;
    });
  }
  const registry = await openPgRegistry(choice.path, { writable: true, migrate: false, skipSchemaCheck: true });
  try {
    const applied = await registry.migrate();
    process.stderr.write(`${registry.location}: ${applied.length ? `applied migration(s) ${applied.join(', ')}` : 'up to date'} (schema version ${await registry.schemaVersion()})\n`);
    return ExitCode.ok;
  } finally {
    await registry.close();
  }
}

async function runVacuum(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, DB_OPTION, { min: 0, max: 0 });
  return withRegistry(args, true, async (registry) => {
    const before = (await registry.stats()).fileBytes;
    await registry.vacuum();
    const after = (await registry.stats()).fileBytes;
    process.stderr.write(`${registry.location}: ${formatBytes(before)} -> ${formatBytes(after)}\n`);
    return ExitCode.ok;
  });
}
