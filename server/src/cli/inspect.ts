// `lineage inspect <path | repo-id[@rev]>`: what a model is made of, read from headers only
// (plus streamed sha256 per file with --hash).
import { sha256File } from '../core/io/fileHash';
import { summarizeModel, type ModelSummary } from '../core/model/summary';
import type { OpenedModel } from '../core/model/openModel';
import { hubEndpointFromEnv, hubOfflineByEnv, readHubToken } from '../core/hub/hubEnvironment';
import { describeModified, verifyCachedCopyWithHub, type PublishedFileCheck } from '../core/hub/publishedIntegrity';
import { flag, parseCommandArgs } from './args';
import { ExitCode, UsageError, type ExitCodeValue } from './exitCodes';
import { cliModelOpener, REMOTE_OPTIONS, remoteCostJson, remoteUsage, reportRemoteCost } from './remote';
import { formatBytes, formatCount, ProgressBar, renderFacts, renderTable } from './terminal';

export const inspectUsage = `usage: lineage inspect <path | repo-id[@revision]> [--hash] [--json]

Prints the format, files, tensors, parameter count, architecture, tokenizer, declared
lineage and security findings of a model folder, a single weight file, or a model in the
local Hugging Face cache. Reads headers only.

  --hash   also stream every file through sha256
  --json   print one JSON document (with "remote": bytes and requests, for a Hub model)
  --verify-hub  for a model in the local Hugging Face cache: hash every file and compare with
           what the Hub publishes for the same commit; a difference is "modified after
           download" (exit code 3)

${remoteUsage}`;

export async function runInspect(argv: string[]): Promise<ExitCodeValue> {
  const args = parseCommandArgs(argv, { hash: { type: 'boolean' }, json: { type: 'boolean' }, 'verify-hub': { type: 'boolean' }, ...REMOTE_OPTIONS }, { min: 1, max: 1 });
  const target = args.positionals[0]!;
  const model = await cliModelOpener(args)(target);
  try {
    const summary = summarizeModel(model, target);
    if (flag(args, 'hash')) {
      if (model.location.kind === 'hub-remote') throw new UsageError('--hash reads every byte: download the model first (a Hub model read remotely shows the sha256 the Hub publishes)');
      await addFileHashes(summary);
    }
    reportRemoteCost(model);
    const remote = remoteCostJson(model);
    const published = flag(args, 'verify-hub') ? await verifyWithHub(model, flag(args, 'offline')) : undefined;
    const document = { ...summary, ...(remote ? { remote } : {}), ...(published ? { publishedIntegrity: published } : {}) };
    process.stdout.write(flag(args, 'json') ? JSON.stringify(document, null, 2) + '\n' : renderInspect(summary) + (published ? renderPublished(published, model) : ''));
    if (published?.some((c) => c.status === 'modified')) return ExitCode.unreadable;
  } finally {
    await model.close();
  }
  return ExitCode.ok;
}

async function addFileHashes(summary: ModelSummary): Promise<void> {
  const total = summary.files.reduce((s, f) => s + f.sizeBytes, 0);
  const bar = new ProgressBar('hashing');
  let done = 0;
  for (const file of summary.files) {
    file.sha256 = await sha256File(file.path, (bytes: number) => bar.update(done + bytes, total));
    done += file.sizeBytes;
  }
  bar.finish();
}

export function renderInspect(s: ModelSummary): string {
  const out: string[] = [];
  const where = s.location.repoId ? `${s.location.repoId} @ ${s.location.commit} (${s.location.folder})` : s.location.file ?? s.location.folder;
  out.push(`${s.target}`, `  ${where}`, '');
  const weightBytes = s.files.filter((f) => s.weightFiles.includes(f.path)).reduce((sum, f) => sum + f.sizeBytes, 0);
  const dtypes = Object.entries(s.dtypes).map(([d, n]) => `${d} x${n}`).join(', ');
  const facts: Array<[string, string]> = [
    ['format', s.format === 'none' ? 'no weights (tokenizer/metadata only)' : `${s.format}, ${s.weightFiles.length} file(s), ${formatBytes(weightBytes)}`],
    ['tensors', s.tensorCount ? `${formatCount(s.tensorCount)} (${dtypes})` : '0'],
    ['parameters', formatCount(s.parameterCount)],
  ];
  const a = s.architecture;
  if (a) {
    const parts = [a.family, `hidden ${a.hiddenSize}`, `layers ${a.layers}`, `heads ${a.heads}`];
    if (a.kvHeads && a.kvHeads !== a.heads) parts.push(`kv heads ${a.kvHeads}`);
    if (a.intermediateSize) parts.push(`ffn ${a.intermediateSize}`);
    if (a.vocabSize) parts.push(`vocab ${formatCount(a.vocabSize)}`);
    facts.push(['architecture', parts.join(', ')]);
  } else facts.push(['architecture', 'unknown (no config.json or GGUF architecture keys)']);
  const t = s.tokenizer;
  facts.push([
    'tokenizer',
    t
      ? `${t.model} (${t.convention}), ${formatCount(t.size)} tokens${t.mergeCount ? `, ${formatCount(t.mergeCount)} merges` : ''}${t.specialTokens.length ? `, special: ${t.specialTokens.join(' ')}` : ''}`
      : 'none found',
  ]);
  facts.push([
    'declared',
    s.declared.claims.length ? s.declared.claims.map((c) => `${c.baseModel}${c.relation ? ` (${c.relation})` : ''} [${c.source}]`).join('; ') : 'no base model declared',
  ]);
  facts.push(['findings', s.findings.length ? `${s.findings.length}` : 'none']);
  out.push(renderFacts(facts));
  for (const f of s.findings) out.push(`    [${f.severity}] ${f.code}: ${f.message}`);
  for (const p of s.problems) out.push(`  note: ${p}`);
  out.push('', renderTable([['file', 'size', 'role', ...(s.files.some((f) => f.sha256) ? ['sha256'] : [])], ...s.files.map((f) => [f.relativePath, formatBytes(f.sizeBytes), f.role, ...(f.sha256 ? [f.sha256] : [])])]));
  return out.join('\n') + '\n';
}

async function verifyWithHub(model: OpenedModel, offline: boolean): Promise<PublishedFileCheck[]> {
  const snapshot = model.location.snapshot;
  if (!snapshot) throw new UsageError('--verify-hub checks a model in the local Hugging Face cache (a repo id found there)');
  if (offline || hubOfflineByEnv(process.env)) throw new UsageError('--verify-hub asks the Hub, and the network is off (--offline or HF_HUB_OFFLINE=1)');
  const accessToken = await readHubToken(process.env);
  return verifyCachedCopyWithHub(snapshot, { endpoint: hubEndpointFromEnv(process.env), accessToken, timeoutMs: 30_000 });
}

function renderPublished(checks: PublishedFileCheck[], model: OpenedModel): string {
  const repoId = model.location.repoId ?? '';
  const commit = model.location.commit ?? '';
  const modified = checks.filter((c) => c.status === 'modified');
  const lines = ['', `Against the Hub (${repoId}@${commit}): ${checks.filter((c) => c.status === 'matches').length} of ${checks.length} files match what the Hub publishes`];
  for (const c of modified) lines.push(`  ${describeModified(c, repoId, commit)}`);
  for (const c of checks.filter((x) => x.status === 'not-published')) lines.push(`  ${c.relativePath}: not in the Hub's listing of this commit`);
  return lines.join('\n') + '\n';
}
