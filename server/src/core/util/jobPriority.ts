// How urgent a piece of work is, carried by its cancellation signal: every engine call already takes
// an AbortSignal, so queues (the worker pool, shared jobs) read the priority from it without new parameters.

/** Lower runs first. Work with no priority attached counts as `interactive`: someone waits on it now. */
export const JobPriority = {
  /** The document being edited, and requests a user made (compare, scan). */
  interactive: 0,
  /** Documents on screen. */
  visible: 1,
  /** Every other open document. */
  background: 2,
  /** Work nobody waits for (the start-up warm-up). */
  idle: 3,
} as const;

/** Read when a queue picks its next job, so a document brought to the front moves its queued work up. */
export type PriorityOf = () => number;

const prioritiesBySignal = new WeakMap<AbortSignal, PriorityOf>();

/** Attaches a (live) priority to `signal`; work started with that signal is queued by it. */
export function attachPriority(signal: AbortSignal, priority: PriorityOf): void {
  prioritiesBySignal.set(signal, priority);
}

/** The current priority of work started with `signal`. */
export function priorityOf(signal: AbortSignal | undefined): number {
  const priority = signal === undefined ? undefined : prioritiesBySignal.get(signal);
  return priority === undefined ? JobPriority.interactive : priority();
}

/**
 * Picks the entry to run next: the lowest priority, the earliest `sequence` among equals (FIFO
 * within a priority). Linear, since priorities change while entries wait; queues here are short.
 */
export function indexOfMostUrgent<T extends { sequence: number }>(entries: readonly T[], priority: (entry: T) => number): number {
  let best = -1;
  let bestPriority = Infinity;
  let bestSequence = Infinity;
  entries.forEach((entry, i) => {
    const p = priority(entry);
    if (p < bestPriority || (p === bestPriority && entry.sequence < bestSequence)) {
      best = i;
      bestPriority = p;
      bestSequence = entry.sequence;
    }
  });
  return best;
}
