// Benchmark: fingerprint a Llama-2-7B-shaped sharded BF16 checkpoint (13.5 GB, synthesized from
// offsets, never on disk) through the mock Hub with 20 ms added per request and a 200 MB/s cap.
// Prints bytes transferred, requests, and wall time as a ratio of the floor
// bytes / bandwidth + requests x latency / concurrency. Targets: <= 64 MB, <= 200 requests,
// ratio <= 2; a second run (pinned commit, same read cache) sends 0 requests to the storage origin.
// Always exits 0 (a benchmark, not a test) unless it crashes.
//
// One mock Hub (its own process) serves LINEAGE_BENCH_CLIENTS client processes (default 3), one
// after the other. Each client is a fresh process, as a CLI call is: it reads the model with an
// empty read cache (the "first run"), again with the pinned commit and the same cache (the "second
// run"), then once more with an empty cache in its now warm process (as a language server reads
// its next remote model). The machine is noisy: figures are min / median / max over the clients.
//
//   npm run bench:remote
//   LINEAGE_BENCH_CLIENTS=5 npm run bench:remote
//   LINEAGE_BENCH_CPU_PROFILE=/tmp/remote npm run bench:remote   (a .cpuprofile of every timed run)
//   LINEAGE_BENCH_DIR=/big/disk/llama npm run bench:remote   (also compares with the local fingerprint
//                                                              when bench:fingerprint left the checkpoint there)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { serializeFingerprint } from '../../server/src/core/fingerprint/encoding';
import { extractFingerprint } from '../../server/src/core/fingerprint/extract';
import type { Fingerprint } from '../../server/src/core/fingerprint/types';
import { openRemoteModel } from '../../server/src/core/hub/remoteModel';
import { ReadCache } from '../../server/src/core/io/readCache';
import { openModel } from '../../server/src/core/model/openModel';
import { percentile } from './percentile';
import { BENCH_COMMIT as COMMIT, BENCH_REPO as REPO } from './remoteMock';

const LATENCY_MS = 20;
const BANDWIDTH = 200e6;
const CONCURRENCY = 8;
const TARGET_MAX_BYTES = 64e6;
const TARGET_MAX_REQUESTS = 200;
const TARGET_MAX_RATIO = 2;
/** Set in a client process: the mock Hub's URL. */
const CLIENT_ENV = 'LINEAGE_BENCH_CLIENT_OF';
const MOCK_PID_ENV = 'LINEAGE_BENCH_MOCK_PID';

interface RunResult {
  seconds: number;
  openSeconds: number;
  closeSeconds: number;
  cpuSeconds: number;
  bytesTransferred: number;
  requests: number;
  hubRequests: number;
  storageRequests: number;
  /** Requests the storage origin itself counted during the run. */
  storageSeen: number;
  /** The mock Hub's CPU seconds during the run (it shares the machine's cores with the client). */
  mockCpuSeconds: number;
  weightBytesUsed: number;
  /** The fingerprint's weight signals, serialized: runs must agree byte for byte. */
  signals: string;
}

interface ClientResult {
  first: RunResult;
  second: RunResult;
  warm: RunResult;
}

function weightSignals(fp: Fingerprint): string {
  const { tensors, vectors, tokenRows, matrices, bytesRead } = JSON.parse(serializeFingerprint(fp)) as Fingerprint;
  return JSON.stringify({ tensors, vectors, tokenRows, matrices, bytesRead });
}

function floorOf(r: RunResult): number {
  return r.bytesTransferred / BANDWIDTH + (r.requests * LATENCY_MS) / 1000 / CONCURRENCY;
}

/** CPU seconds (user + system) a process has used so far (Linux /proc; NaN elsewhere). */
async function cpuSecondsOf(pid: number | undefined): Promise<number> {
  const stat = pid === undefined ? undefined : await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime, in clock ticks (USER_HZ, 100 on Linux).
  return fields ? (Number(fields[11]) + Number(fields[12])) / 100 : Number.NaN;
}

