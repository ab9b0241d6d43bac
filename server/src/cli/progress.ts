// Wires engine progress callbacks to the TTY progress bar, only for work that reads more than a few MB.
import type { ExtractOptions } from '../core/fingerprint/extract';
import { ProgressBar } from './terminal';

const SHOW_ABOVE_BYTES = 4 * 1024 * 1024;

export function extractionProgress(label: string): { options: ExtractOptions; done(): void } {
  const bar = new ProgressBar(label);
  return {
    options: {
      onProgress: (bytesRead, plannedBytes) => {
        if (plannedBytes >= SHOW_ABOVE_BYTES) bar.update(bytesRead, plannedBytes);
      },
    },
    done: () => bar.finish(),
  };
}
