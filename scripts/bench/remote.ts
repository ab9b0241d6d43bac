// Benchmark: fingerprint a Llama-2-7B-shaped sharded BF16 checkpoint (13.5 GB, synthesized from
// offsets, never on disk) through the mock Hub with 20 ms added per request and a 200 MB/s cap.
// Prints bytes transferred, requests, and wall time as a ratio of the floor
// bytes / bandwidth + requests x latency / concurrency. Targets: <= 64 MB, <= 200 requests,
// ratio <= 2; a second run (pinned commit, same read cache) sends 0 requests to the storage origin.
// Always exits 0 (a benchmark, not a test) unless it crashes.
//
//   npm run bench:remote
//   LINEAGE_BENCH_DIR=/big/disk/llama npm run bench:remote   (also compares with the local fingerprint
//                                                              when bench:fingerprint left the checkpoint there)
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { serializeFingerprint } from '../../server/src/core/fingerprint/encoding';
import { extractFingerprint } from '../../server/src/core/fingerprint/extract';
import type { Fingerprint } from '../../server/src/core/fingerprint/types';
import { ReadCache } from '../../server/src/core/io/readCache';
import { openModel } from '../../server/src/core/model/openModel';
import { openRemoteModel } from '../../server/src/core/hub/remoteModel';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { BENCH_COMMIT as COMMIT, BENCH_REPO as REPO } from './remoteMock';

const LATENCY_MS = 20;
const BANDWIDTH = 200e6;
const CONCURRENCY = 8;
const TARGET_MAX_BYTES = 64e6;
const TARGET_MAX_REQUESTS = 200;
const TARGET_MAX_RATIO = 2;
function weightSignals(fp: Fingerprint): string {
  const { tensors, vectors, tokenRows, matrices, bytesRead } = JSON.parse(serializeFingerprint(fp)) as Fingerprint;
  return JSON.stringify({ tensors, vectors, tokenRows, matrices, bytesRead });
}

/** CPU seconds (user + system) a process has used so far (Linux /proc; NaN elsewhere). */
async function cpuSecondsOf(pid: number | undefined): Promise<number> {
  const stat = pid === undefined ? undefined : await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime, in clock ticks (USER_HZ, 100 on Linux).
  return fields ? (Number(fields[11]) + Number(fields[12])) / 100 : Number.NaN;
}

