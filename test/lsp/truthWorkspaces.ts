// The two workspaces of issue 11, rebuilt from zoo files: a training repository whose models are not
// downloaded, and a repository of local models (false cards, a renamed copy, a GGUF named by path).
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildHfCache } from '../fixtures/hfCacheBuilder';
import { zooPath } from '../support/zoo';

export const TRUTH_COMMITS = {
  tiny: 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
  medical: 'b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2',
  sentinel: 'c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3',
} as const;

export interface TruthWorkspaces {
  root: string;
  /** Hugging Face cache of the local-models workspace (the training workspace's cache is empty). */
  cacheRoot: string;
  training: string;
  localModels: string;
  /** Workspace -> relative path -> text. */
  documents: { training: Record<string, string>; localModels: Record<string, string> };
}

/** train.py: five Hub references, nothing downloaded; line 5 is a homoglyph of line 3's id. */
export const TRAIN_PY_LINES = { tokenizer: 2, base: 3, draft: 4, squat: 5, adapter: 6 } as const;

export const TRAIN_PY = [
  'from transformers import AutoModelForCausalLM, AutoTokenizer',
  'from peft import PeftModel',
  'tokenizer = AutoTokenizer.from_pretrained("meta-llama/Llama-3.1-8B-Instruct")',
  'base = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-3.1-8B-Instruct", torch_dtype="auto")',
  'draft = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-0.5B-Instruct")',
  'judge = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-3.1-8B-lnstruct")',
  'model = PeftModel.from_pretrained(base, "acme/support-lora")',
  '',
].join('\n');

/** app.py of the local-models workspace: the three cached repos and the GGUF by path. */
export const APP_PY_LINES = { tiny: 2, medical: 3, sentinel: 4, gguf: 5 } as const;

export const APP_PY = [
  'from transformers import AutoModelForCausalLM',
  'from llama_cpp import Llama',
  'tiny = AutoModelForCausalLM.from_pretrained("sshleifer/tiny-gpt2")',
  'medical = AutoModelForCausalLM.from_pretrained("acme/tiny-gpt2-medical")',
  'sentinel = AutoModelForCausalLM.from_pretrained("bigcorp/sentinel-1b")',
  'llm = Llama(model_path="models/stories260K.gguf")',
  '',
].join('\n');

const card = (base: string): Uint8Array => Buffer.from(`---\nlicense: mit\nbase_model: ${base}\n---\n# A model\n`);

function gpt2Files(folder: string, extra: Record<string, string | Uint8Array> = {}): Record<string, string | Uint8Array> {
  const files: Record<string, string | Uint8Array> = { 'model.safetensors': zooPath(folder, 'model.safetensors'), ...extra };
  for (const name of ['config.json', 'vocab.json', 'merges.txt']) files[name] = zooPath(folder, name);
  return files;
}

export async function buildTruthWorkspaces(): Promise<TruthWorkspaces> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lineage-truth-'));
  const cacheRoot = path.join(root, 'hf-cache');
  await buildHfCache(cacheRoot, [
    { repoId: 'sshleifer/tiny-gpt2', commit: TRUTH_COMMITS.tiny, files: gpt2Files('tiny-gpt2') },
    // A real fine-tune of sshleifer/tiny-gpt2 whose card names a base with another shape.
    { repoId: 'acme/tiny-gpt2-medical', commit: TRUTH_COMMITS.medical, files: gpt2Files('tiny-gpt2-medical', { 'README.md': card('openai-community/gpt2') }) },
    // sshleifer/tiny-gpt2 byte for byte, renamed, with a card claiming a 7B base.
    { repoId: 'bigcorp/sentinel-1b', commit: TRUTH_COMMITS.sentinel, files: gpt2Files('tiny-gpt2', { 'README.md': card('mistralai/Mistral-7B-v0.1') }) },
  ]);
  const training = path.join(root, 'training');
  const localModels = path.join(root, 'local-models');
  const documents = {
    training: {
      'train.py': TRAIN_PY,
      'config.yml': 'base_model: meta-llama/Llama-3.1-8B-Instruct\nload_in_8bit: false\nadapter: lora\n',
      'README.md': '---\nlicense: apache-2.0\nbase_model: meta-llama/Llama-3.1-8B-Instruct\n---\n# Support assistant\n',
      Dockerfile: 'FROM python:3.12\nRUN huggingface-cli download Qwen/Qwen2.5-0.5B-Instruct\n',
    },
    localModels: {
      'app.py': APP_PY,
      Modelfile: 'FROM ./models/stories260K.gguf\nPARAMETER temperature 0.7\n',
    },
  };
  for (const [folder, files] of [[training, documents.training], [localModels, documents.localModels]] as const) {
    for (const [relativePath, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(folder, relativePath)), { recursive: true });
      await writeFile(path.join(folder, relativePath), text);
    }
  }
  await mkdir(path.join(localModels, 'models'), { recursive: true });
  await copyFile(zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'), path.join(localModels, 'models', 'stories260K.gguf'));
  return { root, cacheRoot, training, localModels, documents };
}

/** The server's environment: this cache only, offline, no user cache or token. */
export function truthServerEnv(workspaces: TruthWorkspaces, cacheRoot = workspaces.cacheRoot): NodeJS.ProcessEnv {
  return { HF_HUB_CACHE: cacheRoot, HF_HOME: path.join(workspaces.root, 'hf-home'), XDG_CACHE_HOME: path.join(workspaces.root, 'xdg'), HOME: workspaces.root, HF_HUB_OFFLINE: '1' };
}
