// Benchmark of the registry backends at scale: fills a registry (SQLite file or PostgreSQL database)
// with synthetic entries (test/fixtures/syntheticRegistry.ts), then, in a fresh child process (a
// clean client), times opening it, measures the client's RSS, and times scans.
// Usage: npm run bench:registry -- --backend sqlite|postgres --entries N [--replicate K] [--scans S] [--db FILE|URL] [--keep] [--database NAME]
//   sqlite: --db FILE that exists is reused as it is (no import): build once with --keep, measure many times.
//   postgres: --db URL of the cluster (else $LINEAGE_DB_URL or $LINEAGE_TEST_PG_URL); a scratch
//   database lineage_bench_<pid> is created there and dropped afterwards unless --keep. --database NAME
//   uses that database instead: created and filled when missing (and kept), reused as it is when it exists.
// The import rate counts encoding and writing; generating the synthetic entries is timed apart and left out.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Database } from 'node-sqlite3-wasm';
import { Client } from 'pg';
import { RELATED_VERDICTS } from '../../server/src/core/compare/types';
import type { Fingerprint } from '../../server/src/core/fingerprint/types';
import { openPgRegistry, openSqliteRegistry, scanRegistry, scanRegistryAsync, type RegistryEntry, type ScanResult } from '../../server/src/core/registry';
import { createPrng } from '../../server/src/core/util/prng';
import { DERIVATIVES_PER_BASE, makeBase, makeVocabularies, syntheticEntry, syntheticFingerprint, syntheticRegistryState, type BaseWeights, type Vocab } from '../../test/fixtures/syntheticRegistry';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'sqlite' },
    entries: { type: 'string', default: '100000' },
    scans: { type: 'string', default: '200' },
    db: { type: 'string' },
    keep: { type: 'boolean', default: false },
    phase: { type: 'string', default: 'all' },
    'sqlite-batch': { type: 'string', default: '5000' },
    'pg-batch': { type: 'string', default: '250' },
    'pg-writers': { type: 'string', default: '2' },
    'pg-processes': { type: 'string', default: '2' },
    process: { type: 'string', default: '0' },
    replicate: { type: 'string', default: '1' },
    database: { type: 'string' },
  },
});
const backend = values.backend === 'postgres' ? 'postgres' : 'sqlite';
/** Entries generated and imported through the registry API (the import rate is measured on these). */
const GENERATED = Number(values.entries);
/**
 * --replicate K copies the generated entries K-1 times under new ids inside the database (SQL, no
 * re-encoding): reaches 10^6 rows on a busy 2-core machine. Copies share sketches with their
 * originals, so LSH buckets are K times fuller than in a registry of distinct models: scans do more
 * work than they would on real data, never less.
 */
