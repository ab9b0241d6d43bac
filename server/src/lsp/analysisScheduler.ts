// Decides when each document's analysis pass runs: the document being edited, the ones on screen and
// the ones a client asks about at once, every other open document through a few background slots,
// most recently edited first.

import { JobPriority } from '../core/util/jobPriority';

/**
 * Starts a pass of one document; the promise settles when the pass no longer needs its background
 * slot (its first diagnostics are out, or it ended), whatever its outcome.
 */
export type AnalysisPass = () => Promise<unknown>;

interface WaitingPass {
  uri: string;
  pass: AnalysisPass;
  /** Submission order, the last tie-break. */
  sequence: number;
}

/** Background passes running at once: enough to keep the workers busy, few enough that urgent jobs never queue long. */
export const DEFAULT_BACKGROUND_SLOTS = 2;
/** What a client may name as visible; an editor shows a handful of documents, not hundreds. */
export const MAX_VISIBLE_DOCUMENTS = 64;
/** An edit counts half after about 7 s: typing keeps a document in front, a one-off change fades. */
const EDIT_SCORE_DECAY_MS = 10_000;
/** Documents asked about before their first analysis that keep the visible priority (the newest ones). */
const MAX_ASKED_DOCUMENTS = 8;

export class AnalysisScheduler {
  private readonly waiting = new Map<string, WaitingPass>();
  private backgroundRunning = 0;
  private nextSequence = 0;
  /** Decaying edit counts of the open documents edited lately. */
  private readonly recentEdits = new Map<string, { score: number; atMs: number }>();
  /** Higher is more recent; documents never edited have none. */
  private readonly editStamps = new Map<string, number>();
  private nextEditStamp = 1;
  /** Without a client report: the document typed in most lately (see edited()). */
  private typedIn: { uri: string; score: number; atMs: number } | undefined;
  /** The client's active editor and visible editors (lineage/visibleDocuments); empty when never told. */
  private focused: string | undefined;
  private visible = new Set<string>();
  /** Once a client says what it shows, an edit elsewhere (a refactoring, a checkout) is not the user typing there. */
  private clientReportsVisible = false;
  /** Documents a hover or lens asked about before their first analysis, newest last: treated as visible. */
  private readonly asked: string[] = [];

  constructor(private readonly backgroundSlots = DEFAULT_BACKGROUND_SLOTS) {}

  /**
   * 0 for the client's focused document (without lineage/visibleDocuments: the most recently edited),
   * 1 on screen or just asked about, 2 otherwise (JobPriority).
   */
  priorityOf(uri: string): number {
    if (uri === this.focused || (!this.clientReportsVisible && uri === this.typedIn?.uri)) return JobPriority.interactive;
    if (this.visible.has(uri) || this.asked.includes(uri)) return JobPriority.visible;
    return JobPriority.background;
  }

  /**
   * `uri` changed. Without a client report, the document being typed in is the one with the most
   * edits lately (a decaying count): a tool touching many files once (a rename, a checkout) does
   * not take that place from the file the user types in, while switching files hands it over in a
   * keystroke or two.
   */
  edited(uri: string, nowMs = Date.now()): void {
    this.editStamps.set(uri, this.nextEditStamp++);
    const score = this.editScore(uri, nowMs) + 1;
    this.recentEdits.set(uri, { score, atMs: nowMs });
    if (!this.typedIn || this.typedIn.uri === uri || score >= this.editScore(this.typedIn.uri, nowMs)) this.typedIn = { uri, score, atMs: nowMs };
    this.startUrgent();
  }

  private editScore(uri: string, nowMs: number): number {
    const last = this.recentEdits.get(uri);
    return last === undefined ? 0 : last.score * Math.exp(-(nowMs - last.atMs) / EDIT_SCORE_DECAY_MS);
  }

  /** What the client shows; a document brought on screen starts its waiting pass at once. */
  setVisible(uris: readonly string[], focused: string | undefined): void {
    this.visible = new Set(uris.slice(0, MAX_VISIBLE_DOCUMENTS));
    this.clientReportsVisible = true;
    this.focused = focused;
    this.startUrgent();
  }

  /** Runs `pass` now when the document is urgent or a background slot is free; else it waits, replacing the document's earlier waiting pass. */
  submit(uri: string, pass: AnalysisPass): void {
    this.waiting.delete(uri);
    if (this.priorityOf(uri) < JobPriority.background) {
      void pass();
      return;
    }
    this.waiting.set(uri, { uri, pass, sequence: this.nextSequence++ });
    this.startBackground();
  }

  /** Someone waits on the document's first analysis (a hover on it): its waiting pass starts now. */
  startNow(uri: string): void {
    if (!this.asked.includes(uri)) this.asked.push(uri);
    if (this.asked.length > MAX_ASKED_DOCUMENTS) this.asked.shift();
    const entry = this.waiting.get(uri);
    if (!entry) return;
    this.waiting.delete(uri);
    void entry.pass();
  }

  /** The document closed: its waiting pass is dropped (a running one is cancelled by its signal). */
  forget(uri: string): void {
    this.waiting.delete(uri);
    this.editStamps.delete(uri);
    const askedAt = this.asked.indexOf(uri);
    if (askedAt >= 0) this.asked.splice(askedAt, 1);
    this.recentEdits.delete(uri);
    if (this.typedIn?.uri === uri) this.typedIn = undefined;
  }

  /** Passes not started yet (for tests and logs). */
  get waitingCount(): number {
    return this.waiting.size;
  }

  private startUrgent(): void {
    for (const entry of [...this.waiting.values()]) {
      if (this.priorityOf(entry.uri) >= JobPriority.background) continue;
      this.waiting.delete(entry.uri);
      void entry.pass();
    }
  }

  private startBackground(): void {
    while (this.backgroundRunning < this.backgroundSlots) {
      const next = this.nextBackground();
      if (!next) return;
      this.waiting.delete(next.uri);
      this.backgroundRunning++;
      void next.pass().catch(() => undefined).then(() => {
        this.backgroundRunning--;
        this.startBackground();
      });
    }
  }

  /** Most recently edited first, then first submitted. */
  private nextBackground(): WaitingPass | undefined {
    let best: WaitingPass | undefined;
    let bestStamp = -1;
    for (const entry of this.waiting.values()) {
      const stamp = this.editStamps.get(entry.uri) ?? 0;
      if (!best || stamp > bestStamp || (stamp === bestStamp && entry.sequence < best.sequence)) {
        best = entry;
        bestStamp = stamp;
      }
    }
    return best;
  }
}
