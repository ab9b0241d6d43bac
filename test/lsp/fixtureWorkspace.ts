// Builds the LSP fixture: a Hugging Face cache of zoo models (a base, its fine-tune, an unrelated
// GGUF, pickle-only, hostile-pickle and tampered repos) and a workspace whose documents use every finder.
import { copyFile, cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildHfCache, type BuiltHfCache } from '../fixtures/hfCacheBuilder';
import { DOCUMENTS_DIR } from '../references/helpers';
import { zooPath } from '../support/zoo';

export const COMMITS = {
  base: '1111111111111111111111111111111111111111',
  medical: '2222222222222222222222222222222222222222',
  stories: '3333333333333333333333333333333333333333',
  pickle: '4444444444444444444444444444444444444444',
  evil: '5555555555555555555555555555555555555555',
  tampered: '6666666666666666666666666666666666666666',
} as const;

export const UNKNOWN_PINNED = '0123456789abcdef0123456789abcdef01234567';

export interface FixtureWorkspace {
  root: string;
  cacheRoot: string;
  workspace: string;
  cache: BuiltHfCache;
  /** Relative path -> text of the documents written into the workspace. */
  documents: Record<string, string>;
}

function gpt2Files(folder: string, weights: Record<string, string>): Record<string, string> {
  const files: Record<string, string> = { ...weights };
  for (const name of ['config.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json']) files[name] = zooPath(folder, name);
  return files;
}

const card = (base: string): Uint8Array => Buffer.from(`---\nlicense: mit\nbase_model: ${base}\n---\n# A model\n`);

/** The Python document: one line per case, so tests address lines by name through PY_LINES. */
export const PY_LINES = {
  base: 1,
  medical: 2,
  stories: 3,
  pickle: 4,
  evil: 5,
  tampered: 6,
  remote: 7,
  implicit: 8,
  squat: 9,
  missing: 10,
  local: 11,
} as const;

export function pythonDocument(): string {
  return [
    'from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline',
    `base = AutoModelForCausalLM.from_pretrained("sshleifer/tiny-gpt2", revision="${COMMITS.base}")`,
    'med = AutoModelForCausalLM.from_pretrained("acme/tiny-gpt2-medical")',
    'story = AutoModelForCausalLM.from_pretrained("acme/stories-gguf", revision="main")',
    `pick = AutoModelForCausalLM.from_pretrained("acme/pickle-gpt2", revision="${COMMITS.pickle}")`,
    `evil = AutoModelForCausalLM.from_pretrained("acme/evil-pickle", revision="${COMMITS.evil}")`,
    `tamp = AutoModelForCausalLM.from_pretrained("acme/tampered-gpt2", revision="${COMMITS.tampered}")`,
    'remote = AutoModelForCausalLM.from_pretrained("sshleifer/tiny-gpt2", trust_remote_code=True)',
    'clf = pipeline("sentiment-analysis")',
    `squat = AutoModelForCausalLM.from_pretrained("meta-lama/Llama-3.1-8B", revision="${UNKNOWN_PINNED}")`,
    `missing = AutoTokenizer.from_pretrained("nobody/not-downloaded", revision="${UNKNOWN_PINNED}")`,
    'local = AutoModelForCausalLM.from_pretrained("./models/local-gpt2")',
    '',
  ].join('\n');
}

