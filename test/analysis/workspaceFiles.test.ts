// The repository walk of `lineage check`: .gitignore semantics (root, nested, negation, folders,
// .git/info/exclude), only documents a finder reads, symlinks never followed, explicit paths.
import * as assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { listWorkspaceFiles } from '../../server/src/analysis/workspaceFiles';

describe('listWorkspaceFiles', () => {
  let root: string;
  let outside: string;

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'lineage-walk-'));
    outside = await mkdtemp(path.join(os.tmpdir(), 'lineage-walk-outside-'));
    const files: Record<string, string> = {
      '.gitignore': '/dist\n*.log\nvendor/\n!vendor-keep.py\ndocs/*.md\n!docs/keep.md\n',
      '.git/info/exclude': 'local-notes.py\n',
      '.git/config.json': '{}',
      'app.py': '', 'local-notes.py': '', 'notes.txt': '', 'run.log': '', 'Dockerfile': '', 'vendor-keep.py': '',
      'dist/bundle.js': '', 'src/dist/kept.js': '', 'vendor/lib.py': '',
      'docs/a.md': '', 'docs/keep.md': '',
      'sub/.gitignore': '*.yaml\n!important.yaml\n', 'sub/a.yaml': '', 'sub/important.yaml': '', 'sub/deeper/b.yaml': '',
      'other/c.yaml': '',
    };
    for (const [relative, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
      await writeFile(path.join(root, relative), text);
    }
    await writeFile(path.join(outside, 'secret.py'), '');
    await symlink(outside, path.join(root, 'linked-folder'));
    await symlink(path.join(outside, 'secret.py'), path.join(root, 'linked.py'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  const relative = (files: string[]) => files.map((f) => path.relative(root, f).split(path.sep).join('/'));

  // The expected list is what `git ls-files --others --exclude-standard` lists for this tree, less the files no finder reads.
  it('honours .gitignore files as git does and lists only documents a finder reads', async () => {
    const { files, truncated } = await listWorkspaceFiles(root);
    assert.equal(truncated, false);
    assert.deepEqual(relative(files), ['Dockerfile', 'app.py', 'docs/keep.md', 'other/c.yaml', 'src/dist/kept.js', 'sub/important.yaml', 'vendor-keep.py']);
  });

  it('walks only the paths asked for, and checks a file named explicitly even when ignored', async () => {
    assert.deepEqual(relative((await listWorkspaceFiles(root, { paths: ['sub'] })).files), ['sub/important.yaml']);
    assert.deepEqual(relative((await listWorkspaceFiles(root, { paths: ['vendor/lib.py', 'other'] })).files), ['other/c.yaml', 'vendor/lib.py']);
    await assert.rejects(listWorkspaceFiles(root, { paths: ['missing'] }), /no such file or folder/);
  });

  it('stops at maxFiles and says so', async () => {
    const { files, truncated } = await listWorkspaceFiles(root, { maxFiles: 2 });
    assert.equal(files.length, 2);
    assert.equal(truncated, true);
  });
});