async function main(): Promise<void> {
  const folder = path.resolve(process.env['LINEAGE_BENCH_DIR'] ?? path.join(os.tmpdir(), 'lineage-bench', 'llama2-7b-shaped'));
  // The mock runs in its own process: serving must not steal the measured client's event loop.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'remoteMock.ts'), folder, String(LATENCY_MS), String(BANDWIDTH)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      const line = text.split('\n')[0];
      if (text.includes('\n')) resolve((JSON.parse(line!) as { url: string }).url);
    });
    child.on('exit', (code) => reject(new Error(`the mock Hub exited (${code})`)));
  });
  const mockStats = async () => (await (await fetch(`${url}/__bench/stats`)).json()) as { hubRequests: number; storageRequests: number };
  const hub = { url, close: async () => { child.stdin.end(); await new Promise((r) => child.once('exit', r)); } };
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'lineage-bench-remote-'));
  try {
    // LINEAGE_BENCH_CPU_PROFILE=<prefix>: a .cpuprofile of each run's timed window (open DevTools on it).
    const profilePrefix = process.env['LINEAGE_BENCH_CPU_PROFILE'];
    let runNumber = 0;
    const run = async (revision: string | undefined, folder = cacheDir) => {
      const profiler = profilePrefix ? new Session() : undefined;
      if (profiler) {
        profiler.connect();
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.start');
      }
      // Timed: opening the model (commit, listing, headers) and extracting its fingerprint, in this process.
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      const model = await openRemoteModel(REPO, revision, { endpoint: hub.url, cache: new ReadCache(folder), concurrency: CONCURRENCY, env: {} });
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
        await writeFile(`${profilePrefix}-${++runNumber}.cpuprofile`, JSON.stringify(profile));
        profiler.disconnect();
      }
      return { fp, stats: { ...model.remote.stats }, seconds: (ended - started) / 1000, openSeconds: (opened - started) / 1000, closeSeconds: (ended - closing) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
    };
    const storageBefore = (await mockStats()).storageRequests;
    const mockCpuBefore = await cpuSecondsOf(child.pid);
    const first = await run(undefined);
    const mockCpuSeconds = (await cpuSecondsOf(child.pid)) - mockCpuBefore;
    const storageFirst = (await mockStats()).storageRequests - storageBefore;
    const s = first.stats;
    const floor = s.bytesTransferred / BANDWIDTH + (s.requests * LATENCY_MS) / 1000 / CONCURRENCY;
    const ratio = first.seconds / floor;
    const line = (label: string, value: string, ok: boolean) => console.log(`${label.padEnd(34)} ${value.padEnd(28)} ${ok ? 'ok' : 'MISSED'}`);
    console.log(`remote fingerprint of a Llama-2-7B-shaped BF16 checkpoint (2 shards, 13.48 GB) through the mock Hub`);
    console.log(`(${LATENCY_MS} ms added per request, ${BANDWIDTH / 1e6} MB/s cap, ${CONCURRENCY} requests in flight)\n`);
    line('bytes transferred', `${(s.bytesTransferred / 1e6).toFixed(2)} MB (target <= 64)`, s.bytesTransferred <= TARGET_MAX_BYTES);
    line('weight bytes used by the fingerprint', `${(first.fp.bytesRead / 1e6).toFixed(2)} MB`, true);
    line('requests', `${s.requests} (${s.hubRequests} Hub, ${s.storageRequests} storage)`, s.requests <= TARGET_MAX_REQUESTS);
    line('wall time', `${first.seconds.toFixed(2)} s (open ${first.openSeconds.toFixed(2)} s, cache write ${first.closeSeconds.toFixed(2)} s, client CPU ${first.cpuSeconds.toFixed(2)} s)`, true);
    // The mock shares the machine's cores with the client: its synthesizing and serving count too.
    if (!Number.isNaN(mockCpuSeconds)) line('mock Hub CPU during the first run', `${mockCpuSeconds.toFixed(2)} s`, true);
    line('floor (bytes/bw + req x lat / conc)', `${floor.toFixed(2)} s`, true);
    line('ratio', `${ratio.toFixed(2)} (target <= 2)`, ratio <= TARGET_MAX_RATIO);
    if (storageFirst !== s.storageRequests) console.log(`(the storage origin counted ${storageFirst} requests)`);

    const storageBeforeSecond = (await mockStats()).storageRequests;
    const second = await run(COMMIT);
    const storageSecond = (await mockStats()).storageRequests - storageBeforeSecond;
    line('second run: requests to storage', `${storageSecond} (${second.stats.requests} in all, ${second.seconds.toFixed(2)} s, CPU ${second.cpuSeconds.toFixed(2)} s)`, storageSecond === 0);
    line('second run: same fingerprint', String(weightSignals(second.fp) === weightSignals(first.fp)), weightSignals(second.fp) === weightSignals(first.fp));

    // The first run is also the first time this process runs the read path (as in a CLI call); a
    // language server fingerprints many models in one process. The same cold-cache read once more:
    const warmCacheDir = await mkdtemp(path.join(os.tmpdir(), 'lineage-bench-remote-'));
    try {
      const again = await run(undefined, warmCacheDir);
      const againFloor = again.stats.bytesTransferred / BANDWIDTH + (again.stats.requests * LATENCY_MS) / 1000 / CONCURRENCY;
      const againRatio = again.seconds / againFloor;
      line('first run again, in a warm process', `${again.seconds.toFixed(2)} s, ratio ${againRatio.toFixed(2)}`, againRatio <= TARGET_MAX_RATIO);
    } finally {
      await rm(warmCacheDir, { recursive: true, force: true });
    }

    console.log(`(load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores: timings on a busy machine overstate the ratio)`);
    if (existsSync(path.join(folder, 'model-00002-of-00002.safetensors'))) {
      const local = await openModel(folder);
      try {
        const same = weightSignals(await extractFingerprint(local)) === weightSignals(first.fp);
        line('equals the local fingerprint', String(same), same);
      } finally {
        await local.close();
      }
    } else console.log(`\n(no checkpoint in ${folder}: run bench:fingerprint first to also compare with the local fingerprint)`);
  } finally {
    await hub.close();
    await rm(cacheDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