const REPLICATE = Math.max(1, Number(values.replicate));
const ENTRIES = GENERATED * REPLICATE;
const SCANS = Number(values.scans);

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The base weights behind a stored base entry (its norms and anchor rows are the base's, undrifted). */
function baseFromFingerprint(fp: Fingerprint, vocabularies: Vocab[]): BaseWeights {
  const vocab = vocabularies.find((v) => v.tokensHash === fp.tokenizer?.tokensHash);
  if (!vocab) throw new Error(`${fp.model.name}: unknown synthetic vocabulary`);
  return { hidden: fp.architecture!.hiddenSize!, vocab, norms: fp.vectors.map((v) => Float32Array.from(v.values)), anchorRows: Float32Array.from(fp.tokenRows[0]!.values) };
}

interface QueryReport {
  openMs: number;
  rssAfterOpenMiB: number;
  rssAfterScansMiB: number;
  p50: number;
  p99: number;
  /** Client CPU per scan (user + system): what the scan costs when the machine is not shared. */
  cpuP50: number;
  cpuP99: number;
  found: number;
  clean: number;
  scans: number;
}

/** Runs in a fresh process: open, RSS, scans (half fine-tunes of stored bases, half independent models). */
async function queryPhase(location: string): Promise<QueryReport> {
  const vocabularies = makeVocabularies();
  // Queries derive from bases of the unprefixed families (process 0's slice when PostgreSQL was filled by several).
  const unprefixed = backend === 'postgres' ? sliceSize(Math.max(1, Number(values['pg-processes']))) : GENERATED;
  const bases = Math.ceil(unprefixed / (DERIVATIVES_PER_BASE + 1));
  const t0 = performance.now();
  const sqlite = backend === 'sqlite' ? await openSqliteRegistry(location) : undefined;
  const pg = backend === 'postgres' ? await openPgRegistry(location, { maxConnections: 2 }) : undefined;
  const openMs = performance.now() - t0;
  const rssAfterOpenMiB = process.memoryUsage().rss / 1024 / 1024;
  const get = async (id: string): Promise<RegistryEntry | undefined> => (sqlite ? sqlite.get(id) : pg!.get(id));
  const scan = async (fp: Fingerprint): Promise<ScanResult> => (sqlite ? scanRegistry(sqlite, fp) : scanRegistryAsync(pg!, fp));
  const prng = createPrng('bench-registry-queries');
  const latencies: number[] = [];
  const cpu: number[] = [];
  let found = 0;
  let clean = 0;
  for (let s = 0; s < SCANS; s++) {
    const derived = s % 2 === 0;
    let base: BaseWeights;
    if (derived) {
      const stored = await get(`org${prng.nextInt(bases)}/base`);
      base = baseFromFingerprint(stored!.fingerprint, vocabularies);
    } else base = makeBase(prng, vocabularies);
    const fp = syntheticFingerprint(`query-${s}`, base, derived ? 0.05 + 0.25 * prng.nextFloat() : 0, prng);
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const result = await scan(fp);
    latencies.push(performance.now() - start);
    const used = process.cpuUsage(cpuStart);
    cpu.push((used.user + used.system) / 1000);
    const related = result.matches.some((m) => RELATED_VERDICTS.has(m.verdict));
    if (derived && related) found++;
    if (!derived && !related) clean++;
  }
  const rssAfterScansMiB = process.memoryUsage().rss / 1024 / 1024;
  sqlite?.close();
  await pg?.close();
  latencies.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return { openMs, rssAfterOpenMiB, rssAfterScansMiB, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), cpuP50: percentile(cpu, 0.5), cpuP99: percentile(cpu, 0.99), found, clean, scans: SCANS };
}

function progress(i: number, start: number): void {
  if (i % 50_000 === 0) process.stderr.write(`  ${i} entries (${((performance.now() - start) / 1000).toFixed(0)} s)\n`);
}

async function fillSqlite(file: string): Promise<number> {
  const state = syntheticRegistryState();
  const batch = Number(values['sqlite-batch']);
  const start = performance.now();
  let generating = 0;
  const registry = await openSqliteRegistry(file, { writable: true });
  for (let i = 0; i < GENERATED; i++) {
    const t = performance.now();
    const entry = syntheticEntry(state, i);
    generating += performance.now() - t;
    registry.put(entry);
    if ((i + 1) % batch === 0) registry.commit();
    progress(i + 1, start);
  }
  registry.commit();
  registry.close();
  return (performance.now() - start - generating) / 1000;
}

interface FillResult {
  entries: number;
  /** Wall time of the import, generation excluded. */
  seconds: number;
  /** Client CPU of the import (encoding, driver), generation excluded. */
  cpuSeconds: number;
}

/**
 * CPU seconds used so far by a local PostgreSQL cluster: its postmaster (with the children it has
 * reaped) and its live backends, from /proc. Undefined when the server is not on this machine.
 */
async function serverCpuSeconds(url: string): Promise<number | undefined> {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]', ''].includes(host) || process.platform !== 'linux') return undefined;
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const backend = Number((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    const fields = (pid: number | string) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    const postmaster = Number(fields(backend)[1]);
    const ticks = 100; // USER_HZ on Linux
    const own = fields(postmaster);
    let total = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const f = fields(entry);
        if (Number(f[1]) === postmaster) total += Number(f[11]) + Number(f[12]);
      } catch {
        // The process ended meanwhile.
      }
    }
    return total / ticks;
  } finally {
    await client.end();
  }
}

/** Entries written by one filling process (process 0 holds the bases the queries derive from). */
function sliceSize(processes: number): number {
  return Math.ceil(GENERATED / processes);
}

