// Benchmark: `lineage fingerprint` on a Llama-2-7B-shaped 13.5 GB safetensors checkpoint versus one full
// sequential read of the same files. Targets: the fingerprint reads at most 32 MiB of weights and takes at
// most 3% of the full read's wall time. Page caches are dropped before every measurement when the kernel
// allows it (cold: the model's files are read from disk; node and dist/cli.js are re-cached first);
// otherwise everything is measured warm after a warm-up read, and the output says which.
// Always exits 0 (a benchmark, not a test) unless the benchmark itself crashes.
//
//   npm run bench:fingerprint
//   LINEAGE_BENCH_DIR=/big/disk/llama npm run bench:fingerprint   (checkpoint folder, reused when complete)
//   LINEAGE_BENCH_RUNS=5      fingerprint runs to take the median of (default 3)
//   LINEAGE_BENCH_CACHE=warm  measure warm even when caches could be dropped
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { open, readdir, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { extractFingerprint } from '../../server/src/core/fingerprint/extract';
import { LocalFileSource } from '../../server/src/core/io/byteSource';
import { openModel } from '../../server/src/core/model/openModel';
import { ensureCheckpoint, formatGB } from './llamaCheckpoint';

const MIB = 1024 * 1024;
const TARGET_MAX_READ_BYTES = 32 * MIB;
const TARGET_MAX_TIME_RATIO = 0.03;
const FULL_READ_CHUNK_BYTES = 16 * MIB;

const repoRoot = path.resolve(__dirname, '..', '..');
const cliPath = path.join(repoRoot, 'dist', 'cli.js');

type CacheMode = 'cold' | 'warm';

interface FingerprintRun {
  wallMs: number;
  bytesRead: number;
  summary: string;
}

interface FullRead {
  wallMs: number;
  bytes: number;
}

function log(line: string): void {
  process.stdout.write(line + '\n');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(2)} MiB`;
}

/** `sync; echo 3 > /proc/sys/vm/drop_caches`; false when not allowed (not root, read-only /proc). */
function dropPageCache(): boolean {
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

function prepareCache(mode: CacheMode): void {
  if (mode === 'cold' && !dropPageCache()) throw new Error('dropping the page cache worked once and then failed');
}

async function runProcess(command: string, args: string[]): Promise<{ code: number | null; stderr: string; wallMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, wallMs: performance.now() - started }));
  });
}

function bytesReadOf(json: string): number {
  const parsed: unknown = JSON.parse(json);
  if (typeof parsed === 'object' && parsed !== null && 'bytesRead' in parsed && typeof parsed.bytesRead === 'number') return parsed.bytesRead;
  throw new Error('fingerprint JSON has no numeric bytesRead');
}

async function fingerprintOnce(folder: string, outFile: string): Promise<FingerprintRun> {
  await rm(outFile, { force: true });
  const result = await runProcess(process.execPath, [cliPath, 'fingerprint', folder, '-o', outFile]);
  if (result.code !== 0) throw new Error(`lineage fingerprint exited with ${result.code}:\n${result.stderr}`);
  return { wallMs: result.wallMs, bytesRead: bytesReadOf(await readFile(outFile, 'utf8')), summary: result.stderr.trim() };
}

/** Reads every file of the folder front to back in 16 MiB chunks, as a hash or a copy would. */
async function fullSequentialRead(folder: string): Promise<FullRead> {
  const names = (await readdir(folder, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name).sort();
  const buffer = new Uint8Array(FULL_READ_CHUNK_BYTES);
  const started = performance.now();
  let bytes = 0;
  for (const name of names) {
    const handle = await open(path.join(folder, name), 'r');
    try {
      for (let position = 0; ; ) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        bytes += bytesRead;
      }
    } finally {
      await handle.close();
    }
  }
  return { wallMs: performance.now() - started, bytes };
}

/**
 * The same extraction in this process, with LocalFileSource.read counted: how many positional reads the
 * fingerprint makes (the CLI does not print TensorStore's source stats), and open vs extract time.
 */
async function countPositionalReads(folder: string): Promise<{ reads: number; bytes: number; openMs: number; extractMs: number; storeBytes: number }> {
  const counter = { reads: 0, bytes: 0 };
  const originalRead = LocalFileSource.prototype.read;
  LocalFileSource.prototype.read = function (this: LocalFileSource, offset: number, length: number): Promise<Uint8Array> {
    counter.reads += 1;
    counter.bytes += length;
    return originalRead.call(this, offset, length);
  };
  try {
    const t0 = performance.now();
    const model = await openModel(folder);
    const t1 = performance.now();
    counter.reads = 0;
    counter.bytes = 0;
    try {
      const fp = await extractFingerprint(model);
      const t2 = performance.now();
      return { reads: counter.reads, bytes: counter.bytes, openMs: t1 - t0, extractMs: t2 - t1, storeBytes: fp.bytesRead };
    } finally {
      await model.close();
    }
  } finally {
    LocalFileSource.prototype.read = originalRead;
  }
}

function verdict(ok: boolean): string {
  return ok ? 'PASS' : 'FAIL';
}

async function main(): Promise<void> {
  const folder = path.resolve(process.env['LINEAGE_BENCH_DIR'] ?? path.join(os.tmpdir(), 'lineage-bench', 'llama2-7b-shaped'));
  const runs = Math.max(1, Number.parseInt(process.env['LINEAGE_BENCH_RUNS'] ?? '3', 10) || 3);
  if (!existsSync(cliPath)) {
    log(`bench:fingerprint: ${cliPath} is missing; run "npm run build" first.`);
    return;
  }

  const checkpoint = await ensureCheckpoint(folder, log);
  if (!checkpoint.ok) {
    log(`bench:fingerprint: skipped: ${checkpoint.reason}`);
    return;
  }
  log(`checkpoint: ${folder} (${checkpoint.plan.shards.map((s) => `${s.fileName} ${formatGB(s.fileBytes)}`).join(', ')}; ${checkpoint.reused ? 'reused' : 'freshly written'})`);

  const forcedWarm = process.env['LINEAGE_BENCH_CACHE'] === 'warm';
  const mode: CacheMode = !forcedWarm && dropPageCache() ? 'cold' : 'warm';
  if (mode === 'cold') log('cache: COLD (sync + drop_caches before every measurement; node + dist/cli.js re-cached before each fingerprint run)');
  else {
    log(`cache: WARM (${forcedWarm ? 'LINEAGE_BENCH_CACHE=warm' : 'cannot drop the page cache here'}); warming with one full read first ...`);
    const warmup = await fullSequentialRead(folder);
    log(`  warm-up read ${formatGB(warmup.bytes)} in ${(warmup.wallMs / 1000).toFixed(2)} s`);
  }

  // Node start-up plus loading the bundle: a floor under every CLI run, whatever the model.
  const startupMs: number[] = [];
  for (let i = 0; i < runs; i++) startupMs.push((await runProcess(process.execPath, [cliPath, '--help'])).wallMs);

  const outFile = path.join(os.tmpdir(), `lineage-bench-fingerprint-${process.pid}.json`);
  const fingerprintRuns: FingerprintRun[] = [];
  for (let i = 0; i < runs; i++) {
    prepareCache(mode);
    // Cold means the model's bytes, not node itself: re-cache the node binary and dist/cli.js (the full
    // read, running in this already-loaded process, pays no start-up either).
    if (mode === 'cold') await runProcess(process.execPath, [cliPath, '--help']);
    const run = await fingerprintOnce(folder, outFile);
    fingerprintRuns.push(run);
    log(`  fingerprint run ${i + 1}/${runs}: ${run.wallMs.toFixed(0)} ms, ${mib(run.bytesRead)} read`);
  }
  await rm(outFile, { force: true });

  prepareCache(mode);
  const fullRead = await fullSequentialRead(folder);
  log(`  full read: ${formatGB(fullRead.bytes)} in ${(fullRead.wallMs / 1000).toFixed(2)} s`);

  prepareCache(mode);
  const inProcess = await countPositionalReads(folder);

  const fingerprintMs = median(fingerprintRuns.map((r) => r.wallMs));
  const bytesRead = median(fingerprintRuns.map((r) => r.bytesRead));
  const ratio = fingerprintMs / fullRead.wallMs;
  const readsOk = bytesRead <= TARGET_MAX_READ_BYTES;
  const timeOk = ratio <= TARGET_MAX_TIME_RATIO;

  log('');
  log(`=== lineage fingerprint vs full read: Llama-2-7B-shaped BF16, ${checkpoint.plan.shards.length} shards, ${formatGB(checkpoint.plan.totalFileBytes)}, cache ${mode.toUpperCase()} ===`);
  log(`fingerprint bytes read     ${mib(bytesRead)} (${bytesRead} bytes; target <= ${mib(TARGET_MAX_READ_BYTES)})   ${verdict(readsOk)}`);
  log(`fingerprint wall time      ${fingerprintMs.toFixed(0)} ms median of ${runs} (${fingerprintRuns.map((r) => r.wallMs.toFixed(0)).join(', ')} ms), whole CLI process`);
  log(`  of which node start-up   ${median(startupMs).toFixed(0)} ms median (node dist/cli.js --help)`);
  log(`full sequential read       ${formatGB(fullRead.bytes)} (${fullRead.bytes} bytes) in ${(fullRead.wallMs / 1000).toFixed(2)} s (${(fullRead.bytes / 1e6 / (fullRead.wallMs / 1000)).toFixed(0)} MB/s)`);
  log(`time ratio                 ${(ratio * 100).toFixed(2)}% of the full read (target <= ${(TARGET_MAX_TIME_RATIO * 100).toFixed(0)}%)   ${verdict(timeOk)}`);
  log(`positional reads           ${inProcess.reads} reads, ${mib(inProcess.bytes)} during extraction (in-process run, ${mode}: open ${inProcess.openMs.toFixed(0)} ms, extract ${inProcess.extractMs.toFixed(0)} ms)`);
  log(`cli summary                ${fingerprintRuns[0]?.summary ?? ''}`);
  log(`overall                    ${verdict(readsOk && timeOk)}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:fingerprint failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
