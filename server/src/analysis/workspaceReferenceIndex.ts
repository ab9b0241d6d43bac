// The Hub ids each document of a workspace references, kept per document and looked up by skeleton, so
// LL008 sees a look-alike across files (`-lnstruct` in train.py imitating `-Instruct` in config.yml).
import { skeleton } from './lookAlike';

/** An id another document of the workspace references. */
export interface WorkspaceId {
  id: string;
  /** Workspace-relative POSIX path of a document that references it (the first one, by path). */
  referencedIn: string;
}

/** A generated document can name thousands of ids; look-alikes are typed by people, so the first ones do. */
const MAX_IDS_PER_DOCUMENT = 512;

interface IndexedDocument {
  label: string;
  /** Lower-cased id to the id as written. */
  ids: Map<string, string>;
}

export class WorkspaceReferenceIndex {
  private readonly documents = new Map<string, IndexedDocument>();
  /** Skeleton to the documents that reference an id folding to it. */
  private readonly bySkeleton = new Map<string, Set<string>>();

  get size(): number {
    return this.documents.size;
  }

  has(uri: string): boolean {
    return this.documents.has(uri);
  }

  /** Documents with at least one id. */
  uris(): string[] {
    return [...this.documents.keys()];
  }

  /**
   * Records the ids of a document (`label`: its workspace-relative path). Returns the other documents
   * whose look-alike partners may have changed: those referencing an id that folds like one added or removed.
   */
  set(uri: string, label: string, ids: Iterable<string>): string[] {
    const next = new Map<string, string>();
    for (const id of ids) {
      if (next.size >= MAX_IDS_PER_DOCUMENT) break;
      const lower = id.toLowerCase();
      if (!next.has(lower)) next.set(lower, id);
    }
    const previous = this.documents.get(uri);
    const changed = new Set<string>();
    for (const [lower, id] of next) if (!previous?.ids.has(lower)) changed.add(skeleton(id));
    for (const [lower, id] of previous?.ids ?? []) if (!next.has(lower)) changed.add(skeleton(id));
    for (const [, id] of previous?.ids ?? []) this.bySkeleton.get(skeleton(id))?.delete(uri);
    if (next.size === 0) this.documents.delete(uri);
    else {
      this.documents.set(uri, { label, ids: next });
      for (const [, id] of next) {
        const key = skeleton(id);
        let holders = this.bySkeleton.get(key);
        if (!holders) this.bySkeleton.set(key, (holders = new Set()));
        holders.add(uri);
      }
    }
    for (const key of changed) if (this.bySkeleton.get(key)?.size === 0) this.bySkeleton.delete(key);
    return this.holdersOf(changed, uri);
  }

  /** Forgets a deleted document; returns the documents whose partners may have changed. */
  remove(uri: string): string[] {
    return this.documents.has(uri) ? this.set(uri, '', []) : [];
  }

  /** Ids of other documents that fold to the same skeleton as one of `ids`, each with the first document (by path) naming it. */
  partnersOf(ids: Iterable<string>, exceptUri: string): WorkspaceId[] {
    const found = new Map<string, WorkspaceId>();
    for (const id of ids) {
      const key = skeleton(id);
      for (const uri of this.bySkeleton.get(key) ?? []) {
        if (uri === exceptUri) continue;
        const document = this.documents.get(uri)!;
        for (const [lower, written] of document.ids) {
          if (skeleton(written) !== key) continue;
          const seen = found.get(lower);
          if (!seen || document.label < seen.referencedIn) found.set(lower, { id: written, referencedIn: document.label });
        }
      }
    }
    return [...found.values()];
  }

  private holdersOf(skeletons: ReadonlySet<string>, exceptUri: string): string[] {
    const uris = new Set<string>();
    for (const key of skeletons) for (const uri of this.bySkeleton.get(key) ?? []) if (uri !== exceptUri) uris.add(uri);
    return [...uris].sort();
  }
}
