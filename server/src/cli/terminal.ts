// Human output helpers for the CLI: aligned tables, number formatting and a TTY progress bar.
// Nothing here knows about models; commands pass plain rows.
import { maxOf } from '../core/util/arrays';

// Sizes and counts are worded once for every view (protocol/wording.ts).
import { formatBytes } from '../protocol';
export { formatBytes, formatCount } from '../protocol';

/** Renders rows as an aligned plain-text table (first row is the header). */
export function renderTable(rows: string[][], indent = '  '): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, col) => maxOf(rows.map((r) => (r[col] ?? '').length), 0));
  return rows
    .map((r, i) => {
      const line = indent + r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!))).join('  ');
      return i === 0 ? `${line}\n${indent}${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

/** Renders key/value facts, keys aligned. */
export function renderFacts(facts: Array<[string, string]>, indent = '  '): string {
  const width = maxOf(facts.map(([k]) => k.length), 0);
  return facts.map(([k, v]) => `${indent}${(k + ':').padEnd(width + 1)} ${v}`).join('\n');
}

/**
 * A progress bar on stderr, shown only when stderr is a TTY (CI logs stay clean).
 * `update(done, total)` in bytes; redraws at most every 100 ms.
 */
export class ProgressBar {
  private lastDrawMs = 0;
  private drawn = false;
  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    /** How amounts are shown: bytes by default, entry counts for imports. */
    private readonly format: (n: number) => string = formatBytes,
  ) {}

  get enabled(): boolean {
    return Boolean(this.stream.isTTY);
  }

  update(done: number, total: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDrawMs < 100 && done < total) return;
    this.lastDrawMs = now;
    const fraction = total > 0 ? Math.min(1, done / total) : 0;
    const width = 30;
    const filled = Math.round(fraction * width);
    this.stream.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.format(done)} / ${this.format(total)}`);
    this.drawn = true;
  }

  finish(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
