// `lineage db <add|list|remove|stats|verify|export|import>`: manages a reference registry file
// (the embedded SQLite backend). Every write is atomic: a killed `db add` leaves the previous file.
import { createWriteStream } from 'node:fs';
import { closeSide, loadSide } from '../core/compare/compareModels';
import { errorMessage } from '../core/errors';
import {
  entryMetaFor,
  formatEntryLine,
  LockedError,
  openSqliteRegistry,
  parseEntryLine,
  readLinesBounded,
  RegistryError,
  resolveRegistryPath,
  type RegistryEntry,
  type SqliteRegistry,
} from '../core/registry';
import { flag, parseCommandArgs, stringOption, type OptionSpec, type ParsedArgs } from './args';
import { ExitCode, UsageError, type ExitCodeValue } from './exitCodes';
import { extractionProgress } from './progress';
import { cliModelOpener, REMOTE_OPTIONS, remoteUsage, reportRemoteCost } from './remote';
import { formatBytes, formatCount, renderFacts, renderTable } from './terminal';

export const dbUsage = `usage: lineage db <add|list|remove|stats|verify|export|import> [options] [--db FILE]

Manages a reference registry (one SQLite file) that "lineage scan" searches.

  db add <model...> [--id ORG/NAME] [--revision SHA] [--licence L] [--source S] [--tokenizer-family LABEL]
                          fingerprint models (folders, weight files, cached repo ids or
                          fingerprint JSON files) and add them; --id/--revision only with one model
  db list [--json]        the entries, sorted by id
  db remove <id>          remove one entry
  db stats [--json]       entries, blocks, tokenizer families, index and file sizes
  db verify [--json]      check the file: SQLite integrity, every fingerprint, every index row
  db export [-o FILE]     every entry as NDJSON (one fingerprint per line), to FILE or stdout
  db import <FILE>        add the entries of an NDJSON export (re-validated)

registry file: --db FILE, else $LINEAGE_DB, else for add/remove/import the user registry
$LINEAGE_CACHE_DIR/registry.sqlite (default ~/.cache/lineage-lens/registry.sqlite), and for
list/stats/verify/export the reference database shipped in data/reference.sqlite.

db add: ${remoteUsage}

exit codes: 0 ok, 2 usage, 3 unreadable model or registry (verify: problems found)`;

type Subcommand = (argv: string[]) => Promise<ExitCodeValue>;

const subcommands: Record<string, Subcommand> = { add: runAdd, list: runList, remove: runRemove, stats: runStats, verify: runVerify, export: runExport, import: runImport };

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

const DB_OPTION: OptionSpec = { db: { type: 'string' } };

async function openFromArgs(args: ParsedArgs, writable: boolean): Promise<SqliteRegistry> {
  const choice = resolveRegistryPath(stringOption(args, 'db'), writable);
  if (!choice) throw new RegistryError('data/reference.sqlite', 'no registry given and the embedded reference database is missing: pass --db FILE');
  return openSqliteRegistry(choice.path, { writable });
}

async function withRegistry(args: ParsedArgs, writable: boolean, body: (registry: SqliteRegistry) => Promise<ExitCodeValue>): Promise<ExitCodeValue> {
  const registry = await openFromArgs(args, writable);
  try {
    return await body(registry);
  } finally {
    registry.close();
  }
}

async function runAdd(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(
    argv,
    { ...DB_OPTION, id: { type: 'string' }, revision: { type: 'string' }, licence: { type: 'string' }, source: { type: 'string' }, 'tokenizer-family': { type: 'string' }, ...REMOTE_OPTIONS },
    { min: 1, max: 10_000 },
  );
  if (args.positionals.length > 1 && (stringOption(args, 'id') || stringOption(args, 'revision'))) throw new UsageError('--id and --revision name one model: add models one at a time to use them');
  // Fingerprint everything before taking the lock: a slow or failing model never holds the registry.
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
      }),
      fingerprint: side.fingerprint,
    });
  }
  return withRegistry(args, true, async (registry) => {
    for (const entry of prepared) {
      const outcome = registry.put({ meta: entry.meta, fingerprint: entry.fingerprint });
      process.stderr.write(`${outcome} ${entry.meta.id} (${entry.meta.kind}${entry.meta.kind === 'tokenizer' ? ': tokenizer family only, no weight lineage' : ''}) from ${entry.target}\n`);
    }
    registry.commit();
    process.stderr.write(`${registry.location}: ${registry.stats().entries} entries\n`);
    return ExitCode.ok;
  });
}