/** A client process: the three runs against the mock Hub at `url`, printed as one JSON line. */
async function client(url: string): Promise<void> {
  const mockPid = Number(process.env[MOCK_PID_ENV]);
  const storageCount = async () => ((await (await fetch(`${url}/__bench/stats`)).json()) as { storageRequests: number }).storageRequests;
  const profilePrefix = process.env['LINEAGE_BENCH_CPU_PROFILE'];
  const cacheDirs: string[] = [];
  const freshCache = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lineage-bench-remote-'));
    cacheDirs.push(dir);
    return dir;
  };
  const run = async (label: string, revision: string | undefined, cacheDir: string): Promise<RunResult> => {
    const storageBefore = await storageCount();
    const mockCpuBefore = await cpuSecondsOf(mockPid);
    const profiler = profilePrefix ? new Session() : undefined;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    // Timed: opening the model (commit, listing, headers) and extracting its fingerprint, in this process.
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const model = await openRemoteModel(REPO, revision, { endpoint: url, cache: new ReadCache(cacheDir), concurrency: CONCURRENCY, env: {} });
    const opened = performance.now();
    let fp: Fingerprint;
    let closing = Number.NaN;
    try {
      fp = await extractFingerprint(model);
    } finally {
      closing = performance.now();
      // Closing writes what was read to the read cache: timed too (a CLI waits for it before exiting).
      await model.close();
    }
    const cpu = process.cpuUsage(cpuBefore);
    const ended = performance.now();
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      await writeFile(`${profilePrefix}-${process.pid}-${label}.cpuprofile`, JSON.stringify(profile));
      profiler.disconnect();
    }
    const mockCpuSeconds = (await cpuSecondsOf(mockPid)) - mockCpuBefore;
    const stats = model.remote.stats;
    return {
      seconds: (ended - started) / 1000,
      openSeconds: (opened - started) / 1000,
      closeSeconds: (ended - closing) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      bytesTransferred: stats.bytesTransferred,
      requests: stats.requests,
      hubRequests: stats.hubRequests,
      storageRequests: stats.storageRequests,
      storageSeen: (await storageCount()) - storageBefore,
      mockCpuSeconds,
      weightBytesUsed: fp.bytesRead,
      signals: weightSignals(fp),
    };
  };
  try {
    const cache = await freshCache();
    const first = await run('first', undefined, cache);
    const second = await run('second', COMMIT, cache);
    const warm = await run('warm', undefined, await freshCache());
    process.stdout.write(JSON.stringify({ first, second, warm } satisfies ClientResult) + '\n');
  } finally {
    for (const dir of cacheDirs) await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const folder = path.resolve(process.env['LINEAGE_BENCH_DIR'] ?? path.join(os.tmpdir(), 'lineage-bench', 'llama2-7b-shaped'));
  const clients = Math.max(1, Math.floor(Number(process.env['LINEAGE_BENCH_CLIENTS'] ?? 3)) || 3);
  // The mock runs in its own process: serving must not steal the measured client's event loop.
  const mock = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'remoteMock.ts'), folder, String(LATENCY_MS), String(BANDWIDTH)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    mock.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      const line = text.split('\n')[0];
      if (text.includes('\n')) resolve((JSON.parse(line!) as { url: string }).url);
    });
    mock.on('exit', (code) => reject(new Error(`the mock Hub exited (${code})`)));
  });
  const results: ClientResult[] = [];
  try {
    for (let k = 0; k < clients; k++) {
      const child = spawn(process.execPath, [...process.execArgv, __filename], {
        env: { ...process.env, [CLIENT_ENV]: url, [MOCK_PID_ENV]: String(mock.pid) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      if (code !== 0) throw new Error(`bench client ${k + 1} exited with ${code}`);
      results.push(JSON.parse(out.trim().split('\n').pop()!) as ClientResult);
    }
  } finally {
    mock.stdin.end();
    await new Promise((resolve) => mock.once('exit', resolve));
  }

  const median = (values: number[]) => percentile(values, 0.5);
  const spread = (values: number[]) => {
    const f = (v: number) => v.toFixed(2);
    return values.length === 1 ? f(values[0]!) : `${f(Math.min(...values))} / ${f(median(values))} / ${f(Math.max(...values))}`;
  };
  const line = (label: string, value: string, ok: boolean) => console.log(`${label.padEnd(40)} ${value.padEnd(46)} ${ok ? 'ok' : 'MISSED'}`);
  const firsts = results.map((r) => r.first);
  const f0 = firsts[0]!;
  const ratios = firsts.map((r) => r.seconds / floorOf(r));
  const warmRatios = results.map((r) => r.warm.seconds / floorOf(r.warm));
  console.log('remote fingerprint of a Llama-2-7B-shaped BF16 checkpoint (2 shards, 13.48 GB) through the mock Hub');
  console.log(`(${LATENCY_MS} ms added per request, ${BANDWIDTH / 1e6} MB/s cap, ${CONCURRENCY} requests in flight;`);
  console.log(` ${clients} client processes one after the other, figures min / median / max)\n`);
  line('bytes transferred', `${(f0.bytesTransferred / 1e6).toFixed(2)} MB (target <= 64)`, Math.max(...firsts.map((r) => r.bytesTransferred)) <= TARGET_MAX_BYTES);
  line('weight bytes used by the fingerprint', `${(f0.weightBytesUsed / 1e6).toFixed(2)} MB`, true);
  line('requests', `${f0.requests} (${f0.hubRequests} Hub, ${f0.storageRequests} storage; target <= 200)`, Math.max(...firsts.map((r) => r.requests)) <= TARGET_MAX_REQUESTS);
  line('floor (bytes/bw + req x lat / conc)', `${floorOf(f0).toFixed(3)} s`, true);
  console.log('first run, in a fresh process (as a CLI call):');
  line('  wall time', `${spread(firsts.map((r) => r.seconds))} s`, true);
  line('  of it, open', `${spread(firsts.map((r) => r.openSeconds))} s`, true);
  line('  of it, writing the read cache', `${spread(firsts.map((r) => r.closeSeconds))} s`, true);
  line('  client CPU', `${spread(firsts.map((r) => r.cpuSeconds))} s`, true);
  line('  mock Hub CPU (same cores)', `${spread(firsts.map((r) => r.mockCpuSeconds))} s`, true);
  line('  ratio (target <= 2, on the median)', spread(ratios), median(ratios) <= TARGET_MAX_RATIO);
  console.log('the same read, empty read cache, in the now warm process (as a language server):');
  line('  wall time', `${spread(results.map((r) => r.warm.seconds))} s`, true);
  line('  ratio (target <= 2, on the median)', spread(warmRatios), median(warmRatios) <= TARGET_MAX_RATIO);
  console.log('second run (pinned commit, the same read cache):');
  const secondStorage = Math.max(...results.map((r) => r.second.storageSeen));
  line('  requests to storage (target 0)', `${secondStorage} (${Math.max(...results.map((r) => r.second.requests))} in all)`, secondStorage === 0);
  line('  wall time', `${spread(results.map((r) => r.second.seconds))} s`, true);
  const same = results.every((r) => [r.first, r.second, r.warm].every((run) => run.signals === f0.signals));
  line('  same fingerprint in every run', String(same), same);
  if (firsts.some((r) => r.storageSeen !== r.storageRequests)) console.log(`(the storage origin counted ${firsts.map((r) => r.storageSeen).join(', ')} requests)`);
  console.log(`(load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores: timings on a busy machine overstate the ratio)`);

  if (existsSync(path.join(folder, 'model-00002-of-00002.safetensors'))) {
    const local = await openModel(folder);
    try {
      const equal = weightSignals(await extractFingerprint(local)) === f0.signals;
      line('equals the local fingerprint', String(equal), equal);
    } finally {
      await local.close();
    }
  } else console.log(`(no checkpoint in ${folder}: run bench:fingerprint first to also compare with the local fingerprint)`);
}

const mockUrl = process.env[CLIENT_ENV];
(mockUrl ? client(mockUrl) : main()).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
