// The mock Hub of bench:remote, run as its own process so that serving (and synthesizing the 7B
// checkpoint's bytes) does not share an event loop with the client being measured. Prints one JSON
// line {"url": ...} when listening; GET /__bench/stats answers the request counts.
import { createHash } from 'node:crypto';
import { gitBlobOid, mockRepo, sendJson, startMockHub, type MockFileContent, type TreeEntry } from '../../test/support/mockHub';
import { planCheckpoint, synthesizedCheckpoint } from './llamaCheckpoint';

export const BENCH_REPO = 'bench/llama-2-7b-shaped';
export const BENCH_COMMIT = createHash('sha1').update('bench-commit').digest('hex');

export function benchRepo(folder: string) {
  const files: Record<string, { entry: TreeEntry; content: MockFileContent }> = {};
  for (const f of synthesizedCheckpoint(planCheckpoint(folder))) {
    if (f.name.endsWith('.safetensors')) {
      // A stand-in LFS id: hashing 13.5 GB of synthesized bytes would dominate the benchmark.
      const sha256 = createHash('sha256').update(`bench|${f.name}|${f.size}`).digest('hex');
      files[f.name] = { entry: { type: 'file', path: f.name, size: f.size, oid: sha256.slice(0, 40), lfs: { oid: sha256, size: f.size, pointerSize: 134 } }, content: { size: f.size, read: f.read, lfsSha256: sha256 } };
    } else {
      const bytes = f.read(0, f.size);
      files[f.name] = { entry: { type: 'file', path: f.name, size: f.size, oid: gitBlobOid(bytes) }, content: { size: f.size, read: f.read, gitOid: gitBlobOid(bytes) } };
    }
  }
  const repo = mockRepo(BENCH_REPO, BENCH_COMMIT, files);
  // Warm the synthesizer (its 64 MB base buffer) so the runs measure the network path, not the mock.
  repo.contents![BENCH_COMMIT]!['model-00001-of-00002.safetensors']!.read(1_000_000_000, 1_000_000_100);
  return repo;
}

async function main(): Promise<void> {
  const [folder, latency, bandwidth] = process.argv.slice(2);
  const hub = await startMockHub([benchRepo(folder!)], { latencyMs: Number(latency), bandwidthBytesPerSecond: Number(bandwidth) });
  hub.pageSize = 1000;
  hub.override = (_req, res, url) => {
    if (url.pathname !== '/__bench/stats') return false;
    // Not counted: this request is the benchmark's own.
    hub.requests.pop();
    sendJson(res, 200, { hubRequests: hub.requests.length, storageRequests: hub.storage.requests.length, storageBytes: hub.storage.bytesSent });
    return true;
  };
  // Warm the serving path (routing, the redirect, multipart framing, synthesizing) before announcing
  // the URL: a real Hub is warm, and the timed runs are meant to measure the client, not the mock's JIT.
  for (let round = 0; round < 4; round++) {
    const ranges = Array.from({ length: 64 }, (_, k) => `${(round * 64 + k) * 1_000_000}-${(round * 64 + k) * 1_000_000 + 8191}`).join(',');
    const answer = await fetch(`${hub.url}/${BENCH_REPO}/resolve/${BENCH_COMMIT}/model-00002-of-00002.safetensors`, { headers: { range: `bytes=${ranges}` } });
    await answer.arrayBuffer();
  }
  process.stdout.write(JSON.stringify({ url: hub.url }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => void hub.close().then(() => process.exit(0)));
}

if (require.main === module) void main();
