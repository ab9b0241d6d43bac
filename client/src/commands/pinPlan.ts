// Which references "Pin All Revisions" touches: unpinned model references with a checked commit (cached
// snapshot or registry revision) the server's quick fix can pin to, grouped by document. Pure.
import type { ReferenceStatus } from '../../../server/src/protocol';

export interface PinTarget {
  reference: ReferenceStatus;
  commit: string;
}

export function pinTargetsByDocument(references: readonly ReferenceStatus[]): Map<string, PinTarget[]> {
  const byUri = new Map<string, PinTarget[]>();
  for (const reference of references) {
    // Bulk pinning writes only commits whose bytes were checked (cache, registry); the Hub's current
    // commit stays a per-reference quick fix the user reviews.
    const pin = reference.pin;
    const commit = pin && pin.origin !== 'hub' ? pin.commit : undefined;
    if (reference.pinned || commit === undefined || reference.kind === 'base-model-claim' || reference.kind === 'dataset') continue;
    const list = byUri.get(reference.uri) ?? [];
    list.push({ reference, commit });
    byUri.set(reference.uri, list);
  }
  return byUri;
}

/** A short list for a notification: the first few, then how many more. */
export function describeSkipped(skipped: readonly string[], shown = 3): string {
  if (skipped.length === 0) return '';
  const more = skipped.length > shown ? `, and ${skipped.length - shown} more (listed in the Lineage output)` : '';
  return `Not pinned: ${skipped.slice(0, shown).join('; ')}${more}.`;
}
