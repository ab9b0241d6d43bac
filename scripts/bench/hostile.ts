// Benchmark: hostile-but-valid inputs that once took tens of seconds or crashed (issue 12): a
// 1M-entry tokenizer.json, safetensors models with 100k/200k tensors (open + fingerprint), an ONNX
// model with 8 MiB of junk fields, a 200,000-item APPENDS pickle. Each case runs in its own process
// and prints its wall time and peak RSS. Inputs are generated in a temporary folder (never committed).
// Always exits 0 unless the benchmark itself crashes.
//
//   npm run bench:hostile
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { errorMessage } from '../../server/src/core/errors';
import { extractFingerprint } from '../../server/src/core/fingerprint/extract';
import { readOnnxModel } from '../../server/src/core/formats/onnx';
import { readPytorchCheckpoint } from '../../server/src/core/formats/pytorch';
import { openModel } from '../../server/src/core/model/openModel';
import { loadVocabularyFromFolder } from '../../server/src/core/tokenizers';
import { hugeAppendsPickle, junkFieldOnnx, manyTensorSafetensors, tokenizerJsonWithEntries } from '../../test/fixtures/hostileInputs';

const CASES: Record<string, { label: string; prepare(dir: string): Promise<void>; run(dir: string): Promise<string> }> = {
  'safetensors-100k': {
    label: 'safetensors, 100,000 tensors: open + fingerprint',
    prepare: (dir) => writeFile(path.join(dir, 'model.safetensors'), manyTensorSafetensors(100_000)),
    run: fingerprintFolder,
  },
  'safetensors-200k': {
    label: 'safetensors, 200,000 tensors: open + fingerprint',
    prepare: (dir) => writeFile(path.join(dir, 'model.safetensors'), manyTensorSafetensors(200_000)),
    run: fingerprintFolder,
  },
  'tokenizer-1m': {
    label: 'tokenizer.json, 1,000,000 entries (16 MiB)',
    prepare: (dir) => writeFile(path.join(dir, 'tokenizer.json'), tokenizerJsonWithEntries(1_000_000)),
    run: async (dir) => `${(await loadVocabularyFromFolder(dir))?.tokens.length ?? 0} tokens`,
  },
  'onnx-junk': {
    label: 'ONNX with 8 MiB of junk fields',
    prepare: (dir) => writeFile(path.join(dir, 'junk.onnx'), junkFieldOnnx(8 << 20)),
    run: async (dir) => `${(await readOnnxModel(path.join(dir, 'junk.onnx'))).tensors.length} tensors`,
  },
  'pickle-appends-200k': {
    label: 'legacy pickle, one 200,000-item APPENDS',
    prepare: (dir) => writeFile(path.join(dir, 'appends.bin'), hugeAppendsPickle(200_000)),
    run: async (dir) => `${(await readPytorchCheckpoint(path.join(dir, 'appends.bin'))).findings.length} findings`,
  },
};

async function fingerprintFolder(dir: string): Promise<string> {
  const model = await openModel(dir);
  try {
    const fp = await extractFingerprint(model);
    return `${model.tensors.length} tensors, ${fp.tensors.length} digested`;
  } finally {
    await model.close();
  }
}

/** Child: runs one prepared case and prints one line. */
async function runCase(name: string, dir: string): Promise<void> {
  const c = CASES[name]!;
  const rssBefore = process.memoryUsage().rss;
  const start = performance.now();
  let outcome: string;
  try {
    outcome = await c.run(dir);
  } catch (err) {
    outcome = `error: ${errorMessage(err).slice(0, 160)}`;
  }
  const ms = performance.now() - start;
  const peak = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`${c.label.padEnd(50)} ${ms.toFixed(0).padStart(7)} ms  peak RSS ${(peak / 2 ** 20).toFixed(0).padStart(4)} MiB (+${((peak - rssBefore) / 2 ** 20).toFixed(0)})  ${outcome}\n`);
}

async function main(): Promise<void> {
  const [flag, name, dir] = process.argv.slice(2);
  if (flag === '--case' && name && dir) return runCase(name, dir);
  const root = await mkdtemp(path.join(os.tmpdir(), 'lineage-hostile-'));
  try {
    for (const [caseName, c] of Object.entries(CASES)) {
      const dir = path.join(root, caseName);
      await mkdir(dir);
      await c.prepare(dir);
      const child = spawnSync(process.execPath, [...process.execArgv, __filename, '--case', caseName, dir], { stdio: 'inherit' });
      if (child.status !== 0) process.stdout.write(`${c.label}: child exited ${child.status ?? child.signal}\n`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

void main();
