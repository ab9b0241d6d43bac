// Keeps the workspace's id index (analysis/workspaceReferenceIndex.ts) current in the language server:
// built once from disk, updated from open documents' analyses and watched-file events, and tells the
// server which documents to re-analyse when a look-alike partner appears or disappears.
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubIdsOf } from '../analysis/documentAnalysis';
import { isInSkippedFolder } from '../analysis/workspaceFiles';
import { WorkspaceReferenceIndex } from '../analysis/workspaceReferenceIndex';
import { documentKindOf, findReferences, MAX_DOCUMENT_CHARS, type ModelReferenceSite } from '../references';
import { errorMessage } from '../core/errors';

export interface WorkspaceReferencesHost {
  /** Workspace folders (absolute paths). */
  folders(): readonly string[];
  /** Supported files of the workspace (file URIs), as the walk finds them. */
  listFiles(): Promise<string[]>;
  /** Open documents are indexed from their live text, never from disk. */
  isOpen(uri: string): boolean;
  /** Documents whose look-alike partners changed: re-analyse (open) or drop their workspace report (closed). */
  partnersChanged(uris: string[]): void;
  log(message: string): void;
}

/** More changed files than this at once (a checkout, a generator) re-walk the workspace instead. */
const MAX_EVENT_BATCH = 200;
/** Watched-file events arrive in bursts (a save, a git operation): handled together after this pause. */
const EVENT_BATCH_MS = 200;

export class WorkspaceReferences {
  readonly index = new WorkspaceReferenceIndex();
  private building: Promise<void> = Promise.resolve();
  private generation = 0;
  private readonly pendingEvents = new Map<string, 'changed' | 'deleted'>();
  private eventTimer: NodeJS.Timeout | undefined;

  constructor(private readonly host: WorkspaceReferencesHost) {}

  /** Indexes every closed document of the workspace from disk (start-up, folders changed); a newer rebuild supersedes it. */
  rebuild(): Promise<void> {
    const generation = ++this.generation;
    this.building = (async () => {
      const files = await this.host.listFiles();
      const listed = new Set(files);
      // Documents no longer in the workspace (a removed folder) lose their ids.
      const gone = this.index.uris().filter((uri) => !listed.has(uri) && !this.host.isOpen(uri));
      const affected = new Set<string>();
      for (const uri of gone) for (const other of this.index.remove(uri)) affected.add(other);
      for (const uri of files) {
        if (generation !== this.generation) return;
        for (const other of await this.indexFromDisk(uri)) affected.add(other);
        // One document at a time, letting requests and edits through between them.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (affected.size > 0) this.host.partnersChanged([...affected]);
    })().catch((err: unknown) => this.host.log(`workspace id index: ${errorMessage(err)}`));
    return this.building;
  }

  /** Resolves once the index is built, or after `maxWaitMs` (a huge workspace does not hold up the first diagnostics). */
  ready(maxWaitMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)));
    return Promise.race([this.building, timeout]).finally(() => clearTimeout(timer));
  }

  /** Records an open document's (or a freshly analysed closed file's) references. */
  record(uri: string, sites: readonly ModelReferenceSite[]): void {
    const affected = this.index.set(uri, this.labelOf(uri), hubIdsOf(sites));
    if (affected.length > 0) this.host.partnersChanged(affected);
  }

  /** A closed document: its ids are what is on disk again (unsaved edits are gone). */
  closed(uri: string): void {
    this.fileEvent(uri, 'changed');
  }

  /** A watched file was created, changed or deleted. */
  fileEvent(uri: string, change: 'changed' | 'deleted'): void {
    if (!uri.startsWith('file:')) return;
    this.pendingEvents.set(uri, change);
    if (this.eventTimer) return;
    this.eventTimer = setTimeout(() => {
      this.eventTimer = undefined;
      void this.flushEvents();
    }, EVENT_BATCH_MS);
  }

  private async flushEvents(): Promise<void> {
    const events = [...this.pendingEvents];
    this.pendingEvents.clear();
    if (events.length > MAX_EVENT_BATCH) {
      await this.rebuild();
      return;
    }
    await this.building;
    const affected = new Set<string>();
    for (const [uri, change] of events) {
      const relative = this.labelOf(uri);
      if (path.isAbsolute(relative) || isInSkippedFolder(relative)) continue;
      const others = change === 'deleted' ? this.index.remove(uri) : await this.indexFromDisk(uri);
      for (const other of others) affected.add(other);
    }
    if (affected.size > 0) this.host.partnersChanged([...affected]);
  }

  /** Reads a closed document and records its ids; returns the documents whose partners changed. */
  private async indexFromDisk(uri: string): Promise<string[]> {
    if (this.host.isOpen(uri)) return [];
    const file = fileURLToPath(uri);
    if (documentKindOf(file) === 'text') return [];
    const info = await stat(file).catch(() => undefined);
    // UTF-8 takes at most 4 bytes a character: a larger file is beyond every finder's limit.
    if (!info?.isFile() || info.size > MAX_DOCUMENT_CHARS * 4) return this.index.remove(uri);
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) return this.index.remove(uri);
    // The document may have been opened while it was read.
    if (this.host.isOpen(uri)) return [];
    return this.index.set(uri, this.labelOf(uri), hubIdsOf(await findReferences(text, file)));
  }

  /** Workspace-relative POSIX path of a file URI (absolute when no folder holds it). */
  private labelOf(uri: string): string {
    const file = uri.startsWith('file:') ? fileURLToPath(uri) : uri;
    const folder = this.host.folders().filter((f) => file.startsWith(f + path.sep)).sort((a, b) => b.length - a.length)[0];
    return folder === undefined ? file : path.relative(folder, file).split(path.sep).join('/');
  }
}
