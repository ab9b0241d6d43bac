// Property tests over every reader (safetensors, GGUF, PyTorch zip, legacy pickle, ONNX,
// tokenizer.json, SentencePiece): mutated real bytes give a parsed result or a typed error naming
// the file, never a crash. A small fixed budget per format (and a fixed seed) keeps npm test fast;
// `npm run fuzz -- --format F --seconds N` runs the same property for long.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { caseArb, caseInput, checkCase, FUZZ_FORMATS, seedsFor } from './targets';

const RUNS_PER_FORMAT = 30;

describe('fuzz: mutated inputs never crash a reader', function () {
  this.timeout(60_000);
  for (const format of FUZZ_FORMATS) {
    it(`${format}: a parsed result or a typed error naming the file (${RUNS_PER_FORMAT} mutants)`, async () => {
      const seeds = seedsFor(format);
      for (const seed of seeds) assert.equal(await checkCase(format, seed), undefined, `${format}: an unmutated seed must be read`);
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const violation = await checkCase(format, caseInput(seeds, c));
          if (violation !== undefined) throw new Error(violation);
        }),
        { numRuns: RUNS_PER_FORMAT, seed: 12, endOnFailure: true },
      );
    });
  }
});
