// Opens a Hub model that is not on this machine into the same OpenedModel a local folder gives:
// the revision is resolved to a commit, weight headers and sampled rows are read by HTTP range
// requests, and the small files (config, card, tokenizer, index) are fetched whole into a folder.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { errorMessage, ModelFormatError, ModelNotFoundError } from '../errors';
import { LocalFileSource, type ByteSource, type ReadRange } from '../io/byteSource';
import { HttpRangeSource, type RemoteFileSpec } from '../io/httpRangeSource';
import { writeFileAtomically } from '../io/atomicFile';
import { ReadCache } from '../io/readCache';
import { RemoteReadError, RemoteSession, type RemoteReadStats } from '../io/remoteSession';
import { readGgufHeader, type GgufFile } from '../formats/gguf';
import { readOnnxModel, onnxSourceOpener, ONNX_IN_MEMORY_LIMIT_BYTES, type OnnxModel } from '../formats/onnx';
import { readPytorchCheckpointFrom } from '../formats/pytorch';
import { readSafetensorsHeader, readShardedSafetensorsFrom, MAX_INDEX_BYTES } from '../formats/safetensors';
import { TensorStore, type SourceOpener } from '../formats/tensorStore';
import { looksLikeZip } from '../formats/zip';
import type { SecurityFinding, TensorInfo } from '../formats/types';
import { lookUpHubModel, type HubFile, type HubModelMetadata } from './hubMetadata';
import { hubEndpointFromEnv, hubOfflineByEnv, readHubToken } from './hubEnvironment';
import { lineageCacheFolder } from '../util/cacheFolder';
import type { DeclaredLineage } from '../model/declared';
import { assignOnnxGraphRoles } from '../model/onnxRoles';
import { chooseWeights, fileRole, openModel, readFolderMetadata, resolveLocation, type ModelFile, type ModelLocation, type OpenedModel, type OpenModelOptions } from '../model/openModel';
import { isPinnedRevision, parseModelReference } from '../model/reference';
import { PICKLE_EXTENSIONS } from '../model/weightExtensions';
import { runWithConcurrency } from '../util/concurrency';
import { appendAll } from '../util/arrays';

export interface RemoteOpenOptions {
  env?: NodeJS.ProcessEnv;
  /** Default HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Default HF_TOKEN / the token file. Sent to the endpoint only. */
  accessToken?: string;
  /** Forbid the network (also when HF_HUB_OFFLINE=1). */
  offline?: boolean;
  /** Bytes the model may cost over the network (default 256 MiB, lineage.fingerprint.maxBytesPerModel). */
  maxBytes?: number;
  /** Requests in flight (default 8). */
  concurrency?: number;
  timeoutMs?: number;
  maxAttempts?: number;
  retryBaseMs?: number;
  signal?: AbortSignal;
  /** Called as bytes arrive (network or cache). */
  onProgress?: (stats: Readonly<RemoteReadStats>) => void;
  /** The on-disk read cache; default one under the Lineage cache folder; null disables it. */
  cache?: ReadCache | null;
  /** Test seam for the Hub's API (model info, listing); range reads go over node:http(s). */
  fetch?: typeof fetch;
}

export interface RemoteModelInfo {
  endpoint: string;
  repoId: string;
  revisionAsked: string;
  commit: string;
  /** Every file of the commit the Hub lists, with its published sha256 (LFS) or git oid. */
  published: HubFile[];
  stats: RemoteReadStats;
}

export type RemoteOpenedModel = OpenedModel & { remote: RemoteModelInfo };

