// Opens a model reference (folder, single file, or cached Hugging Face repo id) into one
// OpenedModel: its weight tensors, tokenizer, architecture, declared lineage and security findings.
import { readdir, realpath, stat } from 'node:fs/promises';
import { confinementRoot, PathEscapeError, resolveConfined } from '../io/confinedPath';
import * as path from 'node:path';
import { errorMessage, ModelFormatError, ModelNotFoundError } from '../errors';
import { LocalFileSource } from '../io/byteSource';
import { readGgufFile, type GgufFile } from '../formats/gguf';
import { readPytorchCheckpoint } from '../formats/pytorch';
import { readSafetensorsFile, readShardedSafetensors } from '../formats/safetensors';
import { onnxSourceOpener, readOnnxModel, type OnnxModel } from '../formats/onnx';
import { TensorStore, type SourceOpener } from '../formats/tensorStore';
import type { SecurityFinding, TensorInfo, WeightFormat } from '../formats/types';
import { loadVocabularyFromFolder, vocabularyFromGgufMetadata } from '../tokenizers';
import type { Vocabulary } from '../tokenizers/vocabulary';
import { architectureFromConfig, architectureFromGgufMetadata, readConfigJson, type ArchitectureTuple } from './config';
import { collectDeclaredLineage, type DeclaredLineage } from './declared';
import { findCachedRepo, hfCacheRoots, type CachedSnapshot } from './hfCache';
import { assignOnnxGraphRoles } from './onnxRoles';
import { parseModelReference } from './reference';
import { chooseRepoFile } from './resolve';
import { isWeightFileName, PICKLE_EXTENSIONS } from './weightExtensions';
import { appendAll } from '../util/arrays';

export type FileRole = 'weights' | 'tokenizer' | 'config' | 'card' | 'adapter' | 'other';

export interface ModelFile {
  path: string;
  relativePath: string;
  sizeBytes: number;
  role: FileRole;
  /** Set when the bytes are not on this machine (a Hub file read by ranges): `path` is then its hf:// name. */
  remote?: {
    /** The sha256 the Hub publishes for it (LFS oid), when it does. */
    publishedSha256?: string;
  };
}

export interface ModelLocation {
  /** 'hub-remote': read from the Hub by range requests (core/hub/remoteModel.ts); `folder` holds its small files. */
  kind: 'folder' | 'file' | 'hf-cache' | 'hub-remote';
  /** Folder whose metadata files (config, tokenizer, card) belong to the model. */
  folder: string;
  /** The single weight file asked for, when the target was a file. */
  file?: string;
  displayName: string;
  repoId?: string;
  commit?: string;
  snapshot?: CachedSnapshot;
}

export interface OpenedModel {
  location: ModelLocation;
  /** Container format of the weights read, or 'none' (tokenizer/metadata only). */
  format: WeightFormat | 'none';
  files: ModelFile[];
  weightFiles: string[];
  tensors: TensorInfo[];
  store: TensorStore;
  gguf?: GgufFile;
  safetensorsMetadata?: Record<string, string>;
  architecture?: ArchitectureTuple;
  vocabulary?: Vocabulary;
  declared: DeclaredLineage;
  findings: SecurityFinding[];
  /** Non-fatal problems (an unreadable tokenizer, an unsupported extra file, ...). */
  problems: string[];
  /** Tensor reads worth keeping in flight (remote models batch them); the extractor's default otherwise. */
  readParallelism?: number;
  close(): Promise<void>;
}

export interface OpenModelOptions {
  env?: NodeJS.ProcessEnv;
  /** Where to look for Hugging Face caches; defaults to the standard environment lookup. */
  cacheRoots?: string[];
}

const TOKENIZER_FILES = new Set(['tokenizer.json', 'tokenizer.model', 'vocab.json', 'merges.txt', 'vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json']);