async function runList(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { ...DB_OPTION, json: { type: 'boolean' } }, { min: 0, max: 0 });
  return withRegistry(args, false, async (registry) => {
    const entries = registry.list();
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
    if (!registry.remove(id)) {
      process.stderr.write(`lineage db remove: no entry "${id}" in ${registry.location}\n`);
      return ExitCode.notRelated;
    }
    registry.commit();
    process.stderr.write(`removed ${id}\n`);
    return ExitCode.ok;
  });
}

async function runStats(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { ...DB_OPTION, json: { type: 'boolean' } }, { min: 0, max: 0 });
  return withRegistry(args, false, async (registry) => {
    const s = registry.stats();
    if (flag(args, 'json')) {
      process.stdout.write(JSON.stringify({ location: registry.location, ...s }, null, 2) + '\n');
      return ExitCode.ok;
    }
    const facts: Array<[string, string]> = [
      ['file', `${registry.location} (${formatBytes(s.fileBytes)})`],
      ['schema', `version ${s.schemaVersion}, sketches version ${s.sketchVersion}`],
      ['entries', `${formatCount(s.entries)} (${formatCount(s.weightEntries)} with weights, ${formatCount(s.tokenizerEntries)} tokenizer only)`],
      ['per entry', s.entries ? formatBytes(Math.round(s.fileBytes / s.entries)) : '-'],
      ['fingerprints', formatBytes(s.fingerprintBytes) + ' compressed'],
      ['vocabularies', `${formatCount(s.vocabularies)} (${formatCount(s.vocabularyBands)} LSH rows)`],
      ['weight LSH', `${formatCount(s.weightBands)} rows`],
      ['blocks', s.blocks.slice(0, 8).map((b) => `hidden ${b.hiddenSize}: ${b.entries}`).join(', ') || '-'],
      ['tokenizers', s.tokenizerFamilies.slice(0, 12).map((t) => `${t.family}: ${t.entries}`).join(', ') || '-'],
    ];
    process.stdout.write(renderFacts(facts) + '\n');
    return ExitCode.ok;
  });
}

async function runVerify(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { ...DB_OPTION, json: { type: 'boolean' } }, { min: 0, max: 0 });
  let report;
  let location = stringOption(args, 'db') ?? '';
  try {
    report = await withRegistryReport(args);
    location = report.location;
  } catch (err) {
    if (!(err instanceof RegistryError)) throw err;
    report = { location: err.file, ok: false, entries: 0, problems: [err.message] };
  }
  if (flag(args, 'json')) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else if (report.ok) process.stdout.write(`${location}: ok (${report.entries} entries; SQLite integrity, fingerprints and index rows checked)\n`);
  else process.stdout.write(`${report.location}: ${report.problems.length} problem(s)\n${report.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  return report.ok ? ExitCode.ok : ExitCode.unreadable;
}

async function withRegistryReport(args: ParsedArgs): Promise<{ location: string; ok: boolean; entries: number; problems: string[] }> {
  const registry = await openFromArgs(args, false);
  try {
    return { location: registry.location, ...registry.verify() };
  } finally {
    registry.close();
  }
}

async function runExport(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { ...DB_OPTION, output: { type: 'string', short: 'o' } }, { min: 0, max: 0 });
  return withRegistry(args, false, async (registry) => {
    const output = stringOption(args, 'output');
    const stream: NodeJS.WritableStream = output ? createWriteStream(output) : process.stdout;
    let count = 0;
    for (const entry of registry.entries()) {
      if (!stream.write(formatEntryLine(entry) + '\n')) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
      count++;
    }
    if (output) await new Promise<void>((resolve, reject) => {
      stream.once('error', reject);
      stream.end(() => resolve());
    });
    process.stderr.write(`exported ${count} entries${output ? ` to ${output}` : ''}\n`);
    return ExitCode.ok;
  });
}

async function runImport(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, DB_OPTION, { min: 1, max: 1 });
  const file = args.positionals[0]!;
  // Parse and validate every line before the registry is touched: a bad line imports nothing.
  const entries: RegistryEntry[] = [];
  for await (const { line, lineNumber } of readLinesBounded(file)) {
    if (line.trim() === '') continue;
    entries.push(parseEntryLine(line, `${file}:${lineNumber}`));
  }
  return withRegistry(args, true, async (registry) => {
    let added = 0;
    let replaced = 0;
    for (const entry of entries) {
      try {
        if (registry.put(entry) === 'added') added++;
        else replaced++;
      } catch (err) {
        if (err instanceof RangeError) throw new UsageError(`${file}: entry ${entry.meta.id}: ${errorMessage(err)}`);
        throw err;
      }
    }
    registry.commit();
    process.stderr.write(`imported ${entries.length} entries (${added} added, ${replaced} replaced) into ${registry.location}\n`);
    return ExitCode.ok;
  });
}
