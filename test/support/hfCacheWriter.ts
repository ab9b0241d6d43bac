// Writes a Hugging Face hub cache folder for a local model folder, as huggingface_hub lays it out
// (refs/main, blobs named by sha256 or git blob id, snapshot symlinks), optionally with one blob
// edited after "download" so integrity checks have something to find.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { gitBlobOid } from './mockHub';

/** Writes `models--<ns>--<name>` for `folder`; `tamper` edits one blob's bytes in place. */
export async function writeHfCache(root: string, folder: string, repoId: string, commit: string, tamper?: string): Promise<void> {
  const repoFolder = path.join(root, `models--${repoId.split('/').join('--')}`);
  const snapshot = path.join(repoFolder, 'snapshots', commit);
  await mkdir(path.join(repoFolder, 'blobs'), { recursive: true });
  await mkdir(path.join(repoFolder, 'refs'), { recursive: true });
  await mkdir(snapshot, { recursive: true });
  await writeFile(path.join(repoFolder, 'refs', 'main'), commit);
  for (const name of (await readdir(folder)).sort()) {
    let bytes = await readFile(path.join(folder, name));
    const lfs = name.endsWith('.safetensors') || name.endsWith('.bin');
    const blob = lfs ? createHash('sha256').update(bytes).digest('hex') : gitBlobOid(bytes);
    if (name === tamper) {
      bytes = Buffer.from(bytes);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    }
    await writeFile(path.join(repoFolder, 'blobs', blob), bytes);
    await symlink(`../../blobs/${blob}`, path.join(snapshot, name));
  }
}

