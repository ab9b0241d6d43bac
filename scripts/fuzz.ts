// Long fuzzing runs over the model readers (the property of test/fuzz/readers.test.ts, for minutes):
//
//   npm run fuzz -- --format safetensors --seconds 120 [--seed 1234]
//   npm run fuzz -- --format all --seconds 60      (each format in turn)
//
// Case i of a run with seed S is fast-check's sample of the mutation arbitrary at seed S+i, so any
// input is reproducible from (format, S, i). Inputs run in a worker thread; the main thread watches
// it: a case over 2 s is reported as a hang (and the worker is restarted past 10 s). Crashes (an
// untyped error, or a typed one without the file name) and hangs are saved under .fuzz-artifacts/
// with the reason. Prints per format: cases, cases/s, crashes, hangs, slowest case, peak RSS.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { caseArb, caseInput, checkCase, FUZZ_FORMATS, seedsFor, type FuzzCase, type FuzzFormat } from '../test/fuzz/targets';

const HANG_MS = 2_000;
const KILL_MS = 10_000;
// A reader that needs more heap than this on a fuzzed input fails the run as a crash (out of memory):
// it keeps the measured peak RSS about the readers, not V8's lazy collection of garbage.
const WORKER_HEAP = { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 8 };
const ARTIFACTS = path.resolve(__dirname, '..', '.fuzz-artifacts');

interface WorkerJob {
  format: FuzzFormat;
  runSeed: number;
  firstCase: number;
  /** [0] case index being run, [1] Date.now() % 2^31 when it started (-1 when idle). */
  progress: SharedArrayBuffer;
}

type WorkerMessage =
  | { kind: 'done'; index: number; ms: number; violation?: string }
  | { kind: 'ready' };

function caseAt(runSeed: number, index: number): FuzzCase {
  return fc.sample(caseArb, { seed: (runSeed + index) | 0, numRuns: 1 })[0]!;
}

function saveArtifact(format: FuzzFormat, runSeed: number, index: number, bytes: Uint8Array, reason: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  const base = path.join(ARTIFACTS, `${format}-seed${runSeed}-case${index}`);
  writeFileSync(`${base}.bin`, bytes);
  writeFileSync(`${base}.txt`, `format: ${format}\nrun seed: ${runSeed}\ncase: ${index}\nmutations: ${JSON.stringify(caseAt(runSeed, index).mutations)}\n\n${reason}\n`);
  return `${base}.bin`;
}

async function workerMain(job: WorkerJob): Promise<void> {
  const progress = new Int32Array(job.progress);
  const seeds = seedsFor(job.format);
  parentPort!.postMessage({ kind: 'ready' } satisfies WorkerMessage);
  for (let index = job.firstCase; ; index++) {
    const input = caseInput(seeds, caseAt(job.runSeed, index));
    Atomics.store(progress, 0, index);
    Atomics.store(progress, 1, Date.now() % 2 ** 31);
    const start = performance.now();
    const violation = await checkCase(job.format, input);
    const ms = performance.now() - start;
    Atomics.store(progress, 1, -1);
    if (violation !== undefined || ms > HANG_MS) {
      saveArtifact(job.format, job.runSeed, index, input, violation ?? `slow: ${ms.toFixed(0)} ms (limit ${HANG_MS} ms)`);
    }
    parentPort!.postMessage({ kind: 'done', index, ms, violation } satisfies WorkerMessage);
  }
}

interface FormatReport {
  cases: number;
  crashes: number;
  hangs: number;
  slowestMs: number;
  slowestCase: number;
}