/**
 * Several writer processes (--pg-processes, like an organisation's CI runners, so encoding uses every
 * core), each with a few pool connections sending batches. Process k > 0 writes its own families
 * under the id prefix "w<k>/". The rate is all entries over the slowest process's import time.
 */
async function fillPostgres(url: string): Promise<number> {
  const processes = Math.max(1, Number(values['pg-processes']));
  const serverBefore = await serverCpuSeconds(url);
  const children = Array.from({ length: processes }, (_, k) =>
    new Promise<FillResult>((resolve, reject) => {
      const child = spawn(process.execPath, [...process.execArgv, __filename, '--phase', 'pg-fill', '--process', String(k), '--pg-processes', String(processes), '--entries', String(GENERATED), '--pg-writers', String(values['pg-writers']), '--pg-batch', String(values['pg-batch']), '--db', url], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as FillResult) : reject(new Error(`fill process ${k} failed (exit ${code})`))));
    }),
  );
  const results = await Promise.all(children);
  const serverAfter = serverBefore === undefined ? undefined : await serverCpuSeconds(url);
  const registry = await openPgRegistry(url, { writable: true });
  await registry.vacuum();
  await registry.close();
  const entries = results.reduce((sum, r) => sum + r.entries, 0);
  if (entries < GENERATED) throw new Error(`only ${entries} of ${GENERATED} entries written`);
  importCpu = { clientMs: (1000 * results.reduce((sum, r) => sum + r.cpuSeconds, 0)) / entries };
  // The server's CPU counts the test connection that measures it too (a few ms).
  if (serverAfter !== undefined) importCpu.serverMs = (1000 * (serverAfter - serverBefore!)) / entries;
  return Math.max(...results.map((r) => r.seconds));
}

/** CPU per imported entry (PostgreSQL fills): what the import costs when the machine is not shared. */
let importCpu: { clientMs: number; serverMs?: number } | undefined;

/** One filling process: its slice of the entries through putMany over a few connections. */
async function fillPostgresSlice(url: string, k: number, processes: number): Promise<FillResult> {
  const writers = Number(values['pg-writers']);
  const batch = Number(values['pg-batch']);
  const count = Math.min(sliceSize(processes), GENERATED - k * sliceSize(processes));
  const registry = await openPgRegistry(url, { writable: true, maxConnections: writers });
  const state = syntheticRegistryState(k === 0 ? undefined : `bench-scan-${k}`);
  const prefix = k === 0 ? '' : `w${k}/`;
  const start = performance.now();
  let next = 0;
  let done = 0;
  // Generation is synchronous on this thread: its time is subtracted from the wall time.
  let generating = 0;
  let generatingCpu = 0;
  const cpuStart = process.cpuUsage();
  const makeBatch = (): RegistryEntry[] => {
    const t = performance.now();
    const c = process.cpuUsage();
    const out: RegistryEntry[] = [];
    while (out.length < batch && next < count) out.push(syntheticEntry(state, next++, prefix));
    generating += performance.now() - t;
    const used = process.cpuUsage(c);
    generatingCpu += (used.user + used.system) / 1e6;
    return out;
  };
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let entries = makeBatch(); entries.length; entries = makeBatch()) {
        await registry.putMany(entries);
        const before = done;
        done += entries.length;
        if (Math.floor(done / 50_000) > Math.floor(before / 50_000)) progress(Math.floor(done / 50_000) * 50_000, start);
      }
    }),
  );
  const seconds = (performance.now() - start - generating) / 1000;
  const used = process.cpuUsage(cpuStart);
  await registry.close();
  return { entries: count, seconds, cpuSeconds: (used.user + used.system) / 1e6 - generatingCpu };
}

