// Extension budget check: packages the .vsix and reports its size, then measures activation (bundle
// evaluation + activate()) in a real code-server extension host, median of several cold windows.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { installExtension, startCodeServer } from '../e2e/codeServer';
import { ARTIFACTS_DIR, CHROMIUM_BIN, CODE_SERVER_BIN, REPO_ROOT } from '../e2e/setup';

const VSIX_BUDGET_BYTES = 10 * 1024 * 1024;
const ACTIVATION_BUDGET_MS = 150;
const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function measureActivation(vsix: string): Promise<number[]> {
  const { chromium } = await import('playwright-core');
  const workspace = mkdtempSync(path.join(tmpdir(), 'lineage-bench-ws-'));
  writeFileSync(path.join(workspace, 'app.py'), 'from transformers import AutoModel\nm = AutoModel.from_pretrained("org/name")\n');
  const report = path.join(ARTIFACTS_DIR, 'bench-activation.json');
  const times: number[] = [];
  const browser = await chromium.launch({ executablePath: CHROMIUM_BIN, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    for (let run = 0; run < RUNS; run++) {
      const stateDir = path.join(ARTIFACTS_DIR, 'bench-state');
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(report, { force: true });
      const options = { stateDir, port: 18_450 + run, env: { LINEAGE_ACTIVATION_REPORT: report, HF_HUB_OFFLINE: '1' } };
      installExtension(options, vsix);
      const server = await startCodeServer(options, workspace);
      try {
        const page = await browser.newPage();
        await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
        const deadline = Date.now() + 60_000;
        while (!existsSync(report) && Date.now() < deadline) await page.waitForTimeout(100);
        if (!existsSync(report)) throw new Error('the extension did not activate within 60 s');
        const { activationMs } = JSON.parse(readFileSync(report, 'utf8')) as { activationMs: number };
        times.push(activationMs);
        console.log(`  run ${run + 1}: activation ${activationMs.toFixed(1)} ms (${readFileSync(report, "utf8")})`);
        await page.close();
      } finally {
        await server.stop();
      }
    }
  } finally {
    await browser.close();
    rmSync(workspace, { recursive: true, force: true });
  }
  return times;
}

async function main(): Promise<void> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  execFileSync('npm', ['run', 'package', '--silent'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const vsix = path.join(REPO_ROOT, 'lineage-lens.vsix');
  const sizeBytes = statSync(vsix).size;
  const sizeOk = sizeBytes <= VSIX_BUDGET_BYTES;
  console.log(`vsix size: ${(sizeBytes / 1024).toFixed(1)} KiB (budget ${VSIX_BUDGET_BYTES / 1024 / 1024} MiB) ${sizeOk ? 'ok' : 'OVER BUDGET'}`);
  if (!existsSync(CODE_SERVER_BIN) || !existsSync(CHROMIUM_BIN)) {
    console.log('activation: skipped (code-server or chromium missing; run `npm run e2e:setup` first)');
    process.exitCode = sizeOk ? 0 : 1;
    return;
  }
  const times = await measureActivation(vsix);
  const activationMs = median(times);
  const activationOk = activationMs <= ACTIVATION_BUDGET_MS;
  const sorted = [...times].sort((a, b) => a - b);
  console.log(`activation: median ${activationMs.toFixed(1)} ms of ${times.length} cold windows (min ${sorted[0]!.toFixed(1)}, max ${sorted[sorted.length - 1]!.toFixed(1)}; budget ${ACTIVATION_BUDGET_MS} ms) ${activationOk ? 'ok' : 'OVER BUDGET'}`);
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (timings scale with it on a shared machine)`);
  writeFileSync(path.join(ARTIFACTS_DIR, 'bench-ext.json'), JSON.stringify({ vsixBytes: sizeBytes, activationMs, runsMs: times }, null, 2));
  process.exitCode = sizeOk && activationOk ? 0 : 1;
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