async function fuzzFormat(format: FuzzFormat, seconds: number, runSeed: number): Promise<FormatReport> {
  const report: FormatReport = { cases: 0, crashes: 0, hangs: 0, slowestMs: 0, slowestCase: -1 };
  const deadline = Date.now() + seconds * 1000;
  let nextCase = 0;
  const seeds = seedsFor(format);
  while (Date.now() < deadline) {
    const progress = new SharedArrayBuffer(8);
    const view = new Int32Array(progress);
    Atomics.store(view, 1, -1);
    // The worker loads this TypeScript file through tsx's require hook.
    const bootstrap = `require('tsx/cjs'); require(${JSON.stringify(__filename)});`;
    const worker = new Worker(bootstrap, { eval: true, resourceLimits: WORKER_HEAP, workerData: { format, runSeed, firstCase: nextCase, progress } satisfies WorkerJob });
    let ready = false;
    const stopped = new Promise<'killed' | 'deadline'>((resolve) => {
      const reported = new Set<number>();
      const watchdog = setInterval(() => {
        const started = Atomics.load(view, 1);
        const index = Atomics.load(view, 0);
        const elapsed = started < 0 ? 0 : (Date.now() % 2 ** 31) - started;
        if (elapsed > HANG_MS && !reported.has(index)) {
          reported.add(index);
          report.hangs++;
          process.stdout.write(`  ${format}: case ${index} still running after ${HANG_MS} ms (hang)\n`);
        }
        if (elapsed > KILL_MS) {
          saveArtifact(format, runSeed, index, caseInput(seeds, caseAt(runSeed, index)), `hang: killed after ${KILL_MS} ms`);
          nextCase = index + 1;
          clearInterval(watchdog);
          void worker.terminate().then(() => resolve('killed'));
        } else if (Date.now() >= deadline) {
          clearInterval(watchdog);
          void worker.terminate().then(() => resolve('deadline'));
        }
      }, 100);
      worker.on('message', (m: WorkerMessage) => {
        if (m.kind === 'ready') ready = true;
        if (m.kind !== 'done') return;
        report.cases++;
        nextCase = m.index + 1;
        if (m.ms > report.slowestMs) {
          report.slowestMs = m.ms;
          report.slowestCase = m.index;
        }
        if (m.ms > HANG_MS && !reported.has(m.index)) {
          reported.add(m.index);
          report.hangs++;
        }
        if (m.violation !== undefined) {
          report.crashes++;
          process.stdout.write(`  ${format}: case ${m.index} CRASH: ${m.violation.split('\n')[0]}\n`);
        }
      });
      worker.on('error', (err) => {
        if (!ready) throw new Error(`the fuzz worker did not start: ${err.message}`);
        report.crashes++;
        process.stdout.write(`  ${format}: worker died at case ${Atomics.load(view, 0)}: ${err.message}\n`);
        saveArtifact(format, runSeed, Atomics.load(view, 0), caseInput(seeds, caseAt(runSeed, Atomics.load(view, 0))), `worker died: ${err.stack ?? err.message}`);
        nextCase = Atomics.load(view, 0) + 1;
        clearInterval(watchdog);
        resolve('killed');
      });
    });
    if ((await stopped) === 'deadline') break;
  }
  return report;
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const formatArg = argValue(args, 'format') ?? 'all';
  const seconds = Number(argValue(args, 'seconds') ?? '60');
  const runSeed = Number(argValue(args, 'seed') ?? String(Date.now() % 1_000_000_007));
  const formats = formatArg === 'all' ? FUZZ_FORMATS : [formatArg as FuzzFormat];
  if (!formats.every((f) => FUZZ_FORMATS.includes(f)) || !(seconds > 0) || !Number.isInteger(runSeed)) {
    process.stderr.write(`usage: npm run fuzz -- --format ${['all', ...FUZZ_FORMATS].join('|')} --seconds N [--seed S]\n`);
    process.exitCode = 2;
    return;
  }
  if (!args.includes('--quiet')) process.stdout.write(`fuzz seed ${runSeed} (reproduce: --seed ${runSeed}); ${seconds} s per format; artifacts in ${ARTIFACTS}\n`);
  if (formats.length > 1) {
    // One process per format, so each peak RSS is that format's own.
    let status = 0;
    for (const format of formats) {
      const child = spawnSync(process.execPath, [...process.execArgv, __filename, '--format', format, '--seconds', String(seconds), '--seed', String(runSeed), '--quiet'], { stdio: 'inherit' });
      status = Math.max(status, child.status ?? 1);
    }
    process.exitCode = status;
    return;
  }
  let failures = 0;
  for (const format of formats) {
    const r = await fuzzFormat(format, seconds, runSeed);
    failures += r.crashes + r.hangs;
    const peakMiB = (process.resourceUsage().maxRSS / 1024).toFixed(0);
    process.stdout.write(
      `${format.padEnd(15)} ${String(r.cases).padStart(7)} cases  ${(r.cases / seconds).toFixed(1).padStart(7)}/s  crashes ${r.crashes}  hangs>${HANG_MS}ms ${r.hangs}  ` +
        `slowest ${r.slowestMs.toFixed(0)} ms (case ${r.slowestCase})  peak RSS ${peakMiB} MiB\n`,
    );
  }
  process.exitCode = failures > 0 ? 1 : 0;
}

if (isMainThread) void main();
else void workerMain(workerData as WorkerJob);
