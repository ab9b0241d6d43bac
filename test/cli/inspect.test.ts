// `lineage inspect` on every model folder and weight file of ../shared/zoo: read, or rejected with
// a message that names the file and the fault; hostile pickles are findings, never crashes.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { ModelSummary } from '../../server/src/core/model/summary';
import { buildHfCache } from '../fixtures/hfCacheBuilder';
import { runCli } from '../support/cli';
import { ZOO_DIR, zooPath } from '../support/zoo';

const WEIGHT_FILE = /\.(safetensors|gguf|bin|pkl|jit|onnx|model)$/;

function inspect(target: string): { status: number; summary?: ModelSummary; stderr: string } {
  const r = runCli(['inspect', target, '--json']);
  assert.ok(!r.stderr.includes('internal error'), r.stderr);
  return { status: r.status, summary: r.status === 0 ? (JSON.parse(r.stdout) as ModelSummary) : undefined, stderr: r.stderr };
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

describe('lineage inspect on the zoo', function () {
  this.timeout(240_000);

  it('tiny-gpt2 has 102,714 parameters, the GPT-2 architecture and tokenizer', () => {
    const { summary } = inspect(zooPath('tiny-gpt2'));
    assert.equal(summary!.parameterCount, 102_714);
    assert.equal(summary!.format, 'safetensors');
    assert.equal(summary!.architecture!.family, 'gpt2');
    assert.equal(summary!.tokenizer!.size, 50_257);
  });

  it('stories260K GGUF has 5 layers and a 512-token vocabulary', () => {
    const { summary } = inspect(zooPath('tinyllamas-stories260K-gguf'));
    assert.equal(summary!.format, 'gguf');
    assert.equal(summary!.architecture!.layers, 5);
    assert.equal(summary!.architecture!.vocabSize, 512);
    assert.equal(summary!.tokenizer!.size, 512);
  });

  it('the Llama 2 SentencePiece model has 32,000 pieces', () => {
    const { summary } = inspect(zooPath('tok-llama2-sentencepiece'));
    assert.equal(summary!.tokenizer!.size, 32_000);
    assert.equal(summary!.format, 'none');
  });

  it('the MiniLM cards declare their base models', () => {
    const l6 = inspect(zooPath('minilm-all-L6-v2-meta')).summary!;
    assert.ok(l6.declared.claims.some((c) => c.baseModel === 'nreimers/MiniLM-L6-H384-uncased'), JSON.stringify(l6.declared));
    const l12 = inspect(zooPath('minilm-all-L12-v2-meta')).summary!;
    assert.ok(l12.declared.claims.some((c) => c.baseModel === 'microsoft/MiniLM-L12-H384-uncased'), JSON.stringify(l12.declared));
  });

  it('every zoo folder is read (exit 0) with a format and file list', () => {
    const folders = readdirSync(ZOO_DIR).filter((n) => statSync(path.join(ZOO_DIR, n)).isDirectory() && n !== 'generated');
    assert.ok(folders.length >= 20);
    for (const folder of folders) {
      const { status, summary, stderr } = inspect(path.join(ZOO_DIR, folder));
      assert.equal(status, 0, `${folder}: ${stderr}`);
      assert.ok(summary!.files.length > 0, folder);
    }
  });

  it('every weight file is read, or rejected naming the file and the fault', () => {
    const files = walk(ZOO_DIR).filter((f) => WEIGHT_FILE.test(f));
    assert.ok(files.length >= 25, `found ${files.length} files`);
    for (const file of files) {
      const { status, summary, stderr } = inspect(file);
      if (status === 0) {
        assert.ok(summary!.format.length > 0, file);
        continue;
      }
      assert.equal(status, 3, `${file}: unexpected exit ${status}: ${stderr}`);
      assert.ok(stderr.includes(path.basename(file)), `message must name the file: ${stderr}`);
      assert.ok(stderr.trim().length > path.basename(file).length + 20, `message must say what is wrong: ${stderr}`);
    }
  });

  it('hostile pickles are reported as critical dangerous globals', () => {
    for (const name of ['evil_legacy.pkl', 'evil_proto4.pkl', 'evil_torchzip.bin']) {
      const { status, summary } = inspect(zooPath('generated', 'hostile', name));
      assert.equal(status, 0, name);
      const critical = summary!.findings.filter((f) => f.severity === 'critical' && f.code === 'pickle-dangerous-global');
      assert.ok(critical.length > 0 && /system/.test(critical[0]!.message), `${name}: ${JSON.stringify(summary!.findings)}`);
    }
  });

  it('hostile safetensors files exit 3 with a precise reason', () => {
    const expected: Record<string, RegExp> = {
      'header_overflow.safetensors': /header/i,
      'overlapping_offsets.safetensors': /overlap/i,
      'truncated_data.safetensors': /truncated|shorter|past the end|beyond/i,
      'shape_size_mismatch.safetensors': /shape|bytes/i,
    };
    for (const [name, reason] of Object.entries(expected)) {
      const { status, stderr } = inspect(zooPath('generated', 'hostile', name));
      assert.equal(status, 3, name);
      assert.match(stderr, reason, `${name}: ${stderr}`);
    }
  });

  it('--hash streams every file through sha256 (matching the zoo manifest)', () => {
    const r = runCli(['inspect', zooPath('tiny-gpt2'), '--hash', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const files = (JSON.parse(r.stdout) as ModelSummary).files;
    const sha = (name: string) => files.find((f) => f.relativePath === name)?.sha256 ?? '';
    assert.ok(sha('config.json').startsWith('4c5b83a44b484e50'), sha('config.json'));
    assert.ok(sha('model.safetensors').startsWith('5b562022d3f53a1e'), sha('model.safetensors'));
    assert.ok(files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256 ?? '')));
  });

  it('resolves repo ids, revisions and hf:// URIs through the local Hugging Face cache', async () => {
    const cache = mkdtempSync(path.join(tmpdir(), 'lineage-hf-'));
    try {
      const zoo = zooPath('tiny-gpt2');
      const files = Object.fromEntries(['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'].map((f) => [f, path.join(zoo, f)]));
      const commit = 'a'.repeat(40);
      await buildHfCache(cache, [{ repoId: 'sshleifer/tiny-gpt2', commit, files, refs: { main: commit, 'v1.0': commit } }]);
      const env = { HF_HUB_CACHE: cache };
      for (const target of ['sshleifer/tiny-gpt2', 'SSHLEIFER/Tiny-GPT2', `sshleifer/tiny-gpt2@${commit}`, 'sshleifer/tiny-gpt2@v1.0', 'hf://sshleifer/tiny-gpt2', 'https://huggingface.co/sshleifer/tiny-gpt2']) {
        const r = runCli(['inspect', target, '--json'], env);
        assert.equal(r.status, 0, `${target}: ${r.stderr}`);
        const summary = JSON.parse(r.stdout) as ModelSummary;
        assert.equal(summary.location.commit, commit, target);
        assert.equal(summary.parameterCount, 102_714, target);
      }
      const missing = runCli(['inspect', 'sshleifer/not-downloaded'], env);
      assert.equal(missing.status, 3);
      assert.match(missing.stderr, /not in the local Hugging Face cache/);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('usage errors exit 2, unknown paths exit 3', () => {
    assert.equal(runCli(['inspect']).status, 2);
    assert.equal(runCli(['inspect', '--nope', 'x']).status, 2);
    const missing = runCli(['inspect', '/nonexistent/model-folder']);
    assert.equal(missing.status, 3);
    assert.match(missing.stderr, /nonexistent/);
  });
});
