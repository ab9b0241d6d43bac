// The README's main job (`npm start`): generates a small Llama-shaped model, a fine-tuned copy and an
// independently initialized twin of identical config, then runs the real `lineage` CLI on them.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { makeSyntheticLlama } from '../test/fixtures/syntheticModels';
import { fineTuneDrift, independentInit } from '../test/fixtures/transformations';
import { writeModelFolder } from '../test/fixtures/writeModel';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'dist', 'cli.js');
const examples = path.join(root, 'examples', 'generated');

async function main(): Promise<void> {
  const shape = { hidden: 256, layers: 4, heads: 8, kvHeads: 4, ffn: 688, vocab: 2000 };
  const base = makeSyntheticLlama({ ...shape, seed: 'example-base' });
  const models = {
    'base-llama': base,
    'base-llama-finetuned': fineTuneDrift(base, { relativeScale: 0.05, seed: 'example-finetune' }),
    // Same config.json, same tokenizer, independent weights: a config-hash gate calls this a match.
    'independent-llama': independentInit(base, 'example-independent'),
  };
  mkdirSync(examples, { recursive: true });
  for (const [name, model] of Object.entries(models)) {
    const folder = path.join(examples, name);
    if (!existsSync(path.join(folder, 'model.safetensors'))) await writeModelFolder(model, folder, { format: 'safetensors' });
  }

  const run = (args: string[]) => {
    process.stdout.write(`\n$ lineage ${args.map((a) => path.relative(root, a) || a).join(' ')}\n`);
    try {
      process.stdout.write(execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8' }));
    } catch (err) {
      // compare exits 1 for "not related": that is an answer, not a failure.
      const e = err as { status?: number; stdout?: string };
      process.stdout.write(e.stdout ?? '');
      process.stdout.write(`(exit code ${e.status})\n`);
    }
  };
  run(['inspect', path.join(examples, 'base-llama')]);
  run(['compare', path.join(examples, 'base-llama'), path.join(examples, 'base-llama-finetuned')]);
  run(['compare', path.join(examples, 'base-llama'), path.join(examples, 'independent-llama')]);
  // Scan: against the embedded reference database, then against a registry that knows the base.
  run(['scan', path.join(examples, 'base-llama-finetuned')]);
  const registry = path.join(examples, 'registry.sqlite');
  rmSync(registry, { force: true });
  run(['db', 'add', path.join(examples, 'base-llama'), '--id', 'example/base-llama', '--db', registry]);
  run(['scan', path.join(examples, 'base-llama-finetuned'), '--db', registry]);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
