import { realpathSync } from 'node:fs';
import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { allowedRootForModelFolder } from '../../../server/src/core/model/config';
import { findCachedRepo, hfCacheRoots, repoFolderName } from '../../../server/src/core/model/hfCache';
import { buildHfCache, gitBlobSha1, type BuiltHfCache } from '../../fixtures/hfCacheBuilder';
import { zooPath } from '../../support/zoo';

const COMMIT_OLD = 'a'.repeat(40);
const COMMIT_NEW = 'b'.repeat(40);
const UNCACHED = 'c'.repeat(40);

describe('hfCacheRoots', () => {
  const home = path.resolve('/home/u');
  it('defaults to ~/.cache/huggingface/hub', () => {
    assert.deepEqual(hfCacheRoots({}, home), [path.join(home, '.cache', 'huggingface', 'hub')]);
  });
  it('orders HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE > HF_HOME/hub > XDG_CACHE_HOME/huggingface/hub > default', () => {
    const env = {
      HF_HUB_CACHE: '/a',
      HUGGINGFACE_HUB_CACHE: '/b',
      HF_HOME: '/c',
      XDG_CACHE_HOME: '/d',
    };
    assert.deepEqual(hfCacheRoots(env, home), [
      path.resolve('/a'),
      path.resolve('/b'),
      path.resolve('/c/hub'),
      path.resolve('/d/huggingface/hub'),
      path.join(home, '.cache', 'huggingface', 'hub'),
    ]);
    assert.equal(hfCacheRoots({ HF_HOME: '/c', XDG_CACHE_HOME: '/d' }, home)[0], path.resolve('/c/hub'));
    assert.equal(hfCacheRoots({ HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c' }, home)[0], path.resolve('/b'));
    assert.equal(hfCacheRoots({ XDG_CACHE_HOME: '/d' }, home)[0], path.resolve('/d/huggingface/hub'));
  });
  it('expands ~ and $VARS like huggingface_hub, ignores empty values and deduplicates', () => {
    const roots = hfCacheRoots({ HF_HUB_CACHE: '~/hf', HF_HOME: '${BASE}/hfhome', BASE: '/data', HUGGINGFACE_HUB_CACHE: '  ', XDG_CACHE_HOME: `${home}/.cache` }, home);
    assert.deepEqual(roots, [path.join(home, 'hf'), path.resolve('/data/hfhome/hub'), path.join(home, '.cache', 'huggingface', 'hub')]);
    assert.equal(hfCacheRoots({ HF_HUB_CACHE: '$UNKNOWN/x' }, home)[0], path.resolve('$UNKNOWN/x'));
  });
});

describe('findCachedRepo on a built cache', () => {
  let tmp: string;
  let cacheRoot: string;
  let secondRoot: string;
  let built: BuiltHfCache;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'lineage-hfcache-'));
    cacheRoot = path.join(tmp, 'hub');
    secondRoot = path.join(tmp, 'hub2');
    built = await buildHfCache(cacheRoot, [
      {
        repoId: 'Org/Tiny-GPT2',
        commit: COMMIT_OLD,
        files: { 'config.json': zooPath('tiny-gpt2', 'config.json'), 'model.safetensors': zooPath('tiny-gpt2', 'model.safetensors') },
        refs: { 'v1.0': COMMIT_OLD, 'refs/pr/1': COMMIT_OLD },
      },
      {
        repoId: 'Org/Tiny-GPT2',
        commit: COMMIT_NEW,
        files: {
          'config.json': zooPath('tiny-gpt2-medical', 'config.json'),
          'model.safetensors': zooPath('tiny-gpt2-medical', 'model.safetensors'),
          'onnx/notes.txt': Buffer.from('nested file\n'),
        },
        refs: { main: COMMIT_NEW },
      },
      { repoId: 'solo/one', files: { 'a.txt': Buffer.from('a') }, refs: {} },
      { repoId: 'multi/noref', commit: COMMIT_OLD, files: { 'a.txt': Buffer.from('old') }, refs: {} },
      { repoId: 'multi/noref', commit: COMMIT_NEW, files: { 'a.txt': Buffer.from('new') }, refs: {} },
      { repoId: 'org/data', repoType: 'dataset', files: { 'train.csv': Buffer.from('x,y\n') } },
      { repoId: 'case/Exact', commit: COMMIT_OLD, files: { 'which.txt': Buffer.from('exact') } },
      { repoId: 'CASE/exact', commit: COMMIT_NEW, files: { 'which.txt': Buffer.from('other') } },
      { repoId: 'broken/refs', commit: COMMIT_OLD, files: { 'a.txt': Buffer.from('a') }, refs: { main: 'not a sha', dev: COMMIT_OLD } },
    ]);
    await buildHfCache(secondRoot, [
      { repoId: 'only/second', files: { 'x.txt': Buffer.from('x') } },
      { repoId: 'Org/Tiny-GPT2', commit: UNCACHED, files: { 'x.txt': Buffer.from('shadowed') } },
    ]);
    // multi/noref: make the COMMIT_NEW snapshot clearly the most recently written one.
    const multi = path.join(cacheRoot, repoFolderName('multi/noref'), 'snapshots');
    await utimes(path.join(multi, COMMIT_OLD), new Date(2020, 0, 1), new Date(2020, 0, 1));
    await utimes(path.join(multi, COMMIT_NEW), new Date(2024, 0, 1), new Date(2024, 0, 1));

    // Hostile entries in the newest snapshot of Org/Tiny-GPT2.
    const snapshot = path.join(cacheRoot, 'models--Org--Tiny-GPT2', 'snapshots', COMMIT_NEW);
    const outside = path.join(tmp, 'outside-secret.txt');
    await writeFile(outside, 'secret');
    await symlink(outside, path.join(snapshot, 'escape-absolute.json'));
    await symlink(path.relative(snapshot, outside), path.join(snapshot, 'escape-relative.json'));
    // Inside the cache root but in another repo's folder: still outside this repo.
    const otherBlob = Object.values(built.repos.find((r) => r.repoId === 'solo/one')!.blobs)[0]!.blobPath;
    await symlink(path.relative(snapshot, otherBlob), path.join(snapshot, 'escape-sibling-repo.txt'));
    await symlink('../../blobs/' + 'f'.repeat(64), path.join(snapshot, 'dangling.bin'));
    await mkdir(path.join(tmp, 'outside-dir'));
    await symlink(path.join(tmp, 'outside-dir'), path.join(snapshot, 'linked-dir'));
    await symlink('../../blobs', path.join(snapshot, 'linked-blobs-dir'));
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  const roots = (): string[] => [cacheRoot, secondRoot];

  it('resolves refs/main, matching the repo folder case-insensitively', async () => {
    const snapshot = await findCachedRepo('org/tiny-gpt2', { cacheRoots: roots() });
    assert.ok(snapshot);
    assert.equal(snapshot.commit, COMMIT_NEW);
    assert.equal(snapshot.resolvedBy, 'ref');
    assert.equal(path.basename(snapshot.repoFolder), 'models--Org--Tiny-GPT2');
    assert.equal(snapshot.snapshotFolder, path.join(snapshot.repoFolder, 'snapshots', COMMIT_NEW));
    assert.deepEqual({ ...snapshot.refs }, { main: COMMIT_NEW, 'v1.0': COMMIT_OLD, 'refs/pr/1': COMMIT_OLD });
    assert.deepEqual(snapshot.snapshots, [COMMIT_OLD, COMMIT_NEW]);
    assert.equal(snapshot.revisionAsked, undefined);
  });

  it('lists files with blob names: sha256 for LFS-sized files, git sha1 for small ones', async () => {
    const snapshot = (await findCachedRepo('Org/Tiny-GPT2', { cacheRoots: roots() }))!;
    assert.deepEqual(snapshot.files.map((f) => f.relativePath), ['config.json', 'model.safetensors', 'onnx/notes.txt']);
    const weights = snapshot.files.find((f) => f.relativePath === 'model.safetensors')!;
    // zoo/README.md lists tiny-gpt2-medical/model.safetensors with sha256 cf11640b1f314437…
    assert.match(weights.blobName, /^cf11640b1f314437[0-9a-f]{48}$/);
    assert.equal(weights.sizeBytes, 413296);
    assert.equal(weights.storage, 'blob');
    assert.equal(weights.blobPath, path.join(snapshot.repoFolder, 'blobs', weights.blobName));
    assert.equal(weights.path, path.join(snapshot.snapshotFolder, 'model.safetensors'));
    const config = snapshot.files.find((f) => f.relativePath === 'config.json')!;
    assert.equal(config.blobName, gitBlobSha1(await readFile(zooPath('tiny-gpt2-medical', 'config.json'))));
    assert.equal(snapshot.files.find((f) => f.relativePath === 'onnx/notes.txt')!.sizeBytes, 'nested file\n'.length);
  });

  it('reports links that leave the repo folder, dangling links and linked folders, and never lists them', async () => {
    const snapshot = (await findCachedRepo('Org/Tiny-GPT2', { cacheRoots: roots() }))!;
    const byPath = new Map(snapshot.problems.map((p) => [p.relativePath, p.kind]));
    assert.equal(byPath.get('escape-absolute.json'), 'symlink-escapes-repo');
    assert.equal(byPath.get('escape-relative.json'), 'symlink-escapes-repo');
    assert.equal(byPath.get('escape-sibling-repo.txt'), 'symlink-escapes-repo');
    assert.equal(byPath.get('dangling.bin'), 'dangling-symlink');
    assert.equal(byPath.get('linked-dir'), 'symlink-escapes-repo');
    assert.equal(byPath.get('linked-blobs-dir'), 'symlinked-folder');
    for (const hidden of ['escape-absolute.json', 'escape-relative.json', 'escape-sibling-repo.txt', 'dangling.bin', 'linked-dir', 'linked-blobs-dir']) {
      assert.ok(!snapshot.files.some((f) => f.relativePath === hidden), hidden);
    }
    const message = snapshot.problems.find((p) => p.relativePath === 'escape-absolute.json')!.message;
    assert.match(message, /outside the repository's cache folder/);
  });

  it('resolves a tag, a PR ref and a commit to the older snapshot', async () => {
    for (const revision of ['v1.0', 'refs/pr/1', COMMIT_OLD]) {
      const snapshot = await findCachedRepo('Org/Tiny-GPT2', { revision, cacheRoots: roots() });
      assert.equal(snapshot?.commit, COMMIT_OLD, revision);
      assert.equal(snapshot.revisionAsked, revision);
      assert.equal(snapshot.resolvedBy, revision === COMMIT_OLD ? 'commit' : 'ref');
      assert.deepEqual(snapshot.files.map((f) => f.relativePath), ['config.json', 'model.safetensors']);
      assert.deepEqual(snapshot.problems, []);
    }
  });

  it('returns undefined for an unknown branch or an uncached commit in that root, and falls through to later roots', async () => {
    assert.equal(await findCachedRepo('Org/Tiny-GPT2', { revision: 'nope', cacheRoots: roots() }), undefined);
    // UNCACHED exists only in the second root.
    const shadow = await findCachedRepo('Org/Tiny-GPT2', { revision: UNCACHED, cacheRoots: roots() });
    assert.equal(shadow?.cacheRoot, secondRoot);
    assert.equal(await findCachedRepo('Org/Tiny-GPT2', { revision: 'd'.repeat(40), cacheRoots: roots() }), undefined);
    assert.equal((await findCachedRepo('only/second', { cacheRoots: roots() }))?.cacheRoot, secondRoot);
    assert.equal((await findCachedRepo('Org/Tiny-GPT2', { cacheRoots: roots() }))?.cacheRoot, cacheRoot);
  });

  it('without refs/main takes the only snapshot, or the most recently written one', async () => {
    const solo = await findCachedRepo('solo/one', { cacheRoots: roots() });
    assert.equal(solo?.resolvedBy, 'only-snapshot');
    const multi = await findCachedRepo('multi/noref', { cacheRoots: roots() });
    assert.equal(multi?.resolvedBy, 'newest-snapshot');
    assert.equal(multi.commit, COMMIT_NEW);
  });

  it('prefers the exact-case folder when several differ only in case', async () => {
    const exact = await findCachedRepo('case/Exact', { cacheRoots: roots() });
    assert.equal(await readFile(path.join(exact!.snapshotFolder, 'which.txt'), 'utf8'), 'exact');
    const other = await findCachedRepo('CASE/exact', { cacheRoots: roots() });
    assert.equal(await readFile(path.join(other!.snapshotFolder, 'which.txt'), 'utf8'), 'other');
    assert.ok(await findCachedRepo('Case/EXACT', { cacheRoots: roots() }));
  });

  it('keeps repo types apart', async () => {
    assert.equal(await findCachedRepo('org/data', { cacheRoots: roots() }), undefined);
    const data = await findCachedRepo('org/data', { repoType: 'dataset', cacheRoots: roots() });
    assert.equal(path.basename(data!.repoFolder), 'datasets--org--data');
  });

  it('reports an unreadable ref and still resolves the valid ones', async () => {
    const snapshot = await findCachedRepo('broken/refs', { revision: 'dev', cacheRoots: roots() });
    assert.equal(snapshot?.commit, COMMIT_OLD);
    assert.deepEqual(snapshot.problems.map((p) => [p.kind, p.relativePath]), [['invalid-ref', 'refs/main']]);
    // refs/main is unusable, so a lookup without revision finds no commit through it: the only snapshot is taken.
    assert.equal((await findCachedRepo('broken/refs', { cacheRoots: roots() }))?.resolvedBy, 'only-snapshot');
  });

  it('refuses hostile ids and revisions without touching the file system outside the cache', async () => {
    for (const repoId of ['../x', 'a/../../b', 'a--b/c', '', '/etc', 'a/b/c']) {
      assert.equal(await findCachedRepo(repoId, { cacheRoots: roots() }), undefined, repoId);
    }
    for (const revision of ['../../../etc/passwd', '/etc/passwd', 'refs/../../x', '']) {
      assert.equal(await findCachedRepo('Org/Tiny-GPT2', { revision, cacheRoots: roots() }), undefined, revision);
    }
    assert.equal(await findCachedRepo('Org/Tiny-GPT2', { cacheRoots: [path.join(tmp, 'does-not-exist')] }), undefined);
  });

  it('allows a snapshot folder to read files linked into its repo folder, and a plain folder only itself', async () => {
    const snapshot = (await findCachedRepo('Org/Tiny-GPT2', { cacheRoots: roots() }))!;
    assert.equal(await allowedRootForModelFolder(snapshot.snapshotFolder), snapshot.repoFolder);
    assert.equal(await allowedRootForModelFolder(path.join(snapshot.snapshotFolder, 'onnx')), snapshot.repoFolder);
    // The allowed root is a real path (the zoo itself may sit behind a symlink).
    const plain = zooPath('tiny-gpt2');
    assert.equal(await allowedRootForModelFolder(plain), realpathSync(plain));
  });
});
