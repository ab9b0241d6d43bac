// Loads the real Comparison documents recorded from the CLI (test/fixtures/recorded/README.md).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Comparison } from '../../server/src/core/compare/types';

const RECORDED = path.resolve(__dirname, '..', 'fixtures', 'recorded');

export function recordedComparison(name: 'tiny-gpt2-vs-medical' | 'synthetic-llama-vs-finetuned'): Comparison {
  return JSON.parse(readFileSync(path.join(RECORDED, `${name}.comparison.json`), 'utf8')) as Comparison;
}