export async function openModel(target: string, options: OpenModelOptions = {}): Promise<OpenedModel> {
  const location = await resolveLocation(target, options);
  // Every file of the model is opened confined to this root (the repo folder for a cache snapshot).
  const root = await confinementRoot(location.folder);
  const findings: SecurityFinding[] = [];
  const files = await listModelFiles(location, root, findings);
  const problems: string[] = (location.snapshot?.problems ?? []).map((p) => `cache: ${p.relativePath ?? ''} ${p.message}`.trim());

  const weights = chooseWeights(location, files);
  let tensors: TensorInfo[] = [];
  let format: OpenedModel['format'] = 'none';
  let gguf: GgufFile | undefined;
  let safetensorsMetadata: Record<string, string> | undefined;
  let onnx: OnnxModel | undefined;
  let openSource: SourceOpener = (p) => LocalFileSource.open(p, root);

  if (weights) {
    format = weights.format;
    switch (weights.format) {
      case 'safetensors': {
        if (weights.indexFile) {
          const sharded = await readShardedSafetensors(weights.indexFile, root);
          tensors = sharded.tensors;
          safetensorsMetadata = sharded.shards[0]?.metadata;
        } else {
          for (const file of weights.files) {
            const st = await readSafetensorsFile(file, root);
            appendAll(tensors, st.tensors);
            safetensorsMetadata ??= st.metadata;
          }
          assertUniqueTensorNames(tensors, weights.files);
        }
        break;
      }
      case 'gguf':
        gguf = await readGgufFile(weights.files[0]!, { root });
        tensors = gguf.tensors;
        break;
      case 'pytorch-zip':
      case 'pytorch-legacy':
      case 'torchscript': {
        for (const file of weights.files) {
          const ckpt = await readPytorchCheckpoint(file, root);
          format = ckpt.format;
          appendAll(tensors, ckpt.tensors);
          appendAll(findings, ckpt.findings);
        }
        break;
      }
      case 'onnx': {
        if (weights.files.length > 1) problems.push(`${weights.files.length} ONNX files; reading ${path.basename(weights.files[0]!)}`);
        onnx = await readOnnxModel(weights.files[0]!, { modelDirectory: location.folder, root });
        tensors = onnx.tensors;
        appendAll(findings, onnx.findings);
        openSource = onnxSourceOpener(onnx, openSource);
        for (const skipped of onnx.skippedTensors) problems.push(`${path.basename(onnx.file)}: tensor ${skipped.name} not read (${skipped.reason})`);
        break;
      }
    }
  }

  // Pickles that are not the weights we read still get scanned: they are what `from_pretrained` may load.
  for (const f of files) {
    if (f.role !== 'weights' || weights?.files.includes(f.path) || !PICKLE_EXTENSIONS.has(path.extname(f.path).toLowerCase())) continue;
    try {
      const ckpt = await readPytorchCheckpoint(f.path, root);
      appendAll(findings, ckpt.findings);
    } catch (err) {
      problems.push(errorMessage(err));
    }
  }

  const { vocabulary, architecture, declared } = await readFolderMetadata(location.folder, gguf, problems, root);
  if (onnx) {
    // Anonymous initializers get the names and orientation of the original through the graph.
    const assigned = await assignOnnxGraphRoles(onnx, { family: architecture?.family, openSource });
    tensors = assigned.tensors;
    appendAll(problems, assigned.notes);
  }

  const store = new TensorStore(tensors, openSource);
  return {
    location,
    format,
    files,
    weightFiles: weights?.files ?? [],
    tensors,
    store,
    gguf,
    safetensorsMetadata,
    architecture,
    vocabulary,
    declared,
    findings,
    problems,
    close: () => store.close(),
  };
}

export interface FolderMetadata {
  vocabulary?: Vocabulary;
  architecture?: ArchitectureTuple;
  declared: DeclaredLineage;
}

/**
 * A model folder's tokenizer, architecture and declared lineage (a GGUF's own metadata first where it
 * holds them), for local and remote models alike. What cannot be read is appended to `problems`.
 */