export const DEFAULT_REMOTE_MAX_BYTES = 256 * 1024 * 1024;
/** Configs, cards, tokenizers and indexes are fetched whole up to this size. */
export const MAX_WHOLE_FILE_BYTES = 64 * 1024 * 1024;
/** Other files stored in git (not LFS) are fetched whole to hash them up to this size, as a local fingerprint hashes them. */
const MAX_HASHED_GIT_FILE_BYTES = 16 * 1024 * 1024;
/**
 * Tensor jobs in flight for a remote model (the extractor's local default is 16). High on purpose:
 * a job only queues row reads, the session bounds requests in flight, and every job issued at once
 * lets all reads merge into a few multi-range requests (a 7B model's ~300 tensors in one wave, not five).
 * Memory is the sampled values themselves, bounded by the sampling plan.
 */
const REMOTE_READ_PARALLELISM = 1024;
/** Repositories with more safetensors files than this get no early header reads (most would go unused). */
const MAX_HEADS_PREFETCHED = 64;
/** Small files fetched at once (each is its own request). */
const WHOLE_FILES_IN_FLIGHT = 8;

/**
 * openModel for any target: a local path or cached repo first; a Hub id that is not on this
 * machine is then read remotely (unless offline). The result's `remote` says what it cost.
 */
export async function openModelAnywhere(target: string, options: OpenModelOptions & RemoteOpenOptions = {}): Promise<OpenedModel & { remote?: RemoteModelInfo }> {
  try {
    await resolveLocation(target, options);
  } catch (err) {
    const ref = parseModelReference(target);
    if (!(err instanceof ModelNotFoundError) || ref?.kind !== 'hub' || ref.repoType !== 'model') throw err;
    if (isOffline(options)) {
      throw new RemoteReadError('offline', `${err.message}; reading it from the Hub is off (--offline or HF_HUB_OFFLINE=1)`);
    }
    try {
      return await openRemoteModel(ref.repoId, ref.revision, { ...options, file: ref.file });
    } catch (remoteErr) {
      // Say both: where it was looked for on disk, and why the Hub did not serve it.
      if (remoteErr instanceof RemoteReadError && (remoteErr.reason === 'network' || remoteErr.reason === 'timeout')) {
        throw new RemoteReadError(remoteErr.reason, `${err.message}; reading it from the Hub failed: ${remoteErr.message}`);
      }
      if (remoteErr instanceof ModelNotFoundError) throw new ModelNotFoundError(`${err.message}; the Hub: ${remoteErr.message}`);
      throw remoteErr;
    }
  }
  return openModel(target, options);
}

export function isOffline(options: RemoteOpenOptions): boolean {
  return options.offline === true || hubOfflineByEnv(options.env ?? process.env);
}

