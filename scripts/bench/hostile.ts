// Benchmark: hostile-but-valid inputs that once took tens of seconds or crashed (issue 12): a
// 1M-entry tokenizer.json, safetensors headers with 100k/200k tensors, an ONNX model with an 8 MB
// junk field, a 200,000-item APPENDS pickle. Prints wall time and the RSS growth of each step.
// Inputs are generated in a temporary folder (never committed). Always exits 0 unless it crashes.
//
//   npm run bench:hostile
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { errorMessage } from '../../server/src/core/errors';
import { readOnnxModel } from '../../server/src/core/formats/onnx';
import { readPytorchCheckpoint } from '../../server/src/core/formats/pytorch';
import { extractFingerprint } from '../../server/src/core/fingerprint/extract';
import { openModel } from '../../server/src/core/model/openModel';
import { loadVocabularyFromFolder } from '../../server/src/core/tokenizers';
import { hugeAppendsPickle, junkFieldOnnx, manyTensorSafetensors, tokenizerJsonWithEntries } from '../../test/fixtures/hostileInputs';

async function measure(label: string, run: () => Promise<string>): Promise<void> {
  if (global.gc) global.gc();
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const start = performance.now();
  let outcome: string;
  try {
    outcome = await run();
  } catch (err) {
    outcome = `error: ${errorMessage(err).slice(0, 160)}`;
  }
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  const ms = performance.now() - start;
  process.stdout.write(`${label.padEnd(44)} ${ms.toFixed(0).padStart(7)} ms  peak RSS +${((peak - rssBefore) / 2 ** 20).toFixed(0).padStart(4)} MiB  ${outcome}\n`);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lineage-hostile-'));
  try {
    for (const count of [100_000, 200_000]) {
      const folder = path.join(dir, `st-${count}`);
      await import('node:fs/promises').then((fs) => fs.mkdir(folder));
      await writeFile(path.join(folder, 'model.safetensors'), manyTensorSafetensors(count));
      await measure(`safetensors, ${count} tensors: open + fingerprint`, async () => {
        const model = await openModel(folder);
        try {
          const fp = await extractFingerprint(model);
          return `${model.tensors.length} tensors, ${fp.tensors.length} in fingerprint`;
        } finally {
          await model.close();
        }
      });
    }

    const tokFolder = path.join(dir, 'tok');
    await import('node:fs/promises').then((fs) => fs.mkdir(tokFolder));
    const tokenizer = tokenizerJsonWithEntries(1_000_000);
    await writeFile(path.join(tokFolder, 'tokenizer.json'), tokenizer);
    await measure(`tokenizer.json, 1M entries (${(tokenizer.length / 2 ** 20).toFixed(0)} MiB)`, async () => {
      const vocab = await loadVocabularyFromFolder(tokFolder);
      return `${vocab?.tokens.length ?? 0} tokens`;
    });

    const onnxFile = path.join(dir, 'junk.onnx');
    await writeFile(onnxFile, junkFieldOnnx(8 * 2 ** 20));
    await measure('ONNX with an 8 MiB junk field', async () => {
      const model = await readOnnxModel(onnxFile);
      return `${model.tensors.length} tensors`;
    });

    const pickleFile = path.join(dir, 'appends.bin');
    await writeFile(pickleFile, hugeAppendsPickle(200_000));
    await measure('legacy pickle, 200,000-item APPENDS', async () => {
      const ck = await readPytorchCheckpoint(pickleFile);
      return `${ck.findings.length} findings`;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void main();
