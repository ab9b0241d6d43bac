// Benchmark of `lineage check` on a generated monorepo: 10,000 documents (1,000 with model references
// in Python, YAML, JSON, JS/TS, Dockerfiles, cards and shell), a .gitignored build folder, and the
// referenced models in a Hugging Face cache. Runs the built CLI twice (cold, then warm inspection
// cache) and prints wall time and files per second. Target: <= 10 s.
// Usage: npm run bench:check [-- files withReferences]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildReferenceRepo, REPO_COMMITS, repoEnv } from '../../test/fixtures/referenceRepo';
import { CLI_PATH } from '../../test/support/cli';

const FILES = Number(process.argv[2] ?? 10_000);
const WITH_REFERENCES = Number(process.argv[3] ?? 1_000);
const IGNORED_FILES = 500;

/** A document that names models, by kind; `i` varies the uncached ids so look-ups are not all one. */
function referencingDocument(i: number): { name: string; text: string } {
  switch (i % 7) {
    case 0:
      return { name: `train_${i}.py`, text: `from transformers import AutoModelForCausalLM\nbase = AutoModelForCausalLM.from_pretrained("sshleifer/tiny-gpt2", revision="${REPO_COMMITS.base}")\ntuned = AutoModelForCausalLM.from_pretrained("acme/tiny-gpt2-medical")\n` };
    case 1:
      return { name: `sft_${i}.yaml`, text: `model_name_or_path: acme/tiny-gpt2-medical\nadapter_name_or_path: team/lora-${i % 50}\n` };
    case 2:
      return { name: `config_${i}.json`, text: `{"model": "sshleifer/tiny-gpt2", "revision": "${REPO_COMMITS.base}"}\n` };
    case 3:
      return { name: `generate_${i}.ts`, text: `import { pipeline } from '@huggingface/transformers';\nexport const generate = await pipeline('text-generation', 'acme/tiny-gpt2-medical');\n` };
    case 4:
      return { name: `Dockerfile.${i}`, text: `FROM python:3.12\nRUN huggingface-cli download sshleifer/tiny-gpt2 --revision ${REPO_COMMITS.base}\n` };
    case 5:
      return { name: `README.md`, text: '---\nlicense: mit\nbase_model: sshleifer/tiny-gpt2\n---\n# A fine-tune\n' };
    default:
      return { name: `serve_${i}.sh`, text: `vllm serve team/model-${i % 50} --revision 0123456789abcdef0123456789abcdef01234567\n` };
  }
}

/** Ordinary code without model references, the bulk of a monorepo. */
function plainDocument(i: number): { name: string; text: string } {
  const body = Array.from({ length: 30 }, (_, line) => `    total += ${line} * value  # step ${line}`).join('\n');
  switch (i % 4) {
    case 0:
      return { name: `module_${i}.py`, text: `import os\n\ndef compute_${i}(value):\n    total = 0\n${body}\n    return total\n` };
    case 1:
      return { name: `util_${i}.ts`, text: `export function util${i}(value: number): number {\n${Array.from({ length: 30 }, (_, l) => `  value += ${l};`).join('\n')}\n  return value;\n}\n` };
    case 2:
      return { name: `settings_${i}.yaml`, text: Array.from({ length: 30 }, (_, l) => `key_${l}: value ${l}`).join('\n') + '\n' };
    default:
      return { name: `data_${i}.json`, text: JSON.stringify({ id: i, items: Array.from({ length: 30 }, (_, l) => ({ l, name: `item ${l}` })) }) + '\n' };
  }
}

/** CPU seconds used by waited-for children (Linux /proc; undefined elsewhere): wall time alone depends on the machine's load. */
function childrenCpuSeconds(): number | undefined {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ');
    // cutime and cstime are fields 16 and 17 of stat(5), 14 and 15 after the command name is cut.
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const fixture = await buildReferenceRepo();
  const repo = await mkdtemp(path.join(os.tmpdir(), 'lineage-bench-check-'));
  try {
    await writeFile(path.join(repo, '.gitignore'), 'build/\n');
    for (let i = 0; i < FILES; i++) {
      const document = i < WITH_REFERENCES ? referencingDocument(i) : plainDocument(i);
      // 100 files per folder, two levels deep, like packages of a monorepo.
      const folder = path.join(repo, `pkg_${Math.floor(i / 1000)}`, `mod_${Math.floor(i / 100) % 10}`, i % 7 === 5 && i < WITH_REFERENCES ? `card_${i}` : '');
      await mkdir(folder, { recursive: true });
      await writeFile(path.join(folder, document.name), document.text);
    }
    await mkdir(path.join(repo, 'build'), { recursive: true });
    for (let i = 0; i < IGNORED_FILES; i++) await writeFile(path.join(repo, 'build', `gen_${i}.py`), 'from transformers import AutoModel\nAutoModel.from_pretrained("ignored/model")\n');

    const env = { ...process.env, ...repoEnv(fixture) };
    console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.availableParallelism()} cores`);
    console.log(`lineage check on ${FILES} files (${WITH_REFERENCES} with references, ${IGNORED_FILES} more ignored), models in a local Hugging Face cache, offline`);
    for (const label of ['cold inspection cache', 'warm inspection cache']) {
      const cpuBefore = childrenCpuSeconds();
      const started = process.hrtime.bigint();
      const run = spawnSync(process.execPath, [CLI_PATH, 'check', '--root', repo, '--format', 'json', '--fail-on', 'never'], { env, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (run.status !== 0) throw new Error(`lineage check exited ${run.status}: ${run.stderr}`);
      const cpuAfter = childrenCpuSeconds();
      const cpu = cpuBefore === undefined || cpuAfter === undefined ? '' : `, ${(cpuAfter - cpuBefore).toFixed(2)} s CPU`;
      const report = JSON.parse(run.stdout) as { filesScanned: number; summary: { references: number } };
      console.log(`  ${label}: ${seconds.toFixed(2)} s wall${cpu}, ${Math.round(report.filesScanned / seconds)} files/s (${report.filesScanned} files, ${report.summary.references} references)${seconds <= 10 ? '' : '  ABOVE the 10 s target'}`);
    }
  } finally {
    await rm(repo, { recursive: true, force: true });
    await rm(fixture.root, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
