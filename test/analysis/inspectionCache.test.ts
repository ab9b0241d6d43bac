// The language server's on-disk inspection cache: a second inspection of unchanged files is read from
// disk; rewriting a model file in place (same name and size) invalidates it; a damaged entry is a miss.
import * as assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { serializeFingerprint } from '../../server/src/core/fingerprint/encoding';
import { inspectModel, type InspectJob, type JobContext } from '../../server/src/analysis/jobs';
import { resolveReference } from '../../server/src/core/model/resolve';
import { zooPath } from '../support/zoo';

const context: JobContext = { signal: new AbortController().signal, progress: () => undefined };

describe('language server: on-disk inspection cache', () => {
  let root: string;
  let job: InspectJob;
  let cacheFolder: string;

  beforeEach(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'lineage-inspection-cache-'));
    cpSync(zooPath('tiny-gpt2'), path.join(root, 'workspace', 'tiny-gpt2'), { recursive: true });
    cacheFolder = path.join(root, 'cache', 'fingerprints');
    const resolution = await resolveReference({ id: './tiny-gpt2', reference: { kind: 'local', path: './tiny-gpt2' }, kind: 'model' }, [path.join(root, 'workspace')], []);
    assert.equal(resolution.kind, 'workspace');
    job = { resolution, cacheRoots: [], integrityMaxBytes: 1 << 30, cacheFolder };
  });

  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const entryFile = (): string => {
    const files = readdirSync(cacheFolder).filter((f) => f.endsWith('.json'));
    assert.equal(files.length, 1, `one cache entry: ${files.join(', ')}`);
    return path.join(cacheFolder, files[0]!);
  };

  /** Marks the stored entry so a read from disk is recognisable. */
  const markEntry = (): void => {
    const file = entryFile();
    const document = JSON.parse(readFileSync(file, 'utf8')) as { facts: { displayName: string } };
    document.facts.displayName = 'read-from-disk';
    writeFileSync(file, JSON.stringify(document));
  };

  it('stores the first inspection and answers the second from disk, fingerprint included', async () => {
    const first = await inspectModel(job, context);
    assert.ok(first.fingerprint, 'fingerprinted');
    markEntry();
    const second = await inspectModel(job, context);
    assert.equal(second.facts.displayName, 'read-from-disk');
    // Same bytes on disk as a fingerprint file (typed arrays come back as the same values, not the same classes).
    assert.equal(serializeFingerprint(second.fingerprint!), serializeFingerprint(first.fingerprint));
  });

  it('reads the model again when a file is rewritten in place (same name and size, new mtime)', async () => {
    await inspectModel(job, context);
    markEntry();
    const weights = path.join(root, 'workspace', 'tiny-gpt2', 'model.safetensors');
    const later = new Date(Date.now() + 60_000);
    utimesSync(weights, later, later);
    const again = await inspectModel(job, context);
    assert.notEqual(again.facts.displayName, 'read-from-disk');
  });

  it('treats a damaged entry as a miss and replaces it', async () => {
    await inspectModel(job, context);
    writeFileSync(entryFile(), '{"format":"lineage-lens/inspection-cache","version":1,"key":');
    const again = await inspectModel(job, context);
    assert.ok(again.fingerprint);
    assert.ok(JSON.parse(readFileSync(entryFile(), 'utf8')), 'a valid entry was written back');
  });
});