export async function openRemoteModel(
  repoId: string,
  revision: string | undefined,
  options: RemoteOpenOptions & { file?: string } = {},
): Promise<RemoteOpenedModel> {
  const env = options.env ?? process.env;
  if (isOffline(options)) throw new RemoteReadError('offline', `${repoId}: reading from the Hub is off (--offline or HF_HUB_OFFLINE=1)`);
  const endpoint = (options.endpoint ?? hubEndpointFromEnv(env)).replace(/\/+$/, '');
  const accessToken = options.accessToken ?? (await readHubToken(env));
  const cache = options.cache === null ? undefined : options.cache ?? ReadCache.shared(path.join(lineageCacheFolder(env), 'remote'));
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const session = new RemoteSession({
    endpoint,
    accessToken,
    maxBytes: options.maxBytes ?? DEFAULT_REMOTE_MAX_BYTES,
    concurrency: options.concurrency,
    timeoutMs: options.timeoutMs,
    maxAttempts: options.maxAttempts,
    retryBaseMs: options.retryBaseMs,
    signal: options.signal,
    onProgress: options.onProgress,
  });

  const metadata = await hubMetadata(repoId, revision, endpoint, accessToken, session, cache, fetchImpl, options);
  const commit = metadata.commit;
  const display = `${metadata.repoId}@${revision ?? 'main'}`;
  const remoteName = (p: string) => `hf://${metadata.repoId}@${commit}/${p}`;

  // The files of the folder asked for (the repo root, or the folder of the file asked for), as a local folder lists them.
  const askedFile = options.file;
  if (askedFile !== undefined && !metadata.files.some((f) => f.path === askedFile)) {
    throw new ModelNotFoundError(`${display}: commit ${commit} has no file ${askedFile}`);
  }
  const folderPrefix = askedFile !== undefined && askedFile.includes('/') ? askedFile.slice(0, askedFile.lastIndexOf('/') + 1) : '';
  const listed = metadata.files.filter((f) => f.path.startsWith(folderPrefix) && !f.path.slice(folderPrefix.length).includes('/'));

  const specOf = (f: HubFile): RemoteFileSpec => {
    if (f.sizeBytes === undefined) throw new ModelFormatError(remoteName(f.path), 'the Hub listing gives no size for this file');
    return {
      name: remoteName(f.path),
      url: new URL(`${endpoint}/${metadata.repoId}/resolve/${commit}/${f.path.split('/').map(encodeURIComponent).join('/')}`),
      sizeBytes: f.sizeBytes,
      commit,
      sha256: f.lfsSha256,
      identity: f.lfsSha256 ? `sha256:${f.lfsSha256}` : f.gitOid ? `git:${f.gitOid}` : undefined,
    };
  };

  const { folder, temporary } = await materializedFolder(cache, endpoint, metadata.repoId, commit, folderPrefix);
  const sources = new Map<string, ByteSource>();
  const openRemote = (f: HubFile): ByteSource => {
    const name = remoteName(f.path);
    let source = sources.get(name);
    if (!source) {
      source = new HttpRangeSource(specOf(f), session, cache);
      sources.set(name, source);
    }
    return source;
  };
  const problems: string[] = [];
  const closeAll = async () => {
    for (const s of sources.values()) await s.close();
    await cache?.flush().catch((err: unknown) => problems.push(`read cache: ${errorMessage(err)}`));
    // Never masks the error being reported.
    if (temporary) await rm(folder, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
  };

  try {
    // Small files whole: what the local loaders read, and what a local fingerprint hashes.
    const files: ModelFile[] = [];
    const fetches: Array<() => Promise<void>> = [];
    for (const f of listed) {
      const name = f.path.slice(folderPrefix.length);
      const role = fileRole(name);
      const size = f.sizeBytes ?? 0;
      const isIndex = name.toLowerCase().endsWith('.index.json');
      // Metadata the loaders read, and files in git (not LFS) that a local fingerprint would hash.
      const wantWhole = size <= MAX_WHOLE_FILE_BYTES
        && (isIndex || (role !== 'weights' && role !== 'other') || (role === 'other' && f.lfsSha256 === undefined && size <= MAX_HASHED_GIT_FILE_BYTES));
      if (wantWhole) {
        const local = path.join(folder, name);
        fetches.push(async () => writeFileAtomically(local, verifiedWhole(f, remoteName(f.path), await openRemote(f).read(0, size))));
        files.push({ path: local, relativePath: name, sizeBytes: size, role });
      } else {
        files.push({ path: remoteName(f.path), relativePath: name, sizeBytes: size, role, remote: f.lfsSha256 ? { publishedSha256: f.lfsSha256 } : {} });
      }
    }
    // safetensors headers sit in the first bytes of every shard: ask for them now, beside the configs
    // and the index, rather than one round trip later (the head window is kept for the header read).
    // A failure is reported by the header read that needs that file (never by a file left unused).
    const headReads = new Map<string, Promise<unknown>>();
    const headed = listed.filter((f) => f.path.toLowerCase().endsWith('.safetensors') && (f.sizeBytes ?? 0) > 0);
    if (headed.length <= MAX_HEADS_PREFETCHED) {
      for (const f of headed) {
        const early = openRemote(f).read(0, 8);
        early.catch(() => undefined);
        headReads.set(f.path, early);
      }
    }
    /** The source of a file whose header is read now, after its early head read (whose error wins). */
    const headerSource = async (f: HubFile): Promise<ByteSource> => {
      await headReads.get(f.path);
      return openRemote(f);
    };
    // Every fetch settles before an error is thrown, so nothing writes into the folder after it.
    const failures: unknown[] = [];
    await runWithConcurrency(fetches.map((fetchOne) => () => fetchOne().catch((err: unknown) => void failures.push(err))), WHOLE_FILES_IN_FLIGHT);
    if (failures.length > 0) throw failures[0];
    files.sort((a, b) => (a.relativePath < b.relativePath ? -1 : a.relativePath > b.relativePath ? 1 : 0));
    const byPath = new Map(listed.map((f) => [remoteName(f.path), f]));

    const location: ModelLocation = {
      kind: 'hub-remote',
      folder,
      file: askedFile !== undefined ? remoteName(askedFile) : undefined,
      displayName: display,
      repoId: metadata.repoId,
      commit,
    };
    const weights = chooseWeights(location, files);
    let tensors: TensorInfo[] = [];
    let onnx: OnnxModel | undefined;
    let format: OpenedModel['format'] = 'none';
    let gguf: GgufFile | undefined;
    let safetensorsMetadata: Record<string, string> | undefined;
    const findings: SecurityFinding[] = [];
    let openSource: SourceOpener = async (name) => {
      const f = byPath.get(name);
      // The store counts its own reads (a fingerprint's bytesRead), not the header reads before it.
      if (f) return countedView(openRemote(f));
      return LocalFileSource.open(name);
    };
    const remoteFile = (name: string): HubFile => {
      const f = byPath.get(name);
      if (!f) throw new ModelFormatError(name, 'not a file of the listing');
      return f;
    };
    let weightFiles = weights?.files ?? [];

    if (weights) {
      format = weights.format;
      switch (weights.format) {
        case 'safetensors': {
          if (weights.indexFile) {
            const indexFile = files.find((f) => f.path === weights.indexFile)!;
            if (indexFile.sizeBytes > MAX_INDEX_BYTES) throw new ModelFormatError(indexFile.relativePath, `index of ${indexFile.sizeBytes} bytes exceeds ${MAX_INDEX_BYTES}`);
            const text = new TextDecoder('utf-8', { fatal: true }).decode(await readLocal(indexFile.path));
            const shardByName = new Map(listed.map((f) => [f.path.slice(folderPrefix.length), f]));
            const sharded = await readShardedSafetensorsFrom(text, remoteName(folderPrefix + indexFile.relativePath), async (shardName) => {
              // Shards are files of the same folder, named exactly: no path ever leaves the listing.
              const shard = shardByName.get(shardName);
              if (!shard || shardName.includes('/')) throw new ModelFormatError(remoteName(folderPrefix + indexFile.relativePath), `names shard "${shardName.slice(0, 200)}", which is not a file beside the index`);
              return readSafetensorsHeader(await headerSource(shard));
            });
            tensors = sharded.tensors;
            safetensorsMetadata = sharded.shards[0]?.metadata;
          } else {
            for (const file of weights.files) {
              const st = await readSafetensorsHeader(await headerSource(remoteFile(file)));
              appendAll(tensors, st.tensors);
              safetensorsMetadata ??= st.metadata;
            }
            const seen = new Set<string>();
            for (const t of tensors) {
              if (seen.has(t.name)) throw new ModelFormatError(t.file, `tensor ${t.name} appears in more than one weight file`);
              seen.add(t.name);
            }
          }
          break;
        }
        case 'gguf':
          gguf = await readGgufHeader(openRemote(remoteFile(weights.files[0]!)));
          tensors = gguf.tensors;
          break;
        case 'pytorch-zip':
        case 'pytorch-legacy':
        case 'torchscript':
          for (const file of weights.files) {
            const source = openRemote(remoteFile(file));
            if (!(await looksLikeZip(source))) {
              throw new ModelFormatError(file, 'a legacy (non-zip) PyTorch pickle is not read remotely: where its tensors lie is known only after reading the whole stream; download the file to fingerprint it');
            }
            const ckpt = await readPytorchCheckpointFrom(source);
            format = ckpt.format;
            appendAll(tensors, ckpt.tensors);
            appendAll(findings, ckpt.findings);
          }
          break;
        case 'onnx': {
          // ONNX keeps weights inside a protobuf that is parsed whole: fetched whole, under the in-memory limit.
          const onnxFile = remoteFile(weights.files[0]!);
          const size = onnxFile.sizeBytes ?? 0;
          if (size > ONNX_IN_MEMORY_LIMIT_BYTES) throw new ModelFormatError(weights.files[0]!, `an ONNX file of ${size} bytes is not read remotely (limit ${ONNX_IN_MEMORY_LIMIT_BYTES}); download it`);
          if (weights.files.length > 1) problems.push(`${weights.files.length} ONNX files; reading ${path.basename(weights.files[0]!)}`);
          const local = path.join(folder, onnxFile.path.slice(folderPrefix.length));
          await writeFileAtomically(local, verifiedWhole(onnxFile, remoteName(onnxFile.path), await openRemote(onnxFile).read(0, size)));
          const entry = files.find((f) => f.path === weights.files[0]);
          if (entry) {
            entry.path = local;
            delete entry.remote;
          }
          weightFiles = [local];
          onnx = await readOnnxModel(local, { modelDirectory: folder });
          tensors = onnx.tensors;
          appendAll(findings, onnx.findings);
          openSource = onnxSourceOpener(onnx);
          for (const skipped of onnx.skippedTensors) problems.push(`${path.basename(onnx.file)}: tensor ${skipped.name} not read (${skipped.reason})`);
          break;
        }
      }
    }
    for (const f of files) {
      if (f.role === 'weights' && f.remote && !weightFiles.includes(f.path) && PICKLE_EXTENSIONS.has(path.extname(f.path).toLowerCase())) {
        problems.push(`${f.relativePath}: a pickle not read remotely, so not scanned for code; download it to scan it`);
      }
    }

    const folderMetadata = await readFolderMetadata(folder, gguf, problems);
    const { vocabulary, architecture } = folderMetadata;
    if (onnx) {
      // As for a local ONNX model: anonymous initializers get their roles through the graph.
      const assigned = await assignOnnxGraphRoles(onnx, { family: architecture?.family, openSource });
      tensors = assigned.tensors;
      appendAll(problems, assigned.notes);
    }
    // Claims name the Hub file, not the scratch copy.
    const declared: DeclaredLineage = { ...folderMetadata.declared, claims: folderMetadata.declared.claims.map((c) => ({ ...c, file: c.file.startsWith(folder + path.sep) ? remoteName(folderPrefix + path.relative(folder, c.file).split(path.sep).join('/')) : c.file })) };

    const store = new TensorStore(tensors, openSource);
    return {
      location,
      format,
      files,
      weightFiles,
      tensors,
      store,
      gguf,
      safetensorsMetadata,
      architecture,
      vocabulary,
      declared,
      findings,
      problems,
      // Tensor jobs in flight: their row reads merge into a few multi-range requests per round trip.
      readParallelism: REMOTE_READ_PARALLELISM,
      remote: { endpoint, repoId: metadata.repoId, revisionAsked: metadata.revisionAsked, commit, published: metadata.files, stats: session.stats },
      close: async () => {
        await store.close();
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Model info and listing at the commit; a pinned commit's listing comes from the cache when known. */
async function hubMetadata(
  repoId: string,
  revision: string | undefined,
  endpoint: string,
  accessToken: string | undefined,
  session: RemoteSession,
  cache: ReadCache | undefined,
  fetchImpl: typeof fetch,
  options: RemoteOpenOptions,
): Promise<HubModelMetadata> {
  const keyOf = (commit: string) => `metadata|${endpoint}|${repoId.toLowerCase()}|${commit}`;
  if (revision !== undefined && isPinnedRevision(revision) && cache) {
    const cached = (await cache.readMetadata(keyOf(revision))) as HubModelMetadata | undefined;
    if (cached && cached.commit === revision && Array.isArray(cached.files)) return cached;
  }
  const countingFetch: typeof fetch = (input, init) => {
    session.stats.requests++;
    session.stats.hubRequests++;
    return fetchImpl(input, init);
  };
  const result = await lookUpHubModel(repoId, revision, { endpoint, accessToken, signal: options.signal, fetch: countingFetch, timeoutMs: options.timeoutMs ?? 30_000 });
  if (!result.ok) {
    switch (result.reason) {
      case 'gated':
      case 'unauthorized':
        throw new RemoteReadError('gated', `${repoId}: gated: accept the licence on the Hub and set a token (HF_TOKEN or \`hf auth login\`) [${result.detail}]`);
      case 'not-found':
      case 'revision-not-found':
      case 'invalid-id':
        throw new ModelNotFoundError(`${result.detail}`);
      case 'offline':
      case 'timeout':
        throw new RemoteReadError('network', `${result.detail}`);
      default:
        throw new RemoteReadError('http', `${result.detail}`);
    }
  }
  if (result.metadata.filesTruncated) throw new RemoteReadError('protocol', `${repoId}: the Hub listing of commit ${result.metadata.commit} is too long to read`);
  await cache?.writeMetadata(keyOf(result.metadata.commit), result.metadata).catch(() => undefined);
  return result.metadata;
}

/** Where the small files of a commit are written: beside the read cache, or a temporary folder without one. */
async function materializedFolder(cache: ReadCache | undefined, endpoint: string, repoId: string, commit: string, folderPrefix: string): Promise<{ folder: string; temporary: boolean }> {
  if (!cache) return { folder: await mkdtemp(path.join(os.tmpdir(), 'lineage-remote-')), temporary: true };
  const repoKey = createHash('sha256').update(`${endpoint}|${repoId.toLowerCase()}`).digest('hex').slice(0, 32);
  const folder = path.join(cache.folder, 'files', repoKey, commit, ...folderPrefix.split('/').filter((s) => s !== ''));
  await mkdir(folder, { recursive: true });
  return { folder, temporary: false };
}

async function readLocal(file: string): Promise<Uint8Array> {
  const source = await LocalFileSource.open(file);
  try {
    return await source.read(0, source.sizeBytes);
  } finally {
    await source.close();
  }
}

/** The same bytes as `source`, with read statistics of its own; closing it leaves `source` open. */
function countedView(source: ByteSource): ByteSource {
  const stats = { bytesRead: 0, reads: 0 };
  return {
    name: source.name,
    sizeBytes: source.sizeBytes,
    parallelReads: source.parallelReads,
    stats,
    async read(offset: number, length: number): Promise<Uint8Array> {
      const bytes = await source.read(offset, length);
      stats.bytesRead += length;
      stats.reads += 1;
      return bytes;
    },
    ...(source.readMany && {
      readMany: async (ranges: readonly ReadRange[]): Promise<Uint8Array[]> => {
        const parts = await source.readMany!(ranges);
        for (const r of ranges) stats.bytesRead += r.length;
        stats.reads += ranges.length;
        return parts;
      },
    }),
    async close(): Promise<void> {},
  };
}

/** A file read whole must hash to what the listing publishes (LFS sha256, or git blob id). */
function verifiedWhole(file: HubFile, name: string, bytes: Uint8Array): Uint8Array {
  if (file.lfsSha256 !== undefined) {
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== file.lfsSha256) throw new RemoteReadError('changed', `${name}: the bytes served hash to sha256 ${actual}, the Hub publishes ${file.lfsSha256}`);
  } else if (file.gitOid !== undefined) {
    const actual = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
    if (actual !== file.gitOid) throw new RemoteReadError('changed', `${name}: the bytes served have git id ${actual}, the Hub lists ${file.gitOid}`);
  }
  return bytes;
}