async function replicateSqlite(file: string): Promise<void> {
  const start = performance.now();
  const db = new Database(file);
  db.exec('PRAGMA cache_size = -262144');
  for (let copy = 1; copy < REPLICATE; copy++) {
    const offset = copy * 10_000_000;
    db.exec('BEGIN');
    db.exec(`INSERT INTO models (rid, id, revision, family, declared_parents, licence, source, kind, content_id, provenance)
      SELECT rid + ${offset}, 'copy${copy}/' || id, revision, family, declared_parents, licence, source, kind, content_id, provenance FROM models WHERE rid < 10000000`);
    db.exec(`INSERT INTO fingerprints SELECT model_rid + ${offset}, extractor_version, json_sha256, json_bytes, body FROM fingerprints WHERE model_rid < 10000000`);
    db.exec(`INSERT INTO blocking_keys SELECT model_rid + ${offset}, architecture_hash, hidden_size, vocabulary_rid FROM blocking_keys WHERE model_rid < 10000000`);
    db.exec(`INSERT INTO sketches SELECT model_rid + ${offset}, norm, anchor, profile FROM sketches WHERE model_rid < 10000000`);
    db.exec(`INSERT INTO weight_bands SELECT key, model_rid + ${offset} FROM weight_bands WHERE model_rid < 10000000`);
    db.exec('COMMIT');
    process.stderr.write(`  copy ${copy} of ${REPLICATE - 1} (${((performance.now() - start) / 1000).toFixed(0)} s)\n`);
  }
  db.close();
}

async function postgresRows(url: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query('SELECT COUNT(*) AS n FROM lineage_models')).rows[0].n);
  } finally {
    await client.end();
  }
}