export async function readFolderMetadata(folder: string, gguf: GgufFile | undefined, problems: string[], allowedRoot?: string): Promise<FolderMetadata> {
  let vocabulary: Vocabulary | undefined;
  try {
    vocabulary = gguf && gguf.metadata.has('tokenizer.ggml.tokens')
      ? vocabularyFromGgufMetadata(gguf.metadata, gguf.file)
      : await loadVocabularyFromFolder(folder, allowedRoot === undefined ? {} : { allowedRoot });
  } catch (err) {
    problems.push(`tokenizer: ${errorMessage(err)}`);
  }
  let architecture: ArchitectureTuple | undefined;
  let config: Record<string, unknown> | undefined;
  try {
    config = await readConfigJson(folder);
    if (config) architecture = architectureFromConfig(config);
  } catch (err) {
    problems.push(`config: ${errorMessage(err)}`);
  }
  if (!architecture && gguf) architecture = architectureFromGgufMetadata(gguf.metadata);
  let declared: DeclaredLineage = { claims: [] };
  try {
    declared = await collectDeclaredLineage(folder, { config, ggufMetadata: gguf?.metadata, ggufFile: gguf?.file });
  } catch (err) {
    problems.push(`declared lineage: ${errorMessage(err)}`);
  }
  const metadata: FolderMetadata = { declared };
  if (vocabulary) metadata.vocabulary = vocabulary;
  if (architecture) metadata.architecture = architecture;
  return metadata;
}

/** A path that exists wins; otherwise the text must be a Hub reference found in the local cache. */
export async function resolveLocation(target: string, options: OpenModelOptions = {}): Promise<ModelLocation> {
  const info = await stat(target).catch(() => undefined);
  if (info) {
    const resolved = await realpath(target);
    if (info.isDirectory()) return { kind: 'folder', folder: resolved, displayName: target };
    if (info.isFile()) return { kind: 'file', folder: path.dirname(resolved), file: resolved, displayName: target };
    throw new ModelNotFoundError(`${target}: neither a file nor a folder`);
  }
  const ref = parseModelReference(target);
  if (!ref) throw new ModelNotFoundError(`${target}: no such file or folder, and not a Hugging Face repo id`);
  if (ref.kind === 'local') throw new ModelNotFoundError(`${target}: no such file or folder`);
  const roots = options.cacheRoots ?? hfCacheRoots(options.env ?? process.env);
  const snapshot = await findCachedRepo(ref.repoId, { repoType: ref.repoType, revision: ref.revision, cacheRoots: roots });
  if (!snapshot) {
    const rev = ref.revision ? `@${ref.revision}` : '';
    throw new ModelNotFoundError(
      `${ref.repoId}${rev} is not in the local Hugging Face cache (looked in ${roots.join(', ')}); download it first or pass a folder`,
    );
  }
  // The editor's resolver picks files the same way (a glob in `filename=` included).
  const file = ref.file === undefined ? undefined : chooseRepoFile(snapshot, ref.file, undefined);
  if (ref.file !== undefined && file === undefined) {
    throw new ModelNotFoundError(`${ref.repoId}: the cached snapshot ${snapshot.commit} has no file ${ref.file}`);
  }
  const folder = file ? path.dirname(path.join(snapshot.snapshotFolder, file)) : snapshot.snapshotFolder;
  return {
    kind: 'hf-cache',
    folder,
    file: file ? path.join(snapshot.snapshotFolder, file) : undefined,
    displayName: `${ref.repoId}${ref.revision ? '@' + ref.revision : ''}`,
    repoId: ref.repoId,
    commit: snapshot.commit,
    snapshot,
  };
}

/**
 * The model's files. A folder entry that resolves outside `root` (a symlink to /etc/passwd, to
 * another model, ...) is left out, so it is never read or hashed, and reported as a finding.
 */