export async function buildFixtureWorkspace(): Promise<FixtureWorkspace> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lineage-lsp-'));
  const cacheRoot = path.join(root, 'hf-cache');
  const workspace = path.join(root, 'workspace');
  const cache = await buildHfCache(cacheRoot, [
    { repoId: 'sshleifer/tiny-gpt2', commit: COMMITS.base, files: gpt2Files('tiny-gpt2', { 'model.safetensors': zooPath('tiny-gpt2', 'model.safetensors') }) },
    {
      repoId: 'acme/tiny-gpt2-medical',
      commit: COMMITS.medical,
      files: { ...gpt2Files('tiny-gpt2-medical', { 'model.safetensors': zooPath('tiny-gpt2-medical', 'model.safetensors') }), 'README.md': card('sshleifer/tiny-gpt2') },
    },
    { repoId: 'acme/stories-gguf', commit: COMMITS.stories, files: { 'stories260K.gguf': zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'), 'README.md': card('sshleifer/tiny-gpt2') } },
    { repoId: 'acme/pickle-gpt2', commit: COMMITS.pickle, files: gpt2Files('tiny-gpt2', { 'pytorch_model.bin': zooPath('tiny-gpt2', 'pytorch_model.bin') }) },
    { repoId: 'acme/evil-pickle', commit: COMMITS.evil, files: { 'pytorch_model.bin': zooPath('generated', 'hostile', 'evil_torchzip.bin') } },
    { repoId: 'acme/tampered-gpt2', commit: COMMITS.tampered, files: gpt2Files('tiny-gpt2-medical', { 'model.safetensors': zooPath('tiny-gpt2-medical', 'model.safetensors') }) },
  ]);
  // Alter the last byte of the tampered repo's weights blob: its name still claims the original sha256.
  const tampered = cache.repos.find((r) => r.repoId === 'acme/tampered-gpt2')!.blobs['model.safetensors']!;
  const bytes = await readFile(tampered.blobPath);
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x01;
  await writeFile(tampered.blobPath, bytes);

  await mkdir(workspace, { recursive: true });
  const documents: Record<string, string> = {
    'app.py': pythonDocument(),
    'train.yml': 'base_model: acme/tiny-gpt2-medical\nrevision_of_model: main\ntrust_remote_code: true\n',
    'web/index.ts': "import { pipeline } from '@huggingface/transformers';\nconst generate = await pipeline('text-generation', 'acme/tiny-gpt2-medical');\n",
    'Dockerfile': 'FROM python:3.12\nRUN huggingface-cli download sshleifer/tiny-gpt2\n',
    'serve.sh': 'vllm serve acme/tiny-gpt2-medical --revision main\n',
    'Modelfile': 'FROM hf.co/acme/stories-gguf:Q8_0\n',
    'model-config/config.json': '{"_name_or_path": "sshleifer/tiny-gpt2", "model_type": "gpt2"}\n',
    // A model folder whose card claims the wrong base: its weights are the medical fine-tune.
    'my-model/README.md': '---\nlicense: mit\nbase_model: acme/stories-gguf\n---\n# My model\nSee https://huggingface.co/sshleifer/tiny-gpt2 for the original.\n',
    // Model folders whose cards name no base; their weights are the medical fine-tune of sshleifer/tiny-gpt2.
    'undeclared-bare/README.md': '# Notes model\nFine-tuned on clinical notes.\n',
    'undeclared-front-matter/README.md': '---\nlicense: mit\ntags: [medical]\n---\n# Notes model\n',
  };
  for (const [relativePath, text] of Object.entries(documents)) {
    await mkdir(path.dirname(path.join(workspace, relativePath)), { recursive: true });
    await writeFile(path.join(workspace, relativePath), text);
  }
  for (const folder of ['my-model', 'undeclared-bare', 'undeclared-front-matter']) {
    for (const name of ['model.safetensors', 'config.json', 'vocab.json', 'merges.txt']) {
      await copyFile(zooPath('tiny-gpt2-medical', name), path.join(workspace, folder, name));
    }
  }
  await mkdir(path.join(workspace, 'models', 'local-gpt2'), { recursive: true });
  for (const name of ['model.safetensors', 'config.json', 'vocab.json', 'merges.txt']) {
    await copyFile(zooPath('tiny-gpt2', name), path.join(workspace, 'models', 'local-gpt2', name));
  }
  // The reference finders' own fixtures: every syntax they know, mostly ids that are not cached.
  await cp(DOCUMENTS_DIR, path.join(workspace, 'finder-fixtures'), { recursive: true });
  return { root, cacheRoot, workspace, cache, documents };
}

/** Environment for the server: the fixture cache only, never the machine's own cache. */
export function serverEnv(fixture: FixtureWorkspace, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { HF_HUB_CACHE: fixture.cacheRoot, HF_HOME: path.join(fixture.root, 'hf-home'), XDG_CACHE_HOME: path.join(fixture.root, 'xdg'), HOME: fixture.root, HF_HUB_OFFLINE: '1', ...extra };
}
