// The documents of a repository that reference finders read: a walk that honours .gitignore files
// (nested ones and .git/info/exclude, as git does), never follows symlinks and skips VCS and dependency
// folders. `lineage check`/`lock`/`bom` and the language server (workspace diagnostics, the id index) share it.
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { documentKindOf } from '../references';

const VCS_FOLDERS: ReadonlySet<string> = new Set(['.git', '.hg', '.svn']);
/** Installed dependencies and tool caches: never the repository's own documents, even when no .gitignore says so. */
const DEPENDENCY_FOLDERS: ReadonlySet<string> = new Set(['node_modules', 'site-packages', '__pycache__', '.venv', 'venv', '.tox', '.mypy_cache', '.pytest_cache']);

/** Whether a path (relative to a walked root, either separator) lies in a folder the walk never enters. */
export function isInSkippedFolder(relativePath: string): boolean {
  const folders = relativePath.split(/[\\/]/).slice(0, -1);
  return folders.some((name) => VCS_FOLDERS.has(name) || DEPENDENCY_FOLDERS.has(name));
}

/** A .gitignore larger than this is not a list of patterns anyone wrote by hand; read this much of it. */
const MAX_GITIGNORE_BYTES = 1024 * 1024;

export interface WorkspaceFileOptions {
  /** Files or folders to check (absolute, or relative to the root); default: the whole root. */
  paths?: string[];
  /** Stop after this many documents (the caller reports the cut). */
  maxFiles?: number;
}

export interface WorkspaceFiles {
  /** Absolute paths, sorted, of documents a finder reads (Python, YAML, JSON, JS/TS, shell, Dockerfiles, Modelfiles, cards). */
  files: string[];
  truncated: boolean;
}

interface IgnoreLayer {
  /** Folder of the .gitignore, relative to the root (POSIX, '' for the root). */
  base: string;
  rules: Ignore;
}

async function readIgnoreFile(file: string): Promise<Ignore | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  return ignore().add(text.slice(0, MAX_GITIGNORE_BYTES));
}

/** Git's answer for one path: the deepest .gitignore with an opinion wins; a negation re-includes. */
function isIgnored(layers: readonly IgnoreLayer[], relativePath: string, isDirectory: boolean): boolean {
  let ignored = false;
  for (const layer of layers) {
    const local = layer.base === '' ? relativePath : relativePath.slice(layer.base.length + 1);
    const result = layer.rules.test(isDirectory ? `${local}/` : local);
    if (result.ignored) ignored = true;
    else if (result.unignored) ignored = false;
  }
  return ignored;
}

export async function listWorkspaceFiles(root: string, options: WorkspaceFileOptions = {}): Promise<WorkspaceFiles> {
  const absoluteRoot = path.resolve(root);
  const targets = (options.paths ?? []).map((p) => path.resolve(absoluteRoot, p));
  const maxFiles = options.maxFiles ?? Number.POSITIVE_INFINITY;
  const files: string[] = [];
  let truncated = false;
  // An explicitly named file is checked even if ignored (as eslint does with a file on its command line).
  for (const target of targets) {
    const info = await stat(target).catch(() => undefined);
    if (!info) throw Object.assign(new Error(`${target}: no such file or folder`), { code: 'ENOENT', syscall: 'stat', path: target });
    if (info.isFile() && documentKindOf(target) !== 'text') files.push(target);
  }
  const folderTargets: string[] = [];
  for (const target of targets) if ((await stat(target)).isDirectory()) folderTargets.push(target);
  const walkAll = targets.length === 0;
  const wanted = (folder: string): boolean => walkAll || folderTargets.some((t) => folder === t || folder.startsWith(t + path.sep) || t.startsWith(folder + path.sep) || folder === absoluteRoot);
  const inTarget = (file: string): boolean => walkAll || folderTargets.some((t) => file.startsWith(t + path.sep));

  const rootLayers: IgnoreLayer[] = [];
  const exclude = await readIgnoreFile(path.join(absoluteRoot, '.git', 'info', 'exclude'));
  if (exclude) rootLayers.push({ base: '', rules: exclude });

  const walk = async (folder: string, relative: string, parentLayers: IgnoreLayer[]): Promise<void> => {
    if (truncated) return;
    const own = await readIgnoreFile(path.join(folder, '.gitignore'));
    const layers = own ? [...parentLayers, { base: relative, rules: own }] : parentLayers;
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (files.length >= maxFiles) {
        truncated = true;
        return;
      }
      const full = path.join(folder, entry.name);
      const entryRelative = relative === '' ? entry.name : `${relative}/${entry.name}`;
      // Symlinks may lead out of the repository: never followed.
      if (entry.isSymbolicLink()) continue;
      if (entry.isDirectory()) {
        if (VCS_FOLDERS.has(entry.name) || DEPENDENCY_FOLDERS.has(entry.name) || !wanted(full) || isIgnored(layers, entryRelative, true)) continue;
        await walk(full, entryRelative, layers);
      } else if (entry.isFile() && inTarget(full) && documentKindOf(entry.name) !== 'text' && !isIgnored(layers, entryRelative, false)) {
        files.push(full);
      }
    }
  };
  await walk(absoluteRoot, '', rootLayers);
  return { files: [...new Set(files)].sort(), truncated };
}
