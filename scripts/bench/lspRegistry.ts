// Benchmark of the language server's memory with a large registry: the real server (dist/server.js over
// stdio) consults a synthetic SQLite registry of N entries (built once by bench/registry.ts, then reused)
// besides the shipped database, while documents referencing the zoo models are analysed, hovered and
// scanned. Prints the RSS of the whole server process (worker threads share it): after start-up, after
// the work, and its peak (VmHWM). Target: <= 400 MB at 1,000,000 entries. Always exits 0 unless it crashes.
//
//   npm run bench:lsp-registry -- [--db FILE] [--entries 50000 --replicate 20] [--scans 8] [--hovers 200]
//   The file defaults to $TMPDIR/lineage-bench/registry-<entries x replicate>.sqlite; building 10^6 entries
//   takes about 6 minutes on this 2-core machine, so an existing file is always reused.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { RegistryInfoRequest, ScanRequest, ServerCommands, type RegistryInfoResult, type ScanParams, type ScanResult } from '../../server/src/protocol';
import { buildFixtureWorkspace, PY_LINES, serverEnv } from '../../test/lsp/fixtureWorkspace';
import { fileUri, LspTestClient } from '../../test/lsp/lspClient';
import { percentile } from './percentile';

const RSS_TARGET_MIB = 400;

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    entries: { type: 'string', default: '50000' },
    replicate: { type: 'string', default: '20' },
    scans: { type: 'string', default: '8' },
    hovers: { type: 'string', default: '200' },
  },
});
const GENERATED = Number(values.entries);
const REPLICATE = Math.max(1, Number(values.replicate));
const TOTAL = GENERATED * REPLICATE;

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/** A field of /proc/<pid>/status in bytes (VmRSS now, VmHWM the peak so far); Linux only. */
function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The registry file: --db, else the shared bench file for this size; built by bench/registry.ts when missing. */
function registryFile(): string {
  const file = values.db ?? path.join(tmpdir(), 'lineage-bench', `registry-${TOTAL}.sqlite`);
  if (existsSync(file)) return file;
  mkdirSync(path.dirname(file), { recursive: true });
  process.stdout.write(`building ${TOTAL} entries into ${file} (once; later runs reuse it)\n`);
  const built = spawnSync(process.execPath, [...process.execArgv, path.join(__dirname, 'registry.ts'), '--backend', 'sqlite', '--entries', String(GENERATED), '--replicate', String(REPLICATE), '--scans', '1', '--db', file, '--keep'], { stdio: 'inherit' });
  if (built.status !== 0 || !existsSync(file)) throw new Error(`building the registry failed (exit ${built.status})`);
  return file;
}

async function main(): Promise<void> {
  const file = registryFile();
  const fixture = await buildFixtureWorkspace();
  const started = Date.now();
  const client = await LspTestClient.start({ workspaceFolder: fixture.workspace, env: serverEnv(fixture), settings: { registry: { path: file, includeShipped: true } } });
  const pid = client.process.pid!;
  let sampledPeak = 0;
  const sampler = setInterval(() => {
    const rss = procStatusBytes(pid, 'VmRSS');
    if (rss > sampledPeak) sampledPeak = rss;
  }, 100);
  try {
    const info = await client.connection.sendRequest<RegistryInfoResult>(RegistryInfoRequest.method);
    const rssAfterStart = procStatusBytes(pid, 'VmRSS');
    const registryInfoMs = Date.now() - started;

    // Analysis: every reference of app.py is resolved, fingerprinted and scanned against the registries.
    const appUri = fileUri(path.join(fixture.workspace, 'app.py'));
    const analysisStart = Date.now();
    await client.open(appUri, 'python', fixture.documents['app.py']!);
    await client.waitForAnalyzed(appUri, 1, 600_000);
    const analysisMs = Date.now() - analysisStart;

    const hoverLines = [PY_LINES.base, PY_LINES.medical, PY_LINES.stories, PY_LINES.pickle, PY_LINES.squat, PY_LINES.missing];
    const hoverMs: number[] = [];
    for (let i = 0; i < Number(values.hovers); i++) {
      const start = process.hrtime.bigint();
      await client.hover(appUri, hoverLines[i % hoverLines.length]!, 50);
      hoverMs.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    hoverMs.sort((a, b) => a - b);

    // Explicit scans (the Scan Model command) of the cached models, each a full registry scan: the
    // server's caches are dropped first (Re-analyse, which also re-analyses app.py meanwhile).
    const targets = ['sshleifer/tiny-gpt2', 'acme/tiny-gpt2-medical', 'acme/stories-gguf', 'acme/pickle-gpt2'];
    const scanMs: number[] = [];
    let related = 0;
    for (let i = 0; i < Number(values.scans); i++) {
      const params: ScanParams = { target: { reference: targets[i % targets.length]! } };
      await client.connection.sendRequest('workspace/executeCommand', { command: ServerCommands.reanalyze, arguments: [] });
      const start = Date.now();
      const result = await client.connection.sendRequest<ScanResult>(ScanRequest.method, params);
      scanMs.push(Date.now() - start);
      if (result.lineage.matches.length > 0) related++;
    }
    scanMs.sort((a, b) => a - b);
    const rssAfterWork = procStatusBytes(pid, 'VmRSS');
    const peak = procStatusBytes(pid, 'VmHWM');

    const user = info.registries.find((r) => r.role === 'user');
    const lines = [
      `registry:            ${file}`,
      `entries:             ${user?.entries ?? 0} in the registry (+ ${info.entries - (user?.entries ?? 0)} shipped), ${mib(statSync(file).size)} on disk${user?.error ? `; ERROR ${user.error}` : ''}`,
      `server:              1 process, ${Math.max(1, Math.min(4, availableParallelism() - 1))} heavy + 1 light worker threads (RSS covers them all)`,
      `start -> registry listed: ${registryInfoMs} ms; RSS then ${mib(rssAfterStart)}`,
      `first analysis:      ${analysisMs} ms (app.py, ${Object.keys(PY_LINES).length} references)`,
      `hover:               p50 ${percentile(hoverMs, 0.5).toFixed(1)} ms, p95 ${percentile(hoverMs, 0.95).toFixed(1)} ms (${hoverMs.length} hovers)`,
      `scan request:        p50 ${percentile(scanMs, 0.5)} ms, max ${scanMs[scanMs.length - 1]} ms (${scanMs.length} scans after dropping the caches, with re-analysis running; ${related} found related entries)`,
      `server RSS:          ${mib(rssAfterWork)} after the work; peak ${mib(peak)} (VmHWM; sampled ${mib(sampledPeak)})`,
      `target:              peak RSS <= ${RSS_TARGET_MIB} MiB: ${peak / 1024 / 1024 <= RSS_TARGET_MIB ? 'met' : 'NOT met'}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    clearInterval(sampler);
    await client.stop();
    rmSync(fixture.root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
