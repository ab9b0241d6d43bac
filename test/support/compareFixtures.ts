// Writes fixture models to temp folders and compares them with the real engine (files on disk,
// the same path the CLI takes), so transformation tests exercise reading, fingerprinting and stats.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { closeSide, compareSides, loadSide } from '../../server/src/core/compare/compareModels';
import type { Comparison } from '../../server/src/core/compare/types';
import type { ModelTensors } from '../fixtures/modelTensors';
import { writeModelFolder, type ModelFolderFormat } from '../fixtures/writeModel';

export class FixtureFolders {
  private readonly root = mkdtempSync(path.join(tmpdir(), 'lineage-compare-'));
  private count = 0;

  async write(model: ModelTensors, format: ModelFolderFormat = 'safetensors', name = 'model'): Promise<string> {
    const folder = path.join(this.root, `${String(this.count++).padStart(3, '0')}-${name}`);
    await writeModelFolder(model, folder, { format });
    return folder;
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

export async function compareFolders(a: string, b: string): Promise<Comparison> {
  const sideA = await loadSide(a);
  try {
    const sideB = await loadSide(b);
    try {
      return await compareSides(sideA, sideB);
    } finally {
      await closeSide(sideB);
    }
  } finally {
    await closeSide(sideA);
  }
}

export function describeComparison(c: Comparison): string {
  return `${c.verdict} (log10 p ${c.lineageLog10P?.toFixed(1) ?? '-'}): ${c.reason}`;
}
