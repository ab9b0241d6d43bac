// Location of the shared zoo of real model files (../shared/zoo beside the repository).
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export const ZOO_DIR = path.resolve(__dirname, '..', '..', '..', 'shared', 'zoo');

export function zooPath(...parts: string[]): string {
  const p = path.join(ZOO_DIR, ...parts);
  if (!existsSync(p)) throw new Error(`zoo file missing: ${p} (tests expect ../shared/zoo beside the repository)`);
  return p;
}