async function replicatePostgres(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    // Copies are consistent by construction: foreign-key triggers are skipped (superuser bench clusters), and a copy
    // made by an earlier, interrupted run is kept.
    await client.query('SET session_replication_role = replica').catch(() => undefined);
    for (let copy = 1; copy < REPLICATE; copy++) {
      if ((await client.query(`SELECT 1 FROM lineage_models WHERE id_key LIKE $1 LIMIT 1`, [`copy${copy}/%`])).rows.length) continue;
      await client.query('BEGIN');
      await client.query(`CREATE TEMP TABLE copy_map AS SELECT rid AS old_rid, nextval('lineage_models_rid_seq') AS new_rid FROM lineage_models WHERE id NOT LIKE 'copy%'`);
      await client.query(`INSERT INTO lineage_models (rid, id, id_key, revision, family, declared_parents, licence, source, kind, content_id, provenance, extractor_version, json_sha256, json_bytes, body, architecture_hash, hidden_size, vocabulary_rid, norm, anchor, profile)
        SELECT c.new_rid, 'copy${copy}/' || m.id, 'copy${copy}/' || m.id_key, m.revision, m.family, m.declared_parents, m.licence, m.source, m.kind, m.content_id, m.provenance, m.extractor_version, m.json_sha256, m.json_bytes, m.body, m.architecture_hash, m.hidden_size, m.vocabulary_rid, m.norm, m.anchor, m.profile
        FROM lineage_models m JOIN copy_map c ON c.old_rid = m.rid`);
      await client.query(`INSERT INTO lineage_weight_bands (key, model_rid) SELECT b.key, c.new_rid FROM lineage_weight_bands b JOIN copy_map c ON c.old_rid = b.model_rid`);
      await client.query('DROP TABLE copy_map');
      await client.query('COMMIT');
      process.stderr.write(`  copy ${copy} of ${REPLICATE - 1}\n`);
    }
    await client.query('VACUUM ANALYZE');
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  if (values.phase === 'pg-fill') {
    process.stdout.write(JSON.stringify(await fillPostgresSlice(values.db!, Number(values.process), Math.max(1, Number(values['pg-processes'])))) + '\n');
    return;
  }
  if (values.phase === 'query') {
    process.stdout.write(JSON.stringify(await queryPhase(values.db!)) + '\n');
    return;
  }
  const folder = mkdtempSync(path.join(tmpdir(), 'lineage-bench-registry-'));
  let location: string;
  let dropDatabase: (() => Promise<void>) | undefined;
  let existingDatabase = false;
  if (backend === 'sqlite') location = values.db ?? path.join(folder, 'registry.sqlite');
  else {
    const cluster = values.db ?? process.env.LINEAGE_DB_URL ?? process.env.LINEAGE_TEST_PG_URL;
    if (!cluster) throw new Error('--backend postgres needs --db postgres://... (or LINEAGE_DB_URL / LINEAGE_TEST_PG_URL)');
    const name = values.database ?? `lineage_bench_${process.pid}`;
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`--database ${name}: use lower-case letters, digits and _`);
    const admin = new Client({ connectionString: cluster });
    await admin.connect();
    existingDatabase = values.database !== undefined && (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rows.length > 0;
    if (!existingDatabase) await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(cluster);
    u.pathname = `/${name}`;
    location = u.toString();
    dropDatabase = async () => {
      const c = new Client({ connectionString: cluster });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  }
  try {
    const existing = backend === 'sqlite' ? values.db !== undefined && existsSync(location) : existingDatabase;
    const fillSeconds = existing ? NaN : backend === 'sqlite' ? await fillSqlite(location) : await fillPostgres(location);
    // A PostgreSQL database whose copies were interrupted is completed (SQLite copies run in one go).
    if (REPLICATE > 1 && (!existing || (backend === 'postgres' && (await postgresRows(location)) < ENTRIES))) await (backend === 'sqlite' ? replicateSqlite(location) : replicatePostgres(location));
    let sizeBytes: number;
    if (backend === 'sqlite') sizeBytes = statSync(location).size;
    else {
      const registry = await openPgRegistry(location);
      sizeBytes = (await registry.stats()).fileBytes;
      await registry.close();
    }
    const serverBeforeScans = backend === 'postgres' ? await serverCpuSeconds(location) : undefined;
    // The query phase runs in a fresh process: its RSS is a client's, not the filler's.
    const child = spawnSync(process.execPath, [...process.execArgv, __filename, '--phase', 'query', '--backend', backend, '--entries', String(GENERATED), '--replicate', String(REPLICATE), '--scans', String(SCANS), '--pg-processes', String(values['pg-processes']), '--db', location], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
    });
    if (child.status !== 0) throw new Error(`query phase failed (exit ${child.status})`);
    const q = JSON.parse(child.stdout) as QueryReport;
    const serverAfterScans = serverBeforeScans === undefined ? undefined : await serverCpuSeconds(location);
    const lines = [
      `backend:            ${backend}`,
      `entries:            ${ENTRIES}${REPLICATE > 1 ? ` (${GENERATED} generated x ${REPLICATE} copies)` : ''}${existing ? ` (existing ${backend === 'sqlite' ? 'file' : 'database'}, not imported again)` : `; import of ${GENERATED} through the API (encode + write, generation excluded): ${fillSeconds.toFixed(1)} s = ${Math.round(GENERATED / fillSeconds)} entries/s`}`,
      ...(importCpu
        ? [`import CPU:         client ${importCpu.clientMs.toFixed(2)} ms per entry${importCpu.serverMs !== undefined ? `, server ${importCpu.serverMs.toFixed(2)} ms per entry: ${Math.round((1000 * cpus().length) / (importCpu.clientMs + importCpu.serverMs))} entries/s if all ${cpus().length} cores were free` : ''}`]
        : []),
      `${backend === 'sqlite' ? 'file size:         ' : 'table size:        '} ${mib(sizeBytes)} (${Math.round(sizeBytes / ENTRIES)} bytes per entry)`,
      `open:               ${q.openMs.toFixed(0)} ms`,
      `client RSS:         ${q.rssAfterOpenMiB.toFixed(0)} MiB after open, ${q.rssAfterScansMiB.toFixed(0)} MiB after ${q.scans} scans`,
      `scan latency p50:   ${q.p50.toFixed(1)} ms`,
      `scan latency p99:   ${q.p99.toFixed(1)} ms`,
      `scan client CPU:    p50 ${q.cpuP50.toFixed(1)} ms, p99 ${q.cpuP99.toFixed(1)} ms (load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores)`,
      ...(serverAfterScans !== undefined ? [`scan server CPU:    ${((1000 * (serverAfterScans - serverBeforeScans!)) / q.scans).toFixed(1)} ms per scan on average (the local cluster's processes, opening and the queries' own lookups included)`] : []),
      `derivatives found:  ${q.found} of ${Math.ceil(q.scans / 2)}; independent models with no related entry: ${q.clean} of ${Math.floor(q.scans / 2)}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    if (!values.keep && values.database === undefined) {
      if (backend === 'sqlite' && values.db === undefined) rmSync(folder, { recursive: true, force: true });
      await dropDatabase?.();
    } else process.stderr.write(`kept ${backend === 'sqlite' ? location : location.replace(/:[^:@/]*@/, ':***@')}\n`);
    if (backend !== 'sqlite' || values.db !== undefined) rmSync(folder, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:registry: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