async function listModelFiles(location: ModelLocation, root: string, findings: SecurityFinding[]): Promise<ModelFile[]> {
  // In the HF cache, list only the entries the cache module vetted (its symlinks stay inside the repo).
  if (location.snapshot) {
    const files = location.snapshot.files
      .filter((f) => !f.relativePath.includes('/') || path.dirname(path.join(location.snapshot!.snapshotFolder, f.relativePath)) === location.folder)
      .map((f) => ({ path: f.path, relativePath: path.basename(f.relativePath), sizeBytes: f.sizeBytes, role: fileRole(path.basename(f.relativePath)) }));
    return files.sort((a, b) => (a.relativePath < b.relativePath ? -1 : a.relativePath > b.relativePath ? 1 : 0));
  }
  const entries = await readdir(location.folder, { withFileTypes: true });
  const files: ModelFile[] = [];
  for (const e of entries) {
    const p = path.join(location.folder, e.name);
    try {
      await resolveConfined(p, root);
    } catch (err) {
      if (err instanceof PathEscapeError) {
        findings.push({
          severity: 'high',
          code: 'file-outside-model-folder',
          file: p,
          message: `${e.name} links outside the model folder (to ${err.realPath}); it was not read or hashed`,
        });
      }
      continue; // escaping, dangling or unreadable: not a file of this model
    }
    const info = await stat(p).catch(() => undefined);
    if (!info?.isFile()) continue;
    files.push({ path: p, relativePath: e.name, sizeBytes: info.size, role: fileRole(e.name) });
  }
  if (location.file && !files.some((f) => f.path === location.file)) {
    const info = await stat(location.file);
    files.push({ path: location.file, relativePath: path.basename(location.file), sizeBytes: info.size, role: 'weights' });
  }
  return files.sort((a, b) => (a.relativePath < b.relativePath ? -1 : a.relativePath > b.relativePath ? 1 : 0));
}

export function fileRole(name: string): FileRole {
  const lower = name.toLowerCase();
  if (TOKENIZER_FILES.has(lower)) return 'tokenizer';
  if (lower === 'config.json' || lower === 'generation_config.json') return 'config';
  if (lower === 'readme.md') return 'card';
  if (lower === 'adapter_config.json') return 'adapter';
  if (isWeightFileName(lower)) return 'weights';
  if (lower.endsWith('.safetensors.index.json') || lower.endsWith('.bin.index.json')) return 'weights';
  return 'other';
}

export interface WeightChoice {
  format: WeightFormat;
  files: string[];
  indexFile?: string;
}

/** Which weight files to read, by the precedence loaders use: safetensors over GGUF over pickles. */
export function chooseWeights(location: ModelLocation, files: ModelFile[]): WeightChoice | undefined {
  if (location.file) return { format: formatFromName(location.file), files: [location.file] };
  const names = (ext: string) => files.filter((f) => f.role === 'weights' && f.relativePath.toLowerCase().endsWith(ext)).map((f) => f.path);
  const index = files.find((f) => f.relativePath === 'model.safetensors.index.json');
  if (index) return { format: 'safetensors', files: names('.safetensors'), indexFile: index.path };
  const safetensors = names('.safetensors');
  if (safetensors.length > 0) return { format: 'safetensors', files: safetensors };
  const ggufs = names('.gguf');
  if (ggufs.length > 1) {
    throw new ModelNotFoundError(`${location.displayName}: holds ${ggufs.length} GGUF files; pass the one to read (${ggufs.map((g) => path.basename(g)).join(', ')})`);
  }
  if (ggufs.length === 1) return { format: 'gguf', files: ggufs };
  const pickles = files.filter((f) => f.role === 'weights' && PICKLE_EXTENSIONS.has(path.extname(f.relativePath).toLowerCase())).map((f) => f.path);
  if (pickles.length > 0) return { format: 'pytorch-zip', files: pickles };
  const onnx = names('.onnx');
  if (onnx.length > 0) return { format: 'onnx', files: onnx };
  return undefined;
}

function formatFromName(file: string): WeightFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.safetensors') return 'safetensors';
  if (ext === '.gguf') return 'gguf';
  if (ext === '.onnx') return 'onnx';
  return 'pytorch-zip';
}

function assertUniqueTensorNames(tensors: TensorInfo[], files: string[]): void {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name)) throw new ModelFormatError(t.file, `tensor ${t.name} appears in more than one of ${files.map((f) => path.basename(f)).join(', ')}`);
    seen.add(t.name);
  }
}
